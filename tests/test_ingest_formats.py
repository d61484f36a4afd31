"""Each reader, on invented inputs in its format."""

from __future__ import annotations

import json
from pathlib import Path

from builders import BODY, page, rss, warc_bytes, write_jsonl
from storyline.ingest import detect_format, iter_inputs
from storyline.records import Problem, RawDoc


def docs(*inputs: Path | str) -> tuple[list[RawDoc], list[Problem]]:
    items = list(iter_inputs([str(i) for i in inputs]))
    return [i for i in items if isinstance(i, RawDoc)], [i for i in items if isinstance(i, Problem)]


def test_text_with_sidecar(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY)
    (tmp_path / "a.meta.json").write_text(
        json.dumps(
            {
                "title": "River floods",
                "source": "Marrow Ledger",
                "url": "https://ledger.example/1",
                "published": "2026-03-03T10:00:00-05:00",
                "author": "Kim Ode",
            }
        )
    )
    [doc], problems = docs(tmp_path)
    assert problems == []
    assert (doc.title, doc.source, doc.url, doc.author) == (
        "River floods",
        "Marrow Ledger",
        "https://ledger.example/1",
        "Kim Ode",
    )
    assert doc.published == "2026-03-03T15:00:00+00:00"  # parsed to UTC


def test_text_front_matter_and_header_block(tmp_path: Path) -> None:
    (tmp_path / "fm.txt").write_text(
        f"---\ntitle: Levee holds\nsource: Bend Post\npublished: 2026-03-04\n---\n{BODY}"
    )
    (tmp_path / "hb.txt").write_text(f"Title: Levee breaks\nURL: https://hb.example/2\n\n{BODY}")
    got, _ = docs(tmp_path)
    by_title = {d.title: d for d in got}
    assert by_title["Levee holds"].source == "Bend Post"
    assert by_title["Levee holds"].published == "2026-03-04"
    assert by_title["Levee holds"].text.startswith("Flood waters")
    assert by_title["Levee breaks"].url == "https://hb.example/2"
    assert all(d.removed[0].reason == "metadata header" for d in got)


def test_lone_source_line_is_not_a_header(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text(f"Source: CPA\n\n{BODY}")
    [doc], _ = docs(tmp_path)
    assert doc.source is None and doc.text.startswith("Source: CPA")


def test_date_marker_on_the_same_line(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text(" date 2026-02-02 " + BODY)
    [doc], _ = docs(tmp_path)
    assert doc.published == "2026-02-02"
    assert doc.text.startswith("Flood waters")
    assert doc.removed[0].text == "date 2026-02-02"


def test_html_page(tmp_path: Path) -> None:
    (tmp_path / "p.html").write_text(
        page("Town evacuates", "https://bendpost.example/n/7", "Bend Post", "2026-03-03T08:15:00Z")
    )
    [doc], problems = docs(tmp_path)
    assert problems == []
    assert doc.title == "Town evacuates"
    assert doc.source == "Bend Post"
    assert doc.url == "https://bendpost.example/n/7"
    assert doc.published == "2026-03-03T08:15:00+00:00"
    assert doc.author == "Mira Santos"
    assert "Fire Chief Oren Dahl" in doc.text
    assert "newsletter" not in doc.text
    assert any("newsletter" in r.text for r in doc.removed)  # kept aside, with its reason


def test_jsonl_text_and_html_records(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "n.jsonl",
        [
            {
                "text": BODY,
                "title": "One",
                "url": "https://a.example/1",
                "source": "A Wire",
                "published": "2026-03-03T01:00:00Z",
            },
            {
                "html": page("Two", "https://b.example/2", "B Daily", "2026-03-03T02:00:00Z"),
                "source": "B Daily",
            },
        ],
    )
    got, problems = docs(tmp_path)
    assert problems == []
    assert [d.title for d in got] == ["One", "Two"]
    assert [d.origin.line for d in got] == [1, 2]
    assert got[1].url == "https://b.example/2"


def test_json_array(tmp_path: Path) -> None:
    (tmp_path / "n.json").write_text(json.dumps([{"text": BODY, "url": "https://a.example/9"}]))
    [doc], _ = docs(tmp_path)
    assert doc.origin.record == 0


def test_warc_and_warc_gz(tmp_path: Path) -> None:
    pages = [
        (
            "https://bendpost.example/n/1",
            page("Levee", "https://bendpost.example/n/1", "Bend Post", "2026-03-03T08:15:00Z"),
        ),
        (
            "https://bendpost.example/n/2",
            page("Rain", "https://bendpost.example/n/2", "Bend Post", "2026-03-04T08:15:00Z"),
        ),
    ]
    (tmp_path / "a.warc").write_bytes(warc_bytes(pages))
    (tmp_path / "b.warc.gz").write_bytes(warc_bytes(pages, gz=True))
    got, problems = docs(tmp_path)
    assert [d.title for d in got] == ["Levee", "Rain", "Levee", "Rain"]
    assert {d.origin.record for d in got} == {1, 2}
    # The image response is not an article, and says so rather than vanishing.
    assert all(p.severity == "warning" and "image/png" in p.reason for p in problems)
    assert len(problems) == 2


def test_rss_feed(tmp_path: Path) -> None:
    (tmp_path / "f.rss").write_text(
        rss(
            [
                {
                    "title": "Bridge closed",
                    "link": "https://valleycourier.example/b",
                    "date": "Tue, 03 Mar 2026 09:00:00 +0100",
                    "html": "<p>The old bridge closed on Tuesday after inspectors found cracks.</p><p>Traffic was diverted.</p>",
                },
            ]
        )
    )
    [doc], problems = docs(tmp_path)
    assert problems == []
    assert doc.source == "Valley Courier"
    assert doc.published == "2026-03-03T08:00:00+00:00"
    assert doc.text.split("\n\n") == [
        "The old bridge closed on Tuesday after inspectors found cracks.",
        "Traffic was diverted.",
    ]


def test_atom_feed(tmp_path: Path) -> None:
    (tmp_path / "f.atom").write_text(
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Ridge Times</title>'
        '<entry><title>Snow</title><link href="https://ridge.example/s"/><updated>2026-03-05T12:00:00Z</updated>'
        '<content type="html">&lt;p&gt;Heavy snow closed the pass for a second day.&lt;/p&gt;</content></entry></feed>'
    )
    [doc], _ = docs(tmp_path)
    assert (doc.source, doc.url, doc.published) == (
        "Ridge Times",
        "https://ridge.example/s",
        "2026-03-05T12:00:00+00:00",
    )


def test_other_encoding_is_detected_and_flagged(tmp_path: Path) -> None:
    text = "Le maire a déclaré que la rivière avait dépassé son niveau record à Marrow Bend, où les pompiers étaient déjà à l'œuvre depuis l'aube."
    (tmp_path / "latin.txt").write_bytes(text.encode("cp1252"))
    [doc], _ = docs(tmp_path)
    assert "déclaré" in doc.text
    assert any(f.startswith("encoding:") for f in doc.flags)


def test_globs_and_sniffing(tmp_path: Path) -> None:
    (tmp_path / "noext").write_text(
        page("Sniffed", "https://s.example/1", "S", "2026-03-03T08:15:00Z")
    )
    assert detect_format(tmp_path / "noext") == "html"
    (tmp_path / "x.txt").write_text(BODY)
    got, _ = docs(str(tmp_path / "*.txt"))
    assert len(got) == 1
    got, problems = docs(str(tmp_path / "*.nothing"))
    assert got == [] and problems[0].reason == "pattern matches no file"
