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
