"""The invented example corpus ingests with exactly the counts and metadata in its truth file."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import EXAMPLES
from storyline import Corpus


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((EXAMPLES / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def report(example_analyzed: Corpus) -> dict:
    return example_analyzed.report()


def test_counts_match_the_truth(report: dict, truth: dict) -> None:
    assert report["summary"]["articles"] == truth["articles"]["count"]
    formats = Counter(a["origins"][0]["format"] for a in report["articles"])
    assert dict(formats) == truth["articles"]["by_format"]
    assert report["summary"]["skipped"] == 0
    # How the stories were found: by average linkage, cut where the silhouette says.
    how = report["summary"]["last_run"]["story_clustering"]
    assert how["method"] == "average" and how["fallback"] is False
    assert how["silhouette"] >= 0.1 and how["sent_to_stream"] == 0


def test_metadata_matches_the_truth(report: dict, truth: dict) -> None:
    by_url = {a["url"]: a for a in report["articles"]}
    for want in truth["articles_list"]:
        got = by_url[want["url"]]
        assert got["title"] == want["title"], want["url"]
        assert got["published"] == want["published"], want["url"]


def test_planted_boilerplate_is_removed(report: dict, truth: dict) -> None:
    """Recall of the planted boilerplate lines; the floor is the measured figure less a margin."""
    by_url = {a["url"]: a for a in report["articles"]}
    total = found = 0
    for entry in truth["boilerplate"]:
        article = by_url[entry["url"]]
        removed = " ".join(r["text"] for r in article["removed"])
        for line in entry["removed"]:
            total += 1
            found += line in removed
    assert found / total >= 0.95, f"{found}/{total}"


def test_quotes_survive_cleaning(report: dict, truth: dict) -> None:
    """Cleaning must never take reporting: every planted quote is still in its articles' text."""
    by_url = {a["url"]: a for a in report["articles"]}
    for quote in truth["quotes"]:
        wordings = [quote["text"], *quote.get("variants", [])]
        for url in quote["articles"]:
            text = by_url[url]["text"].lower()
            assert any(w.lower() in text for w in wordings), (url, quote["text"])


def test_credits_are_recorded(report: dict, truth: dict) -> None:
    by_url = {a["url"]: a for a in report["articles"]}
    for entry in truth["boilerplate"]:
        outlets = {c["outlet"] for c in by_url[entry["url"]]["credits"]}
        for credit in entry.get("credits", []):
            assert credit in outlets, (entry["url"], credit)
