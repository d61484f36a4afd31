"""The five real seed articles in ../shared: boilerplate out and recorded, credits on the article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storyline.cli import app


@pytest.fixture(scope="module")
def seed_report(seeds_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("seeds")
    result = CliRunner().invoke(
        app, ["run", str(seeds_dir), "--out", str(out), "--db", str(out / "s.db")]
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text())


def by_prefix(report: dict) -> dict[str, dict]:
    return {Path(a["path"]).name[:3]: a for a in report["articles"]}


def removed_texts(article: dict) -> list[str]:
    return [r["text"] for r in article["removed"]]


def test_five_articles(seed_report: dict) -> None:
    assert len(seed_report["articles"]) == 5
    assert seed_report["summary"]["skipped"] == 0


def test_interface_text_removed_and_recorded(seed_report: dict) -> None:
    a = by_prefix(seed_report)["001"]
    removed = removed_texts(a)
    for line in ("Log in with your credentials", "Forgot your details?"):
        assert line in removed
        assert line not in a["text"]
    assert any(r.startswith("We're not around right now") for r in removed)
    assert "get back to you" not in a["text"]


def test_photo_caption_and_credit_removed(seed_report: dict) -> None:
    a = by_prefix(seed_report)["001"]
    caption = [r for r in a["removed"] if "Photo via AP" in r["text"]]
    assert len(caption) == 1 and "photo" in caption[0]["reason"]
    assert "Photo via AP" not in a["text"]
    assert "left, meets with" not in a["text"]
    # A photo credit is not an article credit.
    assert not any(c["outlet"] in ("AP", "Associated Press") for c in a["credits"])


def test_crumbs_and_repeated_headlines(seed_report: dict) -> None:
    a = by_prefix(seed_report)["002"]
    reasons = {r["reason"] for r in a["removed"]}
    assert "navigation breadcrumb" in reasons
    assert "repeated headline" in reasons
    assert not a["text"].startswith("Home News")
    assert a["title"] and a["title"].startswith("Putin Says")
    assert a["title"] not in a["text"]


def test_date_marker_becomes_metadata(seed_report: dict) -> None:
    a = by_prefix(seed_report)["003"]
    assert a["published"] == "2022-02-02"
    assert "date 2022-02-02" in removed_texts(a)
    assert not a["text"].lstrip().startswith("date")


def test_credits(seed_report: dict) -> None:
    arts = by_prefix(seed_report)
    cnn = [c for c in arts["002"]["credits"] if c["outlet"] == "CNN"]
    assert cnn and cnn[0]["words"] == "Source: CNN" and cnn[0]["kind"] == "source_line"
    nbc = [c for c in arts["000"]["credits"] if c["outlet"] == "NBC News"]
    assert nbc and nbc[0]["kind"] == "according_to" and nbc[0]["in_clean_text"]


def test_nothing_lost(seed_report: dict, seeds_dir: Path) -> None:
    """Every non-blank line of every seed is in the clean text or in the removed record."""
    for a in seed_report["articles"]:
        raw = Path(a["path"]).read_text(encoding="utf-8")
        kept = a["text"]
        removed = " ".join(removed_texts(a))
        for line in raw.splitlines():
            line = line.strip()
            if line and line not in kept:
                assert line in removed or line.replace("date 2022-02-02", "").strip() in kept, line[
                    :60
                ]


def test_sentences(seed_report: dict) -> None:
    for a in seed_report["articles"]:
        assert a["sentences"] >= 8
