"""Streaming lines from a byte offset in ranged windows (no AWS: a fake store)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.storage import MAX_LINE_BYTES, LineCursor, RawLine


class BytesStore:
    """Serves ranged reads from bytes and counts them, as S3 would."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []

    def read_range(self, key: str, start: int, end: int, etag: str | None = None) -> bytes:
        self.reads.append((start, end))
        return self.data[start:end]


def cursor(data: bytes, start: int = 0, window: int = 16) -> tuple[LineCursor, BytesStore]:
    store = BytesStore(data)
    return LineCursor(store, "k", start, len(data), window), store  # type: ignore[arg-type]


def test_lines_and_offsets_match_the_file() -> None:
    data = b"uno\ndos\r\n\ntres"
    lines, _ = cursor(data, window=3)

    assert lines.take(10) == [
        RawLine(b"uno", 4),
        RawLine(b"dos\r", 9),
        RawLine(b"", 10),
        RawLine(b"tres", 14),
    ]
    assert lines.position == 14


def test_take_stops_at_count_and_the_position_is_where_the_next_line_starts() -> None:
    data = b"a\nbb\nccc\n"
    lines, _ = cursor(data)

    assert lines.take(2) == [RawLine(b"a", 2), RawLine(b"bb", 5)]
    assert lines.position == 5
    assert lines.take(5) == [RawLine(b"ccc", 9)]
    assert lines.take(5) == []


def test_resuming_from_an_offset_reads_only_from_there() -> None:
    data = b"first line\nsecond\nthird\n"
    lines, store = cursor(data, start=11, window=4)

    assert [line.data for line in lines.take(5)] == [b"second", b"third"]
    assert store.reads[0][0] == 11


def test_reads_are_bounded_windows_not_the_whole_file() -> None:
    data = b"x" * 50 + b"\n"
    lines, store = cursor(data * 100, window=64)

    lines.take(3)

    assert all(end - start <= 64 for start, end in store.reads)
    assert store.reads[-1][1] <= 3 * 51 + 64


def test_a_line_longer_than_the_limit_is_reported_not_buffered() -> None:
    long_line = b"z" * (MAX_LINE_BYTES * 3)
    data = b"ok\n" + long_line + b"\nafter\n" + long_line
    lines, _ = cursor(data, window=1024)

    result = lines.take(10)

    assert [(line.data, line.too_long) for line in result] == [
        (b"ok", False),
        (b"", True),
        (b"after", False),
        (b"", True),
    ]
    assert result[1].end == 3 + len(long_line) + 1
    assert result[-1].end == len(data)


@settings(deadline=None, max_examples=200)
@given(
    data=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")),
    window=st.integers(min_value=1, max_value=40),
    take=st.integers(min_value=1, max_value=7),
)
def test_any_windowing_yields_the_same_lines_as_splitting(
    data: bytes, window: int, take: int
) -> None:
    lines, _ = cursor(data, window=window)
    seen: list[bytes] = []
    while batch := lines.take(take):
        seen += [line.data for line in batch]

    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    assert seen == expected
    assert lines.position == len(data)
