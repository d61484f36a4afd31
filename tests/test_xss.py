"""Hostile articles (script tags, event attributes, javascript: URLs) never run, anywhere.

Checked in the served app and in the static report.html, as HTML and in chromium: no
dialog opens, no handler sets ``window.__pwned``, no element the article smuggled in
exists in the DOM, and the markup shows as the text it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from storyline.report.markdown import render_markdown
from storyline.store import Store
from storyline.web import create_app
from webtools import HOSTILE, chromium, hostile_store, live_server, screenshot

#: Elements and attributes that only the hostile input could have put in a page.
SMUGGLED = (
    "script, img[onerror], svg[onload], [onmouseover], [onload], [onerror],"
    " a[href^='javascript:' i], a[href^='data:' i]"
)


@pytest.fixture(scope="module")
def hostile_db() -> Path:
    return hostile_store()


@pytest.fixture(scope="module")
def hostile(hostile_db: Path) -> dict[str, Any]:
    store = Store(hostile_db)
    arts = list(store.iter_articles(full=False))
    story = next(s for s in store.stories() if arts[0].id in s["articles"])
    link = store.links()[0]
    stories = store.stories()
    store.close()
    return {"articles": arts, "story": story, "stories": stories, "link": link}


def _pages(h: dict[str, Any]) -> list[str]:
    link = h["link"]
    return [
        "/",
        "/?q=brackwater",
        *[f"/stories/{st['id']}" for st in h["stories"]],
        f"/compare?a={link['source']}&b={link['copy']}",
        *[f"/articles/{a.id}" for a in h["articles"]],
    ]


def test_app_html_is_escaped(hostile_db: Path, hostile: dict[str, Any]) -> None:
    with TestClient(create_app(hostile_db)) as client:
        for path in _pages(hostile):
            html = client.get(path).text
            assert "<script>window.__pwned" not in html, path
            assert 'onerror="window' not in html and "<img src=x" not in html, path
            assert 'href="javascript:' not in html.lower(), path
            assert 'href="data:' not in html.lower(), path
        article = client.get(f"/articles/{hostile['articles'][0].id}").text
        assert "&lt;script&gt;window.__pwned=&#34;text&#34;&lt;/script&gt;" in article
        feed = client.get(f"/stories/{hostile['story']['id']}/feed.atom").text
        assert "<script>" not in feed and "&lt;script&gt;" in feed
        api = client.get(f"/api/articles/{hostile['articles'][0].id}").json()
        assert "<script>" in api["text"]  # JSON carries the text as it is; pages escape it


def test_markdown_report_is_escaped(hostile_db: Path) -> None:
    import json

    report = json.loads((hostile_db.parent / "report.json").read_text("utf-8"))
    md = render_markdown(report)
    assert "<script>" not in md and "<img" not in md
    assert "](<javascript" not in md.lower() and "](<data" not in md.lower()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _assert_inert(page: Any, dialogs: list[str], where: str) -> None:
    assert page.evaluate("window.__pwned") is None, where
    assert dialogs == [], (where, dialogs)
    smuggled = page.evaluate(
        f"Array.from(document.querySelectorAll({SMUGGLED!r})).map(e => e.outerHTML)"
    )
    assert smuggled == [], (where, smuggled)


@pytest.mark.slow
def test_app_in_browser_runs_nothing(
    browser: Any, hostile_db: Path, hostile: dict[str, Any]
) -> None:
    with live_server(hostile_db) as server:
        context = browser.new_context()
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in _pages(hostile):
            page.goto(server + path)
            page.mouse.move(200, 200)
            page.hover("h2")
            _assert_inert(page, dialogs, path)
        page.goto(f"{server}/articles/{hostile['articles'][0].id}")
        text = page.locator("div.clean").inner_text()
        assert '<script>window.__pwned="text"</script>' in text
        assert page.locator("h2").first.inner_text() == HOSTILE[0]["title"]
        assert page.locator("span.unsafe-url").inner_text() == HOSTILE[0]["url"]
        screenshot(page, "xss-app-article")
        context.close()


@pytest.mark.slow
def test_static_report_in_browser_runs_nothing(browser: Any, hostile_db: Path) -> None:
    report = hostile_db.parent / "report.html"
    context = browser.new_context(offline=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(report.as_uri())
    for summary in page.locator("details > summary").all():
        summary.click()
    _assert_inert(page, dialogs, "report.html")
    body = page.locator("body").inner_text()
    assert '<script>window.__pwned="title"</script>' in body
    assert HOSTILE[2]["url"] in body  # shown as text, not as a link
    screenshot(page, "xss-report")
    context.close()
