"""Bytes to text: UTF-8 first, otherwise a detected encoding that is flagged, never dropped."""

from __future__ import annotations


class InputError(Exception):
    """An input that cannot be read as news; the message says why, the caller says where."""


_TEXT_CONTROL_OK = {9, 10, 12, 13, 27}


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the first 8 KiB mean this is not text."""
    head = data[:8192]
    if not head:
        return False
    if b"\x00" in head and not (head.startswith((b"\xff\xfe", b"\xfe\xff"))):
        return True
    controls = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROL_OK)
    return controls / len(head) > 0.05


def decode_bytes(data: bytes) -> tuple[str, str, list[str]]:
    """Decode bytes; returns (text, encoding, flags). Raises InputError for binary data."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig", []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16", ["encoding:utf-16"]
    if looks_binary(data):
        raise InputError("binary data, not text (NUL or control bytes)")
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        return data.decode("utf-8", errors="replace"), "utf-8", ["encoding:undetected-replaced"]
    return str(best), best.encoding, [f"encoding:{best.encoding}"]
