"""One reader per input format. Each streams ``RawDoc`` records and ``Problem`` notes.

A reader never raises for bad content: it reports the file (and line or record) and
what is wrong, skips that part, and goes on with the rest.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storyline.ingest.dates import parse_published
from storyline.ingest.decode import InputError, decode_bytes, scrub
from storyline.ingest.htmltext import extract_html, html_blocks
from storyline.ingest.limits import (
    DEFAULT_LIMITS,
    Expansion,
    Limits,
    bounded_open,
    file_bytes,
    html_depth,
    read_capped,
    record_bytes,
)
from storyline.records import Origin, Problem, RawDoc, RemovedLine

Item = RawDoc | Problem

_META_KEYS = {"title", "source", "outlet", "url", "published", "date", "author", "site"}
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n---[ \t]*\n", re.S)
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z _-]{1,20}):[ \t]*(.+?)\s*$")
_DATE_MARKER = re.compile(r"\A(\s*)date[ \t]+(\d{4}-\d{2}-\d{2})\b[ \t]*")


def _read_all(path: Path, limits: Limits) -> bytes:
    """A file read whole (decompressed within the limits), up to ``max_file_mb``."""
    with bounded_open(path, limits) as fh:
        try:
            return read_capped(fh, file_bytes(limits), "file", "max_file_mb")
        except EOFError as exc:
            raise InputError(f"truncated compressed file ({exc})") from exc
        except InputError:
            raise
        except OSError as exc:
            raise InputError(f"corrupt compressed file ({exc})") from exc


def _apply_meta(doc: RawDoc, meta: dict[str, Any]) -> None:
    doc.title = doc.title or _str(meta.get("title"))
    doc.url = doc.url or _str(meta.get("url"))
    doc.source = doc.source or _str(meta.get("source") or meta.get("outlet") or meta.get("site"))
    doc.author = doc.author or _str(meta.get("author"))
    published = meta.get("published") if meta.get("published") is not None else meta.get("date")
    if doc.published is None and published not in (None, ""):
        doc.published = parse_published(published)
        if doc.published is None:
            doc.flags.append(f"published:unparsable:{published}")


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _parse_header(block: str) -> dict[str, str] | None:
    meta: dict[str, str] = {}
    for line in block.splitlines():
        m = _HEADER_LINE.match(line)
        if not m or m.group(1).strip().lower() not in _META_KEYS:
            return None
        meta[m.group(1).strip().lower()] = m.group(2)
    return meta


def read_text(path: Path, fmt: str = "txt", limits: Limits = DEFAULT_LIMITS) -> Iterator[Item]:
    """Plain text, with optional sidecar ``NAME.meta.json``, front matter or header block."""
    origin = Origin(str(path), format=fmt)
    data = _read_all(path, limits)
    if not data.strip():
        yield Problem(str(path), "empty file")
        return
    raw, encoding, flags = decode_bytes(data)
    if not raw.strip():
        yield Problem(str(path), "empty file (only whitespace)")
        return
    doc = RawDoc(raw=raw, text=raw, origin=origin, encoding=encoding, flags=list(flags))
    body = raw.lstrip("\ufeff")
    removed: list[RemovedLine] = []
    fm = _FRONT_MATTER.match(body)
    if fm:
        meta = _parse_header(fm.group(1)) or {}
        _apply_meta(doc, meta)
        removed.append(RemovedLine(1, fm.group(0).strip(), "metadata header"))
        body = body[fm.end() :]
    else:
        head, sep, rest = body.partition("\n\n")
        meta_block = _parse_header(head.strip()) if sep else None
        # Two or more known keys make a header block; a lone "Source: CNN" is a credit.
        if meta_block and len(meta_block) >= 2:
            _apply_meta(doc, meta_block)
            removed.append(RemovedLine(1, head.strip(), "metadata header"))
            body = rest
    sidecar = _sidecar(path)
    if sidecar is not None:
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
            _apply_meta(doc, meta)
        except (OSError, ValueError) as exc:
            yield Problem(str(sidecar), f"sidecar metadata ignored: {exc}", severity="warning")
    marker = _DATE_MARKER.match(body)
    if marker:
        if doc.published is None:
            doc.published = parse_published(marker.group(2))
        removed.append(
            RemovedLine(1, f"date {marker.group(2)}", "date marker: now the published date")
        )
        body = body[marker.end() :]
    doc.text = body
    doc.removed = removed
    if not body.strip():
        yield Problem(str(path), "no article text after the metadata header")
        return
    yield doc


def _sidecar(path: Path) -> Path | None:
    name = path.name
    for suffix in (".txt.gz", ".txt", ".text", ".md", ".html", ".htm"):
        if name.lower().endswith(suffix):
            candidate = path.with_name(name[: -len(suffix)] + ".meta.json")
            return candidate if candidate.exists() else None
    return None


def read_html(path: Path, fmt: str = "html", limits: Limits = DEFAULT_LIMITS) -> Iterator[Item]:
    data = _read_all(path, limits)
    if not data.strip():
        yield Problem(str(path), "empty file")
        return
    html, encoding, flags = decode_bytes(data)
    yield from _html_doc(
        html,
        Origin(str(path), format=fmt),
        encoding,
        flags,
        url=None,
        limits=limits,
        sidecar=_sidecar(path),
    )


def _html_doc(
    html: str,
    origin: Origin,
    encoding: str,
    flags: list[str],
    url: str | None,
    limits: Limits,
    sidecar: Path | None = None,
    meta: dict[str, Any] | None = None,
) -> Iterator[Item]:
    html, _ = scrub(html)  # lxml takes no control characters or lone surrogates
    depth = html_depth(html, limits.max_html_depth)
    if depth > limits.max_html_depth:
        yield Problem(
            origin.path,
            f"HTML elements nested more than {limits.max_html_depth} deep "
            "(limit [ingest] max_html_depth; the HTML parser stops at 256)",
            line=origin.line,
            record=origin.record,
        )
        return
    try:
        page = extract_html(html, url=url)
    except Exception as exc:  # a parser failure on one page must not end the run
        yield Problem(
            origin.path, f"HTML could not be parsed: {exc}", line=origin.line, record=origin.record
        )
        return
    if not page.text.strip():
        yield Problem(
            origin.path, "no article text found in the HTML", line=origin.line, record=origin.record
        )
        return
    doc = RawDoc(
        raw=html,
        text=page.text,
        origin=origin,
        encoding=encoding,
        flags=[*flags, *page.flags],
        removed=page.removed,
    )
    if meta:
        _apply_meta(doc, meta)
    if sidecar is not None:
        try:
            side = json.loads(sidecar.read_text(encoding="utf-8"))
            if isinstance(side, dict):
                _apply_meta(doc, side)
        except (OSError, ValueError) as exc:
            yield Problem(str(sidecar), f"sidecar metadata ignored: {exc}", severity="warning")
    doc.title = doc.title or page.title
    doc.url = doc.url or page.url
    doc.source = doc.source or page.source
    doc.published = doc.published or page.published
    doc.author = doc.author or page.author
    yield doc


def read_jsonl(path: Path, fmt: str = "jsonl", limits: Limits = DEFAULT_LIMITS) -> Iterator[Item]:
    """JSON Lines (one article per line), or a .json file holding one object or a list."""
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        yield from _read_json_whole(path, fmt, limits)
        return
    saw_any = False
    cap = record_bytes(limits)
    with bounded_open(path, limits) as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline(cap + 1)
                long_line = len(line) > cap
                while long_line and line and not line.endswith(b"\n"):
                    line = fh.readline(1 << 20)  # the rest of a line too long to read
            except (EOFError, OSError) as exc:
                yield Problem(
                    str(path), f"truncated or corrupt compressed file ({exc})", line=lineno + 1
                )
                return
            except InputError as exc:
                yield Problem(str(path), f"{exc} (after line {lineno})", line=lineno + 1)
                return
            if not line and not long_line:
                break
            lineno += 1
            if long_line:
                saw_any = True
                yield Problem(
                    str(path),
                    f"line is over the {limits.max_record_mb:g} MiB limit for one record "
                    "([ingest] max_record_mb)",
                    line=lineno,
                )
                continue
            if not line.strip():
                continue
            saw_any = True
            try:
                text, _, _ = decode_bytes(line)
                record = json.loads(text)
            except (InputError, ValueError) as exc:
                yield Problem(str(path), f"malformed JSON line: {exc}", line=lineno)
                continue
            yield from _json_record(record, Origin(str(path), line=lineno, format=fmt), limits)
    if not saw_any:
        yield Problem(str(path), "empty file")


def _read_json_whole(path: Path, fmt: str, limits: Limits) -> Iterator[Item]:
    data = _read_all(path, limits)
    if not data.strip():
        yield Problem(str(path), "empty file")
        return
    try:
        text, _, _ = decode_bytes(data)
        payload = json.loads(text)
    except (InputError, ValueError) as exc:
        yield Problem(str(path), f"malformed JSON: {exc}")
        return
    records = payload if isinstance(payload, list) else [payload]
    for i, record in enumerate(records):
        yield from _json_record(record, Origin(str(path), record=i, format=fmt), limits)


def _json_record(record: Any, origin: Origin, limits: Limits) -> Iterator[Item]:
    if not isinstance(record, dict):
        yield Problem(
            origin.path, "record is not a JSON object", line=origin.line, record=origin.record
        )
        return
    text = record.get("text")
    html = record.get("html")
    if isinstance(html, str) and html.strip() and not (isinstance(text, str) and text.strip()):
        yield from _html_doc(
            html, origin, "utf-8", [], url=_str(record.get("url")), limits=limits, meta=record
        )
        return
    if not isinstance(text, str) or not text.strip():
        yield Problem(
            origin.path,
            "record has no 'text' or 'html' field with content",
            line=origin.line,
            record=origin.record,
        )
        return
    doc = RawDoc(
        raw=json.dumps(record, ensure_ascii=False, sort_keys=True), text=text, origin=origin
    )
    _apply_meta(doc, record)
    yield doc


def read_warc(path: Path, fmt: str = "warc", limits: Limits = DEFAULT_LIMITS) -> Iterator[Item]:
    """WARC / WARC.GZ: HTML response records become articles; other records are counted.

    Each record's declared length counts towards the file's expansion limits before it is
    read, and a response body over ``max_record_mb`` is skipped without being read."""
    from warcio.archiveiterator import ArchiveIterator

    ignored: dict[str, int] = {}
    cut = False
    index = -1
    responses = 0
    with open(path, "rb") as fh:
        expansion = Expansion(fh, limits)
        try:
            for index, rec in enumerate(ArchiveIterator(fh)):
                declared = rec.length or 0
                try:
                    expansion.count(declared)
                except InputError as exc:
                    cut = True
                    yield Problem(str(path), f"{exc} (at record {index})", record=index)
                    break
                if rec.rec_type != "response":
                    # warcinfo, request, metadata and revisit records describe the crawl.
                    if rec.rec_type in ("resource", "conversion"):
                        ignored[rec.rec_type] = ignored.get(rec.rec_type, 0) + 1
                    continue
                responses += 1
                url = rec.rec_headers.get_header("WARC-Target-URI")
                ctype = (
                    rec.http_headers.get_header("Content-Type") if rec.http_headers else ""
                ) or ""
                status = rec.http_headers.get_statuscode() if rec.http_headers else "200"
                if "html" not in ctype.lower():
                    key = f"response {ctype.split(';')[0] or 'without content type'}"
                    ignored[key] = ignored.get(key, 0) + 1
                    continue
                if status and not str(status).startswith("2"):
                    yield Problem(str(path), f"HTTP status {status} for {url}", record=index)
                    continue
                if declared > record_bytes(limits):
                    yield Problem(
                        str(path),
                        f"record of {declared} bytes ({url}) is over the "
                        f"{limits.max_record_mb:g} MiB limit ([ingest] max_record_mb)",
                        record=index,
                    )
                    continue
                body = rec.content_stream().read(record_bytes(limits) + 1)
                if len(body) > record_bytes(limits):
                    yield Problem(
                        str(path),
                        f"response body of {url} is over the {limits.max_record_mb:g} MiB limit "
                        "([ingest] max_record_mb)",
                        record=index,
                    )
                    continue
                origin = Origin(str(path), record=index, format=fmt)
                if getattr(rec.raw_stream, "limit", 0) > 0:
                    cut = True
                    yield Problem(
                        str(path),
                        f"truncated WARC: record {index} ({url}) ends {rec.raw_stream.limit} bytes short",
                        record=index,
                    )
                    continue
                if not body.strip():
                    yield Problem(str(path), f"empty response body for {url}", record=index)
                    continue
                charset = _charset(ctype)
                flags: list[str] = []
                try:
                    if charset:
                        html, encoding, flags = body.decode(charset), charset, []
                    else:
                        html, encoding, flags = decode_bytes(body)
                except (LookupError, UnicodeDecodeError, InputError):
                    try:
                        html, encoding, flags = decode_bytes(body)
                    except InputError as exc:
                        yield Problem(str(path), f"{exc} ({url})", record=index)
                        continue
                yield from _html_doc(html, origin, encoding, flags, url=url, limits=limits)
        except Exception as exc:  # warcio raises several types for cut or corrupt archives
            cut = True
            yield Problem(
                str(path),
                f"truncated or corrupt WARC after record {index}: {type(exc).__name__}: {exc}",
                record=index + 1,
            )
    if index >= 0 and not cut and (reason := _warc_cut(path, limits)):
        yield Problem(
            str(path), f"truncated or corrupt WARC after record {index}: {reason}", record=index + 1
        )
    if index < 0:
        yield Problem(str(path), "no WARC records found")
    if ignored:
        detail = ", ".join(f"{n} {k}" for k, n in sorted(ignored.items()))
        yield Problem(
            str(path),
            f"records that are not HTML responses were not read as articles: {detail}",
            severity="warning",
        )


def _warc_cut(path: Path, limits: Limits) -> str | None:
    """Why a WARC ends early, or None. warcio stops quietly at a cut gzip member."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        return None
    try:
        with bounded_open(path, limits, gzipped=True) as gz:
            while gz.read(1 << 20):
                pass
    except (EOFError, OSError) as exc:
        return f"compressed stream ends early ({exc})"
    except InputError as exc:
        return str(exc)
    return None


def _charset(content_type: str) -> str | None:
    m = re.search(r"charset=([\w.:-]+)", content_type, re.I)
    return m.group(1) if m else None


def xml_hazard(data: bytes) -> str | None:
    """Why an XML document must not be parsed, or None: entity declarations (billion laughs,
    quadratic blow-up) and external entities or DTDs (``file:///etc/passwd``) are refused by
    defusedxml before any parser could expand them."""
    import defusedxml.ElementTree as safe_tree
    from defusedxml import DefusedXmlException

    try:
        safe_tree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # not well-formed: the feed reader says what it can read of it
        return None
    return None


def read_feed(path: Path, fmt: str = "rss", limits: Limits = DEFAULT_LIMITS) -> Iterator[Item]:
    """RSS and Atom feeds: each item is an article, with its full content where present.

    A feed that declares XML entities or refers to external ones is not read (and said so):
    expanding them is how a feed exhausts memory or reads the server's files."""
    import feedparser

    data = _read_all(path, limits)
    if not data.strip():
        yield Problem(str(path), "empty file")
        return
    hazard = xml_hazard(data)
    if hazard:
        yield Problem(
            str(path),
            f"feed declares XML entities or external references ({hazard}): "
            "entity expansion is disabled",
        )
        return
    parsed = feedparser.parse(io.BytesIO(data))
    entries = parsed.get("entries") or []
    if parsed.get("bozo") and not entries:
        yield Problem(str(path), f"malformed feed: {parsed.get('bozo_exception')}")
        return
    if parsed.get("bozo"):
        yield Problem(
            str(path),
            f"feed is not well-formed, read what could be parsed: {parsed.get('bozo_exception')}",
            severity="warning",
        )
    if not entries:
        yield Problem(str(path), "feed has no items")
        return
    outlet = _str(parsed.get("feed", {}).get("title"))
    for i, entry in enumerate(entries):
        try:
            # An aggregator's feed names each item's outlet (RSS <source>, Atom <source><title>).
            own = _str((entry.get("source") or {}).get("title"))
            yield from _feed_item(path, fmt, i, entry, own or outlet)
        except Exception as exc:  # one bad item must not lose the rest of the feed
            yield Problem(
                str(path), f"feed item could not be read: {type(exc).__name__}: {exc}", record=i
            )


def _feed_item(path: Path, fmt: str, i: int, entry: Any, outlet: str | None) -> Iterator[Item]:
    """One feed item as an article, or the Problem that says why not."""
    origin = Origin(str(path), record=i, format=fmt)
    html = ""
    flags: list[str] = []
    if entry.get("content"):
        html = "\n".join(c.get("value", "") for c in entry["content"])
    elif entry.get("summary"):
        html = entry.get("summary", "")
        flags.append("feed:summary-only")
    blocks = html_blocks(html) if html.strip() else []
    paragraphs = [b.text for b in blocks if b.link_density <= 0.5]
    removed = [
        RemovedLine(n, b.text, "link-dense line (feed footer or navigation)")
        for n, b in enumerate(blocks, start=1)
        if b.link_density > 0.5
    ]
    if not paragraphs:
        yield Problem(str(path), f"feed item {entry.get('link') or i} has no text", record=i)
        return
    published = None
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        if entry.get(key):
            published = parse_published(entry[key])
            break
    raw = json.dumps(
        {k: entry.get(k) for k in ("title", "link", "id", "published", "updated", "author")}
        | {"content": html},
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    yield RawDoc(
        raw=raw,
        text="\n\n".join(paragraphs),
        origin=origin,
        title=_str(entry.get("title")),
        url=_str(entry.get("link")),
        source=outlet,
        published=published,
        author=_str(entry.get("author")),
        flags=flags,
        removed=removed,
    )
