"""What leaves the service: card numbers masked, tokens and keys removed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api.schema import depth
from chalicelib.core.redact import card_numbers, luhn_valid, redact
from chalicelib.dkt.text import clipped, quoted


def with_check_digit(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tarjeta 4539578763621486 inválida", "tarjeta ************1486 inválida"),
        ("4539 5787 6362 1486", "************1486"),
        ("4539-5787-6362-1486.", "************1486."),
        ("amex 378282246310005", "amex ***********0005"),
        ("cupón 4539578763621487", "cupón 4539578763621487"),  # fails Luhn: not a card
        ("importe 163690207.21, cuit 30999999991", "importe 163690207.21, cuit 30999999991"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redactado]"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key [redactado] used"),
        ("https://s3/x?X-Amz-Signature=abcd&a=1", "https://s3/x?X-Amz-Signature=[redactado]&a=1"),
    ],
)
def test_redact_masks_cards_and_drops_tokens(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_jwt_is_removed_wherever_it_is() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJl"
    assert redact(f"token={token};") == "token=[redactado];"


@given(st.integers(min_value=12, max_value=18), st.randoms())
def test_every_luhn_valid_run_of_13_to_19_digits_is_masked(length: int, rnd: object) -> None:
    body = "".join(str(rnd.randint(0, 9)) for _ in range(length))  # type: ignore[attr-defined]
    card = with_check_digit(body)
    masked = redact(f"x{card}y")
    assert card not in masked and masked.endswith(card[-4:] + "y")
    assert card_numbers(masked) == []


@pytest.mark.parametrize(
    ("data", "expected"), [(1, 0), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[[[]]]], 4)]
)
def test_depth_counts_nesting_without_recursion(data: object, expected: int) -> None:
    assert depth(data) == expected


def test_depth_of_a_very_deep_value_does_not_recurse() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert depth(deep) == 100_001


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R" * 100, "R" * 63 + "…"),
        ("x" * 60 + "4539578763621486", "x" * 60 + "…"),  # never a card's head alone
        ("x" * 50 + "4539 5787 6362 1486 77", "x" * 50 + "…"),
        ("corto", "corto"),
    ],
)
def test_clipped_cuts_at_the_limit_but_never_inside_a_run_of_digits(
    text: str, expected: str
) -> None:
    assert clipped(text) == expected


@given(st.text(max_size=300))
def test_a_quote_is_never_longer_than_its_limit(text: str) -> None:
    assert len(quoted(text)) <= 64 and len(clipped(text)) <= 64
