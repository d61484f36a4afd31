"""Bytes to text: UTF-8 first, otherwise a detected encoding that is flagged, never dropped."""

from __future__ import annotations

import re

#: Characters no store or parser takes: C0 controls (but tab, newlines and form feed), DEL,
#: and lone surrogates (JSON's "\ud800" escapes decode to them).
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")


def scrub(text: str) -> tuple[str, int]:
    """``text`` with lone surrogates as U+FFFD and control characters dropped; how many."""
    found = 0

    def fix(m: re.Match[str]) -> str:
        nonlocal found
        found += 1
        return "\ufffd" if m.group(0) >= "\ud800" else ""

    return (_UNSTORABLE.sub(fix, text), found) if _UNSTORABLE.search(text) else (text, 0)


class InputError(Exception):
    """An input that cannot be read as news; the message says why, the caller says where."""


_TEXT_CONTROL_OK = {9, 10, 12, 13, 27}
_WESTERN = ("cp1252", "latin_1", "iso8859_15")


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

    candidates = list(from_bytes(data))
    if not candidates:
        return data.decode("utf-8", errors="replace"), "utf-8", ["encoding:undetected-replaced"]
    best = candidates[0]
    # Undeclared legacy text on the web is most often windows-1252 (as the WHATWG encoding
    # standard assumes): prefer it when it reads about as cleanly as the detector's pick.
    for cand in candidates:
        if cand.encoding in _WESTERN and cand.chaos <= best.chaos + 0.05:
            best = cand
            break
    return str(best), best.encoding, [f"encoding:{best.encoding}"]
