"""What a file is when it is not a DKT statement, told from its first bytes.

A DKT file is text: lines of comma-separated fields ending in LF or CRLF, in UTF-8 or
Windows-1252. Users send what their tools give them (a zip of the statement, an Excel
export, a UTF-16 "Unicode text", a file saved with classic-Mac CR line endings); each
would otherwise fail line by line ("línea demasiado larga", "no es UTF-8"), which does
not say what to do. Checked once, on the head of the file, before any line is read.
"""

from __future__ import annotations

from typing import Final

# Enough for several lines (a DKT line is about 300 bytes).
HEAD_BYTES: Final = 4096

_SIGNATURES: Final = (
    (b"PK\x03\x04", "es un archivo comprimido ZIP (o un Excel .xlsx); extraiga el .dkt"),
    (b"\x1f\x8b", "es un archivo comprimido GZIP; descomprímalo y suba el .dkt"),
    (b"%PDF", "es un PDF; suba el archivo DKT de texto que envía el procesador"),
    (b"\xd0\xcf\x11\xe0", "es un documento de Office (.xls o .doc); suba el archivo DKT"),
    (b"Rar!", "es un archivo comprimido RAR; extraiga el .dkt"),
    (b"7z\xbc\xaf", "es un archivo comprimido 7z; extraiga el .dkt"),
)
_UTF16: Final = "está en UTF-16 (texto «Unicode»); guárdelo como UTF-8 o ANSI y vuelva a subirlo"


def not_a_dkt(head: bytes, whole_file: bool) -> str | None:
    """Why the file that starts with `head` cannot be a DKT statement, or None.

    `whole_file` says `head` is the whole file (so a missing line end is no sign).
    The reason is Spanish, for the user, and starts with what the file is.
    """
    for signature, reason in _SIGNATURES:
        if head.startswith(signature):
            return f"El archivo {reason}."
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(head):
        return f"El archivo {_UTF16}."
    if head.count(0) > len(head) // 10:  # a stray NUL or two are line errors, not this
        return "El archivo es binario (tiene bytes nulos); no es un archivo DKT de texto."
    if _cr_only(head, whole_file):
        return (
            "Las líneas del archivo terminan solo con CR (formato Mac antiguo); "
            "guárdelo con finales de línea LF o CRLF y vuelva a subirlo."
        )
    return None


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: ASCII text with a NUL at every other byte."""
    sample = head[:512]
    if len(sample) < 4:
        return False
    return any(half.count(0) >= 0.9 * len(half) for half in (sample[0::2], sample[1::2]))


def _cr_only(head: bytes, whole_file: bool) -> bool:
    """Text whose lines end in CR alone: a CR with more after it, no LF anywhere, and no
    other control byte (binary junk has CRs too)."""
    if b"\n" in head or b"\r" not in (head.rstrip(b"\r") if whole_file else head):
        return False
    text = head.replace(b"\r", b"")
    return not any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in text)
