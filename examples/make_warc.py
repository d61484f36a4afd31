#!/usr/bin/env python3
"""Build the example WARC file from the HTML pages in examples/warc_src/.

Standard library only. The output is deterministic: record ids are uuid5 of
the target URL (or of a fixed name for the warcinfo record) and capture
times are fixed, so re-running the script reproduces the same bytes.

    python3 examples/make_warc.py           # write corpus/warc/<name>.warc, then check it
    python3 examples/make_warc.py --check   # only parse and validate the existing file

Every page in warc_src/ must carry its URL in <link rel="canonical"> or
<meta property="og:url">. The pages are invented examples for the project.
"""
import argparse
import base64
import hashlib
import re
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "warc_src"
OUT = HERE / "corpus" / "warc" / "newsdesk-capture-2026-03-19.warc"
CAPTURE_START = datetime(2026, 3, 19, 6, 0, 0, tzinfo=timezone.utc)
CRLF = b"\r\n"


def record_id(name: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}>"


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def warc_date(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(dt: datetime) -> str:
    return dt.strftime("%a, %d %b %Y %H:%M:%S GMT")


def page_url(html: str) -> str:
    for pat in (r'<link\s+rel="canonical"\s+href="([^"]+)"',
                r'<meta\s+property="og:url"\s+content="([^"]+)"'):
        m = re.search(pat, html)
        if m:
            return m.group(1).replace("&amp;", "&")
    raise ValueError("page has no canonical URL")


def make_record(headers: list, block: bytes) -> bytes:
    lines = [b"WARC/1.0"]
    for k, v in headers:
        lines.append(f"{k}: {v}".encode("utf-8"))
    lines.append(f"Content-Length: {len(block)}".encode("ascii"))
    return CRLF.join(lines) + CRLF + CRLF + block + CRLF + CRLF


def build() -> None:
    pages = sorted(SRC.glob("*.html"))
    if not pages:
        sys.exit(f"no pages in {SRC}")
    info_id = record_id("warcinfo:" + OUT.name)
    info_block = CRLF.join([
        b"software: storyline examples make_warc.py (python stdlib)",
        b"format: WARC File Format 1.0",
        b"conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/",
        b"description: invented news pages for the storyline example corpus",
        b"isPartOf: storyline-examples",
        b"robots: classic",
    ]) + CRLF
    out = [make_record([
        ("WARC-Type", "warcinfo"),
        ("WARC-Date", warc_date(CAPTURE_START)),
        ("WARC-Filename", OUT.name),
        ("WARC-Record-ID", info_id),
        ("Content-Type", "application/warc-fields"),
    ], info_block)]
    for i, page in enumerate(pages):
        body = page.read_bytes()
        url = page_url(body.decode("utf-8"))
        when = CAPTURE_START + timedelta(minutes=2 * (i + 1))
        http_head = CRLF.join([
            b"HTTP/1.1 200 OK",
            b"Content-Type: text/html; charset=utf-8",
            f"Content-Length: {len(body)}".encode("ascii"),
            f"Date: {http_date(when)}".encode("ascii"),
            b"Server: nginx",
            b"Cache-Control: max-age=300",
            b"Connection: close",
        ]) + CRLF + CRLF
        block = http_head + body
        out.append(make_record([
            ("WARC-Type", "response"),
            ("WARC-Target-URI", url),
            ("WARC-Date", warc_date(when)),
            ("WARC-Record-ID", record_id(url)),
            ("WARC-Warcinfo-ID", info_id),
            ("WARC-Block-Digest", sha1_b32(block)),
            ("WARC-Payload-Digest", sha1_b32(body)),
            ("Content-Type", "application/http; msgtype=response"),
        ], block))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(b"".join(out))
    print(f"wrote {OUT.relative_to(HERE)}: 1 warcinfo + {len(pages)} response records")


def parse(data: bytes):
    """Tiny WARC/1.0 reader: yields (headers dict, block bytes)."""
    pos = 0
    while pos < len(data):
        end = data.index(CRLF + CRLF, pos)
        head = data[pos:end].decode("utf-8").split("\r\n")
        if head[0] != "WARC/1.0":
            raise ValueError(f"bad version line at byte {pos}: {head[0]!r}")
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip()] = v.strip()
        length = int(headers["Content-Length"])
        start = end + 4
        block = data[start:start + length]
        if len(block) != length:
            raise ValueError("truncated record")
        if data[start + length:start + length + 4] != CRLF + CRLF:
            raise ValueError(f"record {headers.get('WARC-Record-ID')} not followed by CRLFCRLF")
        pos = start + length + 4
        yield headers, block


def check() -> None:
    data = OUT.read_bytes()
    records = list(parse(data))
    assert records and records[0][0]["WARC-Type"] == "warcinfo", "first record must be warcinfo"
    ids = set()
    responses = 0
    for h, block in records:
        for k in ("WARC-Type", "WARC-Date", "WARC-Record-ID", "Content-Length"):
            assert k in h, f"missing {k}"
        assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", h["WARC-Record-ID"]), h["WARC-Record-ID"]
        assert h["WARC-Record-ID"] not in ids, "duplicate record id"
        ids.add(h["WARC-Record-ID"])
        datetime.strptime(h["WARC-Date"], "%Y-%m-%dT%H:%M:%SZ")
        if h["WARC-Type"] != "response":
            continue
        responses += 1
        url = h["WARC-Target-URI"]
        assert h["WARC-Record-ID"] == record_id(url), "record id is not uuid5(url)"
        assert h.get("WARC-Block-Digest") == sha1_b32(block), "block digest mismatch"
        head, _, body = block.partition(CRLF + CRLF)
        lines = head.decode("ascii").split("\r\n")
        assert lines[0] == "HTTP/1.1 200 OK", lines[0]
        hh = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        assert hh["content-type"] == "text/html; charset=utf-8"
        assert int(hh["content-length"]) == len(body), "HTTP Content-Length mismatch"
        assert h.get("WARC-Payload-Digest") == sha1_b32(body), "payload digest mismatch"
        html = body.decode("utf-8")
        assert page_url(html) == url, "canonical URL differs from WARC-Target-URI"
        assert "<article" in html and 'property="article:published_time"' in html
        print(f"  ok  {h['WARC-Date']}  {url}  ({len(body)} bytes)")
    print(f"{OUT.name}: {len(records)} records, {responses} responses, {len(data)} bytes: OK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only parse and validate the existing WARC")
    args = ap.parse_args()
    if not args.check:
        build()
    check()


if __name__ == "__main__":
    main()
