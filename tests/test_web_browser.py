"""The web app and the static report in a real browser (Debian's chromium via Playwright).

Screenshots land in test-output/ so a person can look at what the tests saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")
pytest.importorskip("fastapi")
from storyline.store import Store
from webtools import chromium, example_store, live_server, screenshot, truth

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def example_db() -> Path:
    return example_store()


@pytest.fixture(scope="module")
def server(example_db: Path) -> Iterator[str]:
    with live_server(example_db) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    context.close()
    assert not errors, errors


def test_stories_then_story(server: str, page: Any, example_db: Path) -> None:
    store = Store(example_db)
    stories = store.stories()
    store.close()
    page.goto(server + "/")
    rows = page.locator("table.stories tbody tr")
    assert rows.count() == len(stories)
    assert page.locator("a.story-link").first.inner_text() == stories[0]["headline"]
    screenshot(page, "web-stories")

    biggest = max(stories, key=lambda s: s["article_count"])
    page.select_option("select[name=sort]", "biggest")
    page.click("button[type=submit]")
    page.wait_for_url("**sort=biggest**")
    page.locator("a.story-link").first.click()
    page.wait_for_url(f"**/stories/{biggest['id']}")
    assert page.locator("h2").first.inner_text() == biggest["headline"]
    assert page.locator("ol.timeline li").count() == biggest["article_count"]
    assert page.locator("b.indep").inner_text() == str(biggest["independent_sources"])
    # Copies in the timeline are marked, and the copy-family graph links to comparisons.
    assert page.locator("ol.timeline li.copy").count() >= 1
    assert page.locator("svg.family").count() >= 1
    screenshot(page, "web-story")


def test_rewrite_comparison_highlights_substitutions(
    server: str, page: Any, example_db: Path
) -> None:
    link = next(ln for ln in truth()["links"] if ln["kind"] == "rewrite")
    store = Store(example_db)
    ids = {a.url: a.id for a in store.iter_articles(full=False)}
    stored = store.link_between(ids[link["source"]], ids[link["copy"]])
    store.close()
    assert stored is not None
    swapped = {s["new"] for p in stored["pairs"] for s in p["substitutions"]}
    assert swapped

    page.goto(f"{server}/articles/{ids[link['copy']]}")
    page.locator("ul.links a", has_text="rewrite").first.click()
    page.wait_for_url("**/compare?**")
    assert page.locator(".verdict").inner_text() == "rewrite"
    marked = set(page.locator("mark.new").all_inner_texts())
    assert swapped <= marked, swapped - marked
    assert page.locator("mark.old").count() >= len(
        {s["old"] for p in stored["pairs"] for s in p["substitutions"]}
    )
    assert page.locator("ul.reasons li").count() >= 1
    screenshot(page, "web-compare-rewrite")


def test_search(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.fill("input[name=q]", "Millbrook dam")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=Millbrook**")
    results = page.locator("#search-results ol.results li")
    assert results.count() >= 3
    assert page.locator("#search-results mark").count() >= 3
    first = results.first.locator("a").first.inner_text()
    results.first.locator("a").first.click()
    assert page.locator("h2").first.inner_text() == first
    assert page.locator("div.clean").inner_text().strip()
    screenshot(page, "web-article")


def test_article_removed_lines_collapsed(server: str, page: Any, example_db: Path) -> None:
    store = Store(example_db)
    with_removed = next(a for a in store.iter_articles(full=False) if a.removed)
    store.close()
    page.goto(f"{server}/articles/{with_removed.id}")
    details = page.locator("details.removed-lines")
    assert details.get_attribute("open") is None
    assert not page.locator("ul.removed").is_visible()
    details.locator("summary").click()
    assert page.locator("ul.removed").is_visible()


def test_static_report_offline_shows_same_story(
    server: str, browser: Any, example_db: Path
) -> None:
    report = example_db.parent / "report.html"
    store = Store(example_db)
    first = store.stories()[0]
    store.close()

    context = browser.new_context(offline=True, java_script_enabled=True)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(report.as_uri())
    section = page.locator(f"#story-{first['id']}")
    section.locator("summary").first.click()
    assert first["headline"] in section.locator("summary").first.inner_text()
    static_timeline = section.locator("ol.timeline li").all_inner_texts()
    screenshot(page, "report-story")
    assert all(u.startswith("file:") for u in requests), requests
    context.close()

    live = browser.new_page()
    live.goto(f"{server}/stories/{first['id']}")
    assert live.locator("h2").first.inner_text() == first["headline"]
    assert live.locator("ol.timeline li").all_inner_texts() == static_timeline
    live.close()


def test_static_report_marks_substitutions(browser: Any, example_db: Path) -> None:
    link = next(ln for ln in truth()["links"] if ln["kind"] == "rewrite")
    store = Store(example_db)
    ids = {a.url: a.id for a in store.iter_articles(full=False)}
    store.close()
    src, cpy = ids[link["source"]], ids[link["copy"]]
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto((example_db.parent / "report.html").as_uri())
    details = page.locator(f"#link-{src}-{cpy}")
    details.locator("summary").click()
    assert details.locator("mark.new").count() >= 5
    assert details.locator("mark.new").first.is_visible()
    context.close()
