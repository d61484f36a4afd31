"""Bad input gets a clear error naming the file (and line or record), is skipped, and the run
finishes with everything else kept and the skipped items counted."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from builders import BODY, page, warc_bytes, write_jsonl
from storyline import analyze


def run(tmp_path: Path, good: int = 1):
    """Write ``good`` valid articles beside the bad input and analyse the folder."""
    for i in range(good):
        (tmp_path / f"good{i}.txt").write_text(f"Report number {i}.\n\n{BODY}")
    corpus = analyze([str(tmp_path)])
    return corpus, corpus.last_run


def only_skip(result, path_end: str):
    skipped = result.skipped
    assert len(skipped) == 1, skipped
    assert skipped[0].path.endswith(path_end)
    return skipped[0]


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    corpus, result = run(tmp_path)
    assert "empty" in only_skip(result, "empty.txt").reason
    assert corpus.store.count_articles() == 1
    assert result.counts["skipped"] == 1


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "photo.txt").write_bytes(bytes(range(256)) * 20)
    _, result = run(tmp_path)
    assert "binary" in only_skip(result, "photo.txt").reason


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root reads any file; the broken-link test covers this path"
)
def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "locked.txt"
    bad.write_text(BODY)
    bad.chmod(0)
    _, result = run(tmp_path)
    assert "cannot read" in only_skip(result, "locked.txt").reason


def test_unreadable_broken_link(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "does-not-exist.txt")
    corpus, result = run(tmp_path)
    assert "cannot read" in only_skip(result, "gone.txt").reason
    assert corpus.store.count_articles() == 1


def test_missing_input_path(tmp_path: Path) -> None:
    corpus = analyze([str(tmp_path / "nope"), str(tmp_path)])
    assert corpus.last_run.skipped[0].reason == "no such file or folder"


def test_malformed_jsonl_line_keeps_the_rest(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "feed.jsonl",
        [
            {"text": BODY, "url": "https://a.example/1"},
            '{"text": "cut off here',
            {"title": "no body", "url": "https://a.example/2"},
            {"text": BODY + " Later.", "url": "https://a.example/3"},
        ],
    )
    corpus, result = run(tmp_path, good=0)
    reasons = {(p.line, p.reason.split(":")[0]) for p in result.skipped}
    assert reasons == {
        (2, "malformed JSON line"),
        (3, "record has no 'text' or 'html' field with content"),
    }
    assert corpus.store.count_articles() == 2


def test_truncated_gzip_jsonl(tmp_path: Path) -> None:
    records = [
        json.dumps({"text": f"{BODY} Item {i}.", "url": f"https://a.example/{i}"})
        for i in range(200)
    ]
    data = gzip.compress(("\n".join(records) + "\n").encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    corpus, result = run(tmp_path, good=0)
    problem = only_skip(result, "cut.jsonl.gz")
    assert "truncated" in problem.reason and problem.line is not None
    assert 0 < corpus.store.count_articles() < 200  # what was readable is kept


def test_truncated_warc_gz(tmp_path: Path) -> None:
    pages = [
        (
            f"https://p.example/{i}",
            page(
                f"Story {i}",
                f"https://p.example/{i}",
                "P",
                "2026-03-03T08:15:00Z",
                body=f"{BODY} Variant {i}.",
            ),
        )
        for i in range(6)
    ]
    data = warc_bytes(pages, gz=True)
    (tmp_path / "cut.warc.gz").write_bytes(data[: int(len(data) * 0.6)])
    corpus, result = run(tmp_path, good=0)
    problem = only_skip(result, "cut.warc.gz")
    assert "truncated" in problem.reason and problem.record is not None
    assert 1 <= corpus.store.count_articles() < 6


def test_malformed_rss(tmp_path: Path) -> None:
    (tmp_path / "broken.rss").write_text("<rss><channel><title>X</title><item><title>oops</ite")
    _, result = run(tmp_path)
    assert only_skip(result, "broken.rss").reason.startswith(
        ("malformed feed", "feed item", "feed has no items")
    )


def test_rss_item_without_text(tmp_path: Path) -> None:
    (tmp_path / "f.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>V</title>'
        "<item><title>empty</title><link>https://v.example/1</link></item>"
        "<item><title>full</title><link>https://v.example/2</link><description>Crews reopened the mountain road on Friday.</description></item>"
        "</channel></rss>"
    )
    corpus, result = run(tmp_path, good=0)
    problem = only_skip(result, "f.rss")
    assert problem.record == 0
    assert corpus.store.count_articles() == 1


def test_html_without_text(tmp_path: Path) -> None:
    (tmp_path / "blank.html").write_text(
        "<html><head><title>t</title></head><body>   </body></html>"
    )
    _, result = run(tmp_path)
    assert "no article text" in only_skip(result, "blank.html").reason


def test_summary_reports_what_was_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    corpus, _ = run(tmp_path)
    report = corpus.report()
    assert report["summary"]["skipped"] == 1
    assert report["problems"][0]["path"].endswith("empty.txt")


def test_truncated_plain_warc(tmp_path: Path) -> None:
    pages = [
        (
            f"https://p.example/{i}",
            page(
                f"Story {i}",
                f"https://p.example/{i}",
                "P",
                "2026-03-03T08:15:00Z",
                body=f"{BODY} Variant {i}.",
            ),
        )
        for i in range(4)
    ]
    data = warc_bytes(pages)
    (tmp_path / "cut.warc").write_bytes(data[: int(len(data) * 0.7)])
    corpus, result = run(tmp_path, good=0)
    problem = only_skip(result, "cut.warc")
    assert "truncated" in problem.reason and problem.record is not None
    assert 1 <= corpus.store.count_articles() < 4
