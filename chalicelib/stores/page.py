"""One page of a listing: what the stores hand back instead of a list and a cursor apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """The items of one page, in the listing's order, and the cursor of the next, if any."""

    items: list[T]
    next_cursor: str | None
