"""report.json is a versioned contract checked against its schema; report.html is self-contained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from builders import BODY, page, write_jsonl
from storyline import analyze
from storyline.report import SCHEMA_VERSION, load_schema, render_html

HOSTILE_TITLE = '<script>alert("t")</script><img src=x onerror=alert(1)>'
HOSTILE_BODY = (
    "Crews worked through the night near the levee, officials said on Tuesday. "
    '<script>document.title="pwned"</script> <b onmouseover="alert(2)">bold</b> '
    "The river is expected to fall below flood stage by Friday, the county said."
)


def make_corpus(tmp_path: Path):
    write_jsonl(
        tmp_path / "n.jsonl",
        [
            {
                "text": BODY,
                "title": "Levee",
                "url": "https://a.example/1",
                "source": "Bend Post",
                "published": "2026-03-03T01:00:00Z",
            },
            {
                "text": HOSTILE_BODY,
                "title": HOSTILE_TITLE,
                "url": "javascript:alert(3)",
                "source": "<i>Evil</i> Daily",
            },
        ],
    )
    (tmp_path / "p.html").write_text(
        page("Rain", "https://r.example/2", "Ridge Times", "2026-03-04T01:00:00Z")
    )
    (tmp_path / "empty.txt").write_text("")
    return analyze([str(tmp_path)])


def test_report_validates_against_schema(tmp_path: Path) -> None:
    report = make_corpus(tmp_path).report()
    jsonschema.validate(report, load_schema())
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["provenance"]["models"]["sentence_embeddings"]
    assert [d["story"] for d in report["digests"]] == [s["id"] for s in report["stories"]]
    assert all(
        set(s["articles"]) <= {a["id"] for a in report["articles"]} for s in report["stories"]
    )
    first = report["articles"][0]
    assert {
        "id",
        "source",
        "title",
        "url",
        "published",
        "path",
        "credits",
        "removed",
        "sentences",
    } <= set(first)


def test_schema_rejects_a_broken_report(tmp_path: Path) -> None:
    report = make_corpus(tmp_path).report()
    del report["articles"][0]["path"]
    try:
        jsonschema.validate(report, load_schema())
    except jsonschema.ValidationError as exc:
        assert "path" in exc.message
    else:
        raise AssertionError("a report without path validated")


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path)
    written = corpus.write_report(tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    assert [p.name for p in written] == ["report.json", "report.html"]
    # No external assets: no scripts at all, no stylesheets or images fetched from anywhere.
    assert "<script" not in html.replace("&lt;script", "")
    assert not re.search(r"<(link|img|iframe)\b", html)
    assert "onerror=" not in html.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;" in html
    # Only http(s) URLs become links.
    assert 'href="javascript:' not in html
    assert 'href="https://a.example/1"' in html
    json.loads((tmp_path / "out" / "report.json").read_text())


def test_render_html_on_an_empty_report(tmp_path: Path) -> None:
    report = analyze([]).report()
    assert "0</b>articles" in render_html(report).replace("\n", "")


def test_streamed_json_is_what_json_dumps_writes(tmp_path: Path) -> None:
    """report.json is written an item at a time (never the whole report in memory), and
    reads byte for byte as ``json.dumps(report, indent=2)`` did."""
    import io

    from storyline.config import Settings
    from storyline.report.build import _sections, build_report, dump_json
    from storyline.store import Store
    from webtools import example_store

    store = Store(example_store())
    try:
        report = build_report(store, Settings())
        want = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        streamed = io.StringIO()
        dump_json(_sections(store, Settings(), None, None), streamed)
        assert streamed.getvalue() == want
        # The store's readers one at a time give what its lists give.
        assert list(store.iter_links()) == store.links()
        assert list(store.iter_stories()) == store.stories()
        assert list(store.iter_digests()) == store.digests()
        assert [a.id for a in store.iter_articles(full=False, chunk=3)] == [
            a.id for a in store.iter_articles()
        ]
    finally:
        store.close()
    odd = {"a": [], "b": {}, "c": iter([{"x": "two\nlines", "y": [1, {"z": "é"}]}, "s"]),
           "d": None, "e": "q\"uote", "f": 1.5}  # fmt: skip
    out = io.StringIO()
    dump_json(odd, out)
    odd["c"] = [{"x": "two\nlines", "y": [1, {"z": "é"}]}, "s"]
    assert out.getvalue() == json.dumps(odd, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    dump_json({}, out)
    assert out.getvalue() == "{}\n"


def test_the_page_shows_the_newest_stories_when_there_are_many(tmp_path: Path) -> None:
    """Past ``[report] html_stories`` stories, report.html and report.md show the newest that
    many, with only their articles and links, and say so; report.json keeps everything."""
    from storyline.config import Settings
    from storyline.report.build import write_store_reports
    from storyline.store import Store
    from webtools import example_store

    settings = Settings()
    settings.report.html_stories = 2
    store = Store(example_store())
    try:
        stories = store.stories()
        write_store_reports(store, settings, tmp_path, ("json", "html", "md"))
        everything = json.loads((tmp_path / "report.json").read_text("utf-8"))
        links = store.links()
    finally:
        store.close()
    assert len(stories) > 2 and len(everything["stories"]) == len(stories)
    shown = stories[:2]
    members = {a for st in shown for a in st["articles"]}
    html = (tmp_path / "report.html").read_text("utf-8")
    assert f"shows the 2 newest of {len(stories)} stories" in html
    assert set(re.findall(r'id="story-([^"]+)"', html)) == {st["id"] for st in shown}
    assert set(re.findall(r'<details class="article" id="a-([^"]+)"', html)) == members
    among = [ln for ln in links if ln["source"] in members and ln["copy"] in members]
    assert among and len(among) < len(links)
    assert set(re.findall(r'id="link-([0-9a-f]+-[0-9a-f]+)"', html)) == {
        f"{ln['source']}-{ln['copy']}" for ln in among
    }
    assert f">{len(links)}</b>reuse links" in html  # the counts are the whole store's
    md = (tmp_path / "report.md").read_text("utf-8")
    assert f"the 2 newest of {len(stories)} stories" in md
