"""How much of an input storyline will read: sizes, expansion, nesting and length caps.

Inputs come from the open web. A file that is too big, a gzip member that expands without
end, a JSONL line of a gigabyte or a page nested ten thousand levels deep is reported with
the limit it hit (and the setting that raises it), and the rest of the run goes on.
Everything here streams: no limit is checked by first reading the whole input.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from pathlib import Path
from typing import IO, Any

from storyline.config import IngestSettings
from storyline.ingest.decode import InputError
from storyline.records import RemovedLine

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "bounded_open",
    "cap_text",
    "file_bytes",
    "html_depth",
    "read_capped",
    "record_bytes",
]

MiB = 1024 * 1024
#: Expansion is judged only past this much output: a small file may expand a lot harmlessly.
_RATIO_GRACE = 16 * MiB
_CHUNK = 1 << 16


#: The limits are the ``[ingest]`` settings: one definition, with their defaults and comments,
#: in ``storyline.config.IngestSettings``.
Limits = IngestSettings


def file_bytes(limits: Limits) -> int:
    """The most a file read whole may hold, in bytes."""
    return int(limits.max_file_mb * MiB)


def record_bytes(limits: Limits) -> int:
    """The most one record of a streamed file may hold, in bytes."""
    return int(limits.max_record_mb * MiB)


DEFAULT_LIMITS = Limits()


class Expansion:
    """Counts what a compressed stream gave against what it read; raises past a limit."""

    def __init__(self, raw: IO[bytes], limits: Limits) -> None:
        self.raw, self.limits, self.out = raw, limits, 0

    def count(self, n: int) -> None:
        self.out += n
        total = self.limits.max_decompressed_mb * MiB
        if self.out > total:
            raise InputError(
                f"decompresses to more than {self.limits.max_decompressed_mb:g} MiB "
                "(limit [ingest] max_decompressed_mb); the rest was not read"
            )
        if self.out > _RATIO_GRACE:
            consumed = max(1, self.raw.tell())
            if self.out / consumed > self.limits.max_expansion:
                raise InputError(
                    f"expands {self.out / consumed:.0f} times ({consumed} bytes to {self.out}), "
                    f"more than the limit of {self.limits.max_expansion:g} "
                    "([ingest] max_expansion): a decompression bomb? the rest was not read"
                )


class _BoundedGzip(io.RawIOBase):
    """A gzip file read through :class:`Expansion`: never more than a chunk at a time."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._gz = gzip.GzipFile(fileobj=self._raw)
        self._expansion = Expansion(self._raw, limits)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._gz.read1(min(len(view), _CHUNK))
        except EOFError as exc:
            raise InputError(f"truncated compressed file ({exc})") from exc
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(f"corrupt compressed data ({exc})") from exc
        view[: len(data)] = data
        self._expansion.count(len(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._gz.close()
            self._raw.close()
        super().close()


def bounded_open(path: Path, limits: Limits, gzipped: bool | None = None) -> IO[bytes]:
    """A binary file, decompressed (within the limits) when gzipped: by default, when its
    name ends in .gz."""
    if path.name.lower().endswith(".gz") if gzipped is None else gzipped:
        return io.BufferedReader(_BoundedGzip(path, limits), buffer_size=_CHUNK)
    return open(path, "rb")


def read_capped(fh: IO[bytes], cap: int, what: str, setting: str) -> bytes:
    """All of ``fh``, or InputError when that is more than ``cap`` bytes."""
    data = fh.read(cap + 1)
    if len(data) > cap:
        raise InputError(f"{what} is over the {cap / MiB:g} MiB limit ([ingest] {setting})")
    return data


# -- HTML nesting -------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
#: Elements with no content, and elements whose end tag may be left out (a page of
#: unclosed <p> is not deep): neither counts towards the depth.
_FLAT = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "option", "tr", "td", "th", "thead",
    "tbody", "tfoot", "colgroup", "optgroup", "rb", "rt", "rp", "rtc", "html", "head", "body",
}  # fmt: skip


def html_depth(html: str, stop: int) -> int:
    """How deep the page's elements nest, counted up to ``stop`` (enough to say "over")."""
    depth = deepest = 0
    for m in _TAG.finditer(html):
        name = m.group(2).lower()
        if name in _FLAT or m.group(3):
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop:
                    break
    return deepest


# -- article text -------------------------------------------------------------------------


def cap_text(text: str, limits: Limits) -> tuple[str, list[RemovedLine], list[str]]:
    """The text within the length caps, what was cut (as removed lines), and why (notes)."""
    removed: list[RemovedLine] = []
    notes: list[str] = []
    if len(text) > limits.max_article_chars:
        cut = text.rfind("\n", 0, limits.max_article_chars)
        cut = cut if cut > limits.max_article_chars // 2 else limits.max_article_chars
        notes.append(
            f"article text is {len(text)} characters, over the limit of "
            f"{limits.max_article_chars} ([ingest] max_article_chars): read the first {cut}"
        )
        removed.append(
            RemovedLine(
                text.count("\n", 0, cut) + 1,
                _preview(text[cut:]),
                f"past the article length limit ({len(text) - cut} characters not read)",
            )
        )
        text = text[:cut]
    if len(text) > limits.max_line_chars and any(
        len(line) > limits.max_line_chars for line in text.split("\n")
    ):
        lines = text.split("\n")
        for n, line in enumerate(lines, start=1):
            if len(line) > limits.max_line_chars:
                rest = line[limits.max_line_chars :]
                lines[n - 1] = line[: limits.max_line_chars]
                removed.append(
                    RemovedLine(
                        n,
                        _preview(rest),
                        f"past the line length limit ({len(rest)} characters not read)",
                    )
                )
                notes.append(
                    f"line {n} is {len(line)} characters, over the limit of "
                    f"{limits.max_line_chars} ([ingest] max_line_chars): read the first "
                    f"{limits.max_line_chars}"
                )
        text = "\n".join(lines)
    return text, removed, notes


def _preview(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[:n] + "…"
