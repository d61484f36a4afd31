"""Small writers for test inputs in each format (invented text only)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

BODY = (
    "Flood waters rose through the lower town of Marrow Bend on Tuesday, forcing the evacuation "
    "of more than 300 households, county officials said.\n\n"
    "“We moved everyone we could reach before dark,” said Fire Chief Oren Dahl, who has led the "
    "department for eleven years. The river crested at 6.2 meters shortly after midnight.\n\n"
    "The U.S. Army Corps of Engineers sent two teams to inspect the levee on Wednesday morning, "
    "according to a statement from the county."
)


def page(title: str, url: str, site: str, published: str, body: str = BODY) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return (
        "<!doctype html><html><head>"
        f"<title>{title} | {site}</title>"
        f'<meta property="og:site_name" content="{site}">'
        f'<link rel="canonical" href="{url}">'
        f'<meta property="article:published_time" content="{published}">'
        '<meta name="author" content="Mira Santos">'
        "</head><body>"
        '<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>'
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        '<div class="newsletter">Sign up for our morning newsletter and never miss a story.</div>'
        f"<footer>© 2026 {site}. All rights reserved.</footer>"
        "</body></html>"
    )


def warc_bytes(pages: list[tuple[str, str]], gz: bool = False) -> bytes:
    """A WARC with a warcinfo record, then one HTML response per (url, html)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    writer.write_record(writer.create_warcinfo_record("test.warc", {"software": "storyline-tests"}))
    for url, html in pages:
        headers = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
        )
        rec = writer.create_warc_record(
            url, "response", payload=io.BytesIO(html.encode()), http_headers=headers
        )
        writer.write_record(rec)
    img = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
    writer.write_record(
        writer.create_warc_record(
            "https://x.example/a.png",
            "response",
            payload=io.BytesIO(b"\x89PNG...."),
            http_headers=img,
        )
    )
    return buf.getvalue()


def rss(items: list[dict[str, str]], title: str = "Valley Courier") -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{title}</title><link>https://valleycourier.example/</link>",
    ]
    for it in items:
        out.append(
            f"<item><title>{it['title']}</title><link>{it['link']}</link>"
            f"<pubDate>{it['date']}</pubDate>"
            f"<content:encoded><![CDATA[{it['html']}]]></content:encoded></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out)


def write_jsonl(path: Path, records: list[object], gz: bool = False) -> Path:
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def article_reads(monkeypatch: Any) -> list[str]:
    """The ids of the articles read whole from any store from now on (``Store.get_article``),
    in order: what a stage had to load."""
    from storyline.store import Store

    read: list[str] = []
    original = Store.get_article

    def counting(self: Store, article_id: str, full: bool = True) -> Any:
        read.append(article_id)
        return original(self, article_id, full)

    monkeypatch.setattr(Store, "get_article", counting)
    return read
