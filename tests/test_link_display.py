"""Say what a link is, and nothing more: two reports quoting the same words did not copy each
other, so their link has no direction, and neither the report nor the app draws an arrow for
it (or for any copy whose source the evidence does not settle)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from storyline.reuse.links import NOT_A_COPY


def _links_shown(html: str) -> tuple[str, str]:
    """The report's directed links section and its no-direction section, as text."""
    i = html.index('<section id="links">')
    j = html.index("</section>", i)
    section = html[i:j]
    k = section.find('id="shared"')
    return (section, "") if k < 0 else (section[:k], section[k:])


def _check(corpus: Any, tmp_path: Any) -> None:
    links = corpus.links()
    quotes = [ln for ln in links if ln["kind"] == "shared_quotes"]
    for ln in quotes:
        assert ln["direction"] == "unknown" and ln["reasons"] == [NOT_A_COPY], ln
    corpus.write_report(tmp_path, ("html",))
    directed, shared = _links_shown((tmp_path / "report.html").read_text())
    assert "→" not in re.sub(r"<del>.*?</ins>", "", shared, flags=re.S)  # word swaps aside
    for ln in links:
        anchor = f'id="link-{ln["source"]}-{ln["copy"]}"'
        assert anchor in (directed if ln["direction"] == "known" else shared), ln["kind"]


def test_example_shared_quotes_have_no_direction_and_no_arrow(example_analyzed, tmp_path) -> None:
    assert any(ln["kind"] == "shared_quotes" for ln in example_analyzed.links())
    _check(example_analyzed, tmp_path)


@pytest.mark.shared
def test_seeds_show_no_arrow_between_articles_sharing_only_quotes(seeds_analyzed, tmp_path) -> None:
    _check(seeds_analyzed, tmp_path)


def test_app_story_page_draws_arrows_only_for_directed_copies(tmp_path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from storyline.store import Store
    from storyline.web import create_app
    from webtools import example_store

    db = example_store()
    store = Store(db)
    stories = store.stories()
    store.close()
    seen_shared = False
    with TestClient(create_app(db)) as client:
        for st in stories:
            html = client.get(f"/stories/{st['id']}").text
            if "Shared text, no direction" in html:
                seen_shared = True
                shared = html[html.index("Shared text, no direction") :]
                shared = shared[: shared.index("</ul>")]
                assert "→" not in shared and "shared quotes" in shared
            if "Who copied whom" in html:
                directed = html[html.index("Who copied whom") :]
                directed = directed[: directed.index("</ul>")]
                assert "why this direction" in directed
    assert seen_shared
