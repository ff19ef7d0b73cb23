"""Job ids, injected like the clock: code that makes ids takes an `IdGenerator`."""

from __future__ import annotations

from collections.abc import Callable

from cuid2 import Cuid

IdGenerator = Callable[[], str]

_cuids = Cuid(length=24)


def new_cuid() -> str:
    """A collision-resistant id (cuid2) that does not leak creation order or host."""
    return str(_cuids.generate())
