"""A real HTTP server on 127.0.0.1 for the watch and webhook tests, and feeds made from the
example corpus's own articles (invented coverage, written for this project)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from storyline.ingest import read_file
from storyline.records import RawDoc


def example_docs(corpus: Path, files: list[str]) -> list[RawDoc]:
    """The articles of some example files, as the readers see them."""
    docs = []
    for name in files:
        docs += [d for d in read_file(corpus / name) if isinstance(d, RawDoc)]
    return docs


def rss(docs: list[RawDoc], title: str = "Port Halloran news, gathered", extra: str = "") -> bytes:
    """An aggregator's RSS 2.0 feed: each item names its outlet (<source>) and carries its
    full text (content:encoded)."""
    items = []
    for d in docs:
        when = format_datetime(datetime.fromisoformat(d.published)) if d.published else ""
        html = "".join(f"<p>{escape(p)}</p>" for p in d.text.split("\n\n") if p.strip())
        items.append(
            f"<item><title>{escape(d.title or '')}</title><link>{escape(d.url or '')}</link>"
            f"<guid>{escape(d.url or '')}</guid><pubDate>{when}</pubDate>"
            f'<source url="https://feeds.example/">{escape(d.source or "")}</source>'
            f"<content:encoded><![CDATA[{html}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{escape(title)}</title><link>https://feeds.example/</link>"
        f"<description>test feed</description>{extra}{''.join(items)}</channel></rss>"
    ).encode()


class Site:
    """What the server serves and what it saw: ``routes`` maps a path to (status, body,
    headers); ``etags`` turns conditional GET on; ``requests`` lists (path, headers)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.etags = True
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.posts: list[Any] = []
        self.post_status: list[int] = []  # answers to POSTs in turn (then 200)
        self.lock = threading.Lock()

    def serve(self, path: str, body: bytes, status: int = 200, **headers: str) -> None:
        with self.lock:
            self.routes[path] = (status, body, headers)

    def gets(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)


@contextmanager
def http_site() -> Iterator[tuple[Site, str]]:
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with site.lock:
                site.requests.append((self.path, dict(self.headers)))
                status, body, headers = site.routes.get(self.path, (404, b"not here", {}))
            tag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if site.etags and status == 200 and self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            self.send_response(status)
            if site.etags and status == 200:
                self.send_header("ETag", tag)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(size)
            with site.lock:
                status = site.post_status.pop(0) if site.post_status else 200
                if status == 200:
                    site.posts.append(json.loads(data))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
