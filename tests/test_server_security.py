"""The server as a way in: security headers on every response, /docs without a CDN, the
ingest token, and bodies over the limit refused before they are read whole."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from storyline.web import create_app
from webtools import chromium, example_store, live_server, scratch_copy, screenshot

TOKEN = "correct-horse-battery-staple"
ARTICLE = {
    "title": "Quarry lake opens to swimmers",
    "source": "Hill Gazette",
    "published": "2024-06-01",
    "text": (
        "The flooded quarry outside Tarn Hill opened to swimmers on Saturday after the council "
        "fitted ladders and a lifeguard hut, officials said.\n\n"
        "The lake is forty metres deep in places and stays below ten degrees all summer, "
        "the park authority said."
    ),
}


@pytest.fixture(scope="module")
def example_db() -> Path:
    return example_store()


@pytest.fixture(scope="module")
def client(example_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(example_db)) as c:
        yield c


@pytest.mark.parametrize(
    "url", ["/", "/api/stories", "/api/stories/none", "/openapi.json", "/docs", "/nowhere"]
)
def test_every_response_carries_the_security_headers(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    policy = dict(
        (d.split()[0], d.split()[1:]) for d in r.headers["content-security-policy"].split("; ")
    )
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'none'"]
    # Scripts: none at all, except the Swagger UI's own files on /docs; never inline.
    assert policy.get("script-src", []) == (["'self'"] if url == "/docs" else [])


def test_docs_are_served_from_the_package(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "cdn" not in html.lower() and "https://" not in html
    assert "<script>" not in html  # no inline script: the CSP would block it anyway
    for src in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/docs.js",
    ):
        assert src in html
        r = client.get(src)
        assert r.status_code == 200 and len(r.content) > 100
    assert client.get("/docs/assets/index.html").status_code == 404  # only what /docs needs
    assert client.get("/docs/assets/..%2F..%2F__init__.py").status_code == 404


@pytest.mark.slow
def test_docs_render_in_a_browser_that_reaches_nothing_else(example_db: Path) -> None:
    with live_server(example_db) as url, chromium() as browser:
        page = browser.new_page()
        elsewhere: list[str] = []
        problems: list[str] = []

        def route(r: Any) -> None:
            if urlsplit(r.request.url).hostname == "127.0.0.1":
                r.continue_()
            else:
                elsewhere.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(url + "/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        assert page.locator(".opblock").count() >= 7  # the API's operations
        assert page.locator(".info .title").first.inner_text().startswith("storyline")
        screenshot(page, "web-docs")
        assert not elsewhere, elsewhere
        assert not problems, problems


@pytest.fixture
def guarded(example_db: Path) -> Iterator[TestClient]:
    db = scratch_copy(example_db, "token")
    app = create_app(db, allow_ingest=True, max_body=20_000, token=TOKEN)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c


def test_ingest_with_a_token_needs_it(guarded: TestClient) -> None:
    none = guarded.post("/api/articles", json=[ARTICLE])
    assert none.status_code == 401 and "Bearer" in none.json()["detail"]
    assert none.headers["www-authenticate"] == "Bearer"
    wrong = guarded.post(
        "/api/articles", json=[ARTICLE], headers={"authorization": f"Bearer {TOKEN}x"}
    )
    assert wrong.status_code == 401
    basic = guarded.post("/api/articles", json=[ARTICLE], headers={"authorization": TOKEN})
    assert basic.status_code == 401
    ok = guarded.post("/api/articles", json=[ARTICLE], headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["counts"]["articles_new"] == 1


def test_the_token_does_not_open_a_foreign_origin(guarded: TestClient) -> None:
    r = guarded.post(
        "/api/articles",
        json=[ARTICLE],
        headers={"authorization": f"Bearer {TOKEN}", "origin": "https://evil.example"},
    )
    assert r.status_code == 403


def _raw_post(url: str, head: str, chunks: Iterator[bytes]) -> tuple[int, int]:
    """POST over a socket; returns the status and how many body chunks were sent before the
    server answered (a server that reads a body whole answers only after the last)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    sent = 0
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head.encode())
        s.settimeout(0.05)
        for chunk in chunks:
            try:
                s.sendall(chunk)
            except OSError:
                break
            sent += 1
            try:
                answer = s.recv(200)
            except TimeoutError:
                continue
            if answer:
                return int(answer.split()[1]), sent
        s.settimeout(10)
        return int(s.recv(200).split()[1]), sent


def test_bodies_over_the_limit_are_refused_before_they_are_read_whole(example_db: Path) -> None:
    db = scratch_copy(example_db, "limit")
    with live_server(db, allow_ingest=True, max_body=20_000) as url:
        netloc = urlsplit(url).netloc
        declared = (
            f"POST /api/articles HTTP/1.1\r\nHost: {netloc}\r\n"
            "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
        )
        status, sent = _raw_post(url, declared, (b" " * 65536 for _ in range(700)))
        assert status == 413 and sent < 700
        chunked = (
            f"POST /api/articles HTTP/1.1\r\nHost: {netloc}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b" " * 8192
        frames = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(2000))
        status, sent = _raw_post(url, chunked, frames)
        assert status == 413 and sent < 2000


def test_serve_refuses_a_token_without_ingest_or_a_short_one(example_db: Path) -> None:
    base = [sys.executable, "-m", "storyline.cli", "serve", "--db", str(example_db)]
    alone = subprocess.run([*base, "--token", TOKEN], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 2 and "--allow-ingest" in alone.stderr
    short = subprocess.run(
        [*base, "--allow-ingest"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STORYLINE_TOKEN": "abc"},
    )
    assert short.returncode == 2 and "16 characters" in short.stderr
