"""Helpers for the web tests: one example-corpus store per session, a live server, chromium.

The stores are built once per pytest process (module-level cache) and shared by
test_web_api, test_web_browser and test_xss; each test file wraps them in fixtures.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from storyline.corpus import Corpus

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
OUTPUT = ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

_built: dict[str, Path] = {}
_lock = threading.Lock()
_tmp = Path(tempfile.mkdtemp(prefix="storyline-web-tests-"))

#: Hostile articles: markup and script in every field a page shows.
HOSTILE = [
    {
        "title": '<script>window.__pwned="title"</script>Hostile <b>title</b> one',
        "url": "javascript:window.__pwned='url'",
        "source": "<img src=x onerror=\"window.__pwned='source'\">Evil Outlet",
        "author": '"><script>alert("author")</script>',
        "published": "2026-04-01T08:00:00+00:00",
        "text": (
            "The council of Brackwater voted on Monday to close the old ferry pier "
            '<script>window.__pwned="text"</script> after an inspection found rot in its pilings.\n\n'
            "Engineers said <img src=x onerror=\"window.__pwned='img'\"> repairs would cost more "
            "than a new pier and take two summers to finish.\n\n"
            "Ferry passengers will board from the harbour wall from next week, the council said, "
            "<svg onload=\"window.__pwned='svg'\"></svg> while a temporary landing is built."
        ),
    },
    {
        "title": "Brackwater <i onmouseover=\"window.__pwned='hover'\">closes</i> ferry pier",
        "url": "JaVaScRiPt:alert('url2')",
        "source": "Copycat Daily",
        "published": "2026-04-01T11:30:00+00:00",
        "text": (
            "The council of Brackwater voted on Monday to shut the old ferry pier "
            '<script>window.__pwned="text"</script> after an inspection found decay in its pilings.\n\n'
            "Engineers said <img src=x onerror=\"window.__pwned='img'\"> repairs would cost more "
            "than a new pier and take two summers to complete.\n\n"
            "Ferry passengers will board from the harbour wall from next week, the council said, "
            "<svg onload=\"window.__pwned='svg'\"></svg> while a temporary landing is built."
        ),
    },
    {
        "title": 'Data URL <a href="javascript:alert(1)">click</a>',
        "url": "data:text/html,<script>alert(1)</script>",
        "source": "Third Outlet",
        "published": "2026-04-02T09:00:00+00:00",
        "text": (
            "A school in Brackwater reopened on Tuesday after the winter storms. "
            "Pupils returned to classrooms that had been dried out over the weekend.\n\n"
            "<a href=\"javascript:window.__pwned='a'\">Read more</a> about the storms."
        ),
    },
]


def _copy_db(src: Path, dst: Path) -> Path:
    """A consistent copy of a WAL-mode store (SQLite's backup API, not a file copy)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()
    return dst


def example_store() -> Path:
    """The example corpus run through every stage, with its report.html beside it."""
    with _lock:
        if "example" not in _built:
            out = _tmp / "example"
            with Corpus(out / "storyline.db") as corpus:
                corpus.add([str(EXAMPLES / "corpus")])
                corpus.write_report(out, ("json", "html", "md"))
            _built["example"] = out / "storyline.db"
        return _built["example"]


def hostile_store() -> Path:
    """A store of the HOSTILE articles, with its report.html beside it."""
    with _lock:
        if "hostile" not in _built:
            out = _tmp / "hostile"
            out.mkdir(parents=True, exist_ok=True)
            src = out / "hostile.jsonl"
            src.write_text("".join(json.dumps(a) + "\n" for a in HOSTILE), "utf-8")
            with Corpus(out / "storyline.db") as corpus:
                corpus.add([str(src)])
                corpus.write_report(out, ("json", "html", "md"))
            _built["hostile"] = out / "storyline.db"
        return _built["hostile"]


def scratch_copy(db: Path, name: str) -> Path:
    """A private copy of a store that a test may write to."""
    dst = _tmp / f"{name}-{time.monotonic_ns()}.db"
    return _copy_db(db, dst)


def truth() -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / "truth.json").read_text("utf-8")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(db: Path, **kwargs: Any) -> Iterator[str]:
    """uvicorn serving the app over ``db`` in a thread; yields its base URL."""
    import uvicorn

    from storyline.web import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(db, **kwargs), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium through Playwright (never a downloaded browser)."""
    import pytest

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install playwright")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
