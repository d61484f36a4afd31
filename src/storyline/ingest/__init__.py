"""Ingest: find input files, pick a reader by extension and content, and stream records.

``iter_inputs(["news/", "feed.xml"])`` yields ``RawDoc`` records and ``Problem`` notes in
a deterministic order (paths sorted); nothing is loaded whole that can be streamed.
"""

from __future__ import annotations

import glob
import gzip
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from storyline.ingest.decode import InputError, scrub
from storyline.ingest.limits import DEFAULT_LIMITS, Limits, cap_text, file_bytes
from storyline.ingest.readers import Item, read_feed, read_html, read_jsonl, read_text, read_warc
from storyline.records import Problem, RawDoc

__all__ = [
    "FORMATS",
    "InputError",
    "Limits",
    "detect_format",
    "expand_inputs",
    "iter_inputs",
    "read_file",
]

Reader = Callable[[Path, str, Limits], Iterator[Item]]

FORMATS: dict[str, Reader] = {
    "txt": read_text,
    "html": read_html,
    "jsonl": read_jsonl,
    "warc": read_warc,
    "rss": read_feed,
}

_EXTENSIONS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "txt",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".warc": "warc",
    ".arc": "warc",
    ".rss": "rss",
    ".atom": "rss",
    ".xml": "rss",
    ".rdf": "rss",
}


def detect_format(path: Path) -> str | None:
    """The reader for a file: by extension (``.gz`` looked through), else by its first bytes."""
    name = path.name.lower()
    if name.endswith(".meta.json"):
        return None  # a sidecar, read with its article
    stem = name[:-3] if name.endswith(".gz") else name
    ext = os.path.splitext(stem)[1]
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    return _sniff(path)


def _sniff(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if head[:2] == b"\x1f\x8b":
            try:
                with gzip.open(path, "rb") as gz:
                    head = gz.read(4096)
            except (OSError, EOFError):
                return "warc" if path.name.lower().endswith(".gz") else None
    except OSError:
        return "txt"  # let the reader report the error with its reason
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"warc/"):
        return "warc"
    if text.startswith(b"<?xml") or text.startswith(b"<rss") or text.startswith(b"<feed"):
        return "rss" if (b"<rss" in text or b"<feed" in text or b"<rdf" in text) else "html"
    if text.startswith(
        (b"<!doctype html", b"<html", b"<head", b"<body", b"<article", b"<div", b"<p")
    ):
        return "html"
    if text.startswith(b"{"):
        return "jsonl"
    return "txt"


def expand_inputs(inputs: Iterable[str], follow_symlinks: bool = False) -> Iterator[Path | Problem]:
    """Files named by paths, folders (recursively) and globs, sorted, hidden files skipped."""
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            files: list[Path] = []
            for root, dirs, names in os.walk(path, followlinks=follow_symlinks):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in names if not n.startswith("."))
            yield from sorted(files)
        elif path.exists() or path.is_symlink():
            yield path
        elif any(ch in spec for ch in "*?["):
            matches = sorted(glob.glob(spec, recursive=True))
            if not matches:
                yield Problem(spec, "pattern matches no file")
            for match in matches:
                yield from expand_inputs([match], follow_symlinks)
        else:
            yield Problem(spec, "no such file or folder")


def iter_inputs(
    inputs: Iterable[str], follow_symlinks: bool = False, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Item]:
    """Every article record and every problem found in the inputs, file after file."""
    for entry in expand_inputs(inputs, follow_symlinks):
        if isinstance(entry, Problem):
            yield entry
            continue
        yield from read_file(entry, limits=limits)


#: Formats read whole; the others stream record by record.
_WHOLE = ("txt", "html", "rss")


def read_file(
    path: Path, fmt: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Item]:
    """One file's records within the limits; any failure becomes a Problem naming the file."""
    fmt = fmt or detect_format(path)
    if fmt is None:
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield Problem(str(path), f"cannot read: {exc.strerror or exc}")
        return
    whole = fmt in _WHOLE or path.name.lower().endswith((".json", ".json.gz"))
    if whole and size > file_bytes(limits):
        yield Problem(
            str(path),
            f"file is {size / 2**20:.0f} MiB, over the {limits.max_file_mb:g} MiB limit for a "
            "file read whole ([ingest] max_file_mb)",
        )
        return
    try:
        for item in FORMATS[fmt](path, fmt, limits):
            if isinstance(item, RawDoc):
                yield from _capped(item, limits)
            else:
                yield item
    except InputError as exc:
        yield Problem(str(path), str(exc))
    except PermissionError as exc:
        yield Problem(str(path), f"cannot read: {exc.strerror or exc}")
    except OSError as exc:
        yield Problem(str(path), f"cannot read: {exc}")
    except Exception as exc:  # one bad file must never end the run
        yield Problem(str(path), f"unexpected {type(exc).__name__} while reading: {exc}")


def _capped(doc: RawDoc, limits: Limits) -> Iterator[Item]:
    """The article within the length limits, after a warning for each limit it hit, with
    characters no store takes (lone surrogates, control characters) replaced and flagged."""
    fixed = 0
    for name in ("raw", "text", "title", "url", "source", "author", "published"):
        value = getattr(doc, name)
        if isinstance(value, str):
            value, n = scrub(value)
            setattr(doc, name, value)
            fixed += n
    for i, line in enumerate(doc.removed):
        text, n = scrub(line.text)
        if n:
            doc.removed[i] = replace(line, text=text)
            fixed += n
    if fixed:
        doc.flags.append(f"text:unstorable-characters-replaced:{fixed}")
    text, removed, notes = cap_text(doc.text, limits)
    if notes:
        doc.text = text
        doc.removed = [*doc.removed, *removed]
        doc.flags.append("limit:cut")
        o = doc.origin
        for note in notes:
            yield Problem(o.path, note, line=o.line, record=o.record, severity="warning")
    yield doc
