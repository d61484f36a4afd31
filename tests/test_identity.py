"""An article is one publication: ids from URL, else outlet and raw content; never cleaned text."""

from __future__ import annotations

import json
from pathlib import Path

from builders import BODY, write_jsonl
from storyline import Corpus
from storyline.ids import article_id, canonical_url


def test_url_identity_ignores_trackers_and_fragments() -> None:
    a = article_id("https://WWW.Post.example/n/1?utm_source=x#top", None, "one")
    b = article_id("https://www.post.example/n/1", "Other", "two")
    assert a == b
    assert canonical_url("https://x.example/a/?b=1&utm_medium=m") == "https://x.example/a?b=1"


def test_without_url_outlet_and_raw_content_decide() -> None:
    assert article_id(None, "A", BODY) != article_id(None, "B", BODY)
    assert article_id(None, "A", BODY) == article_id(None, "a ", BODY)


def test_reingest_is_a_noop_that_records_the_origin(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    for d in ("one", "two"):
        (tmp_path / d / "story.txt").write_text(BODY)
    corpus = Corpus()
    first = corpus.add([str(tmp_path / "one")])
    again = corpus.add([str(tmp_path / "one"), str(tmp_path / "two")])
    assert first.counts["articles_new"] == 1
    assert again.counts.get("articles_new", 0) == 0 and again.counts["articles_seen"] == 2
    [article] = list(corpus.articles())
    assert [Path(o.path).parent.name for o in article.origins] == ["one", "two"]
    assert again.counts["cleaned"] == 0 and again.counts["segmented"] == 0  # no work redone


def test_same_text_two_outlets_is_two_articles(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "x.jsonl",
        [
            {"text": BODY, "source": "Bend Post", "url": "https://bendpost.example/a"},
            {"text": BODY, "source": "Ridge Times", "url": "https://ridge.example/b"},
            {"text": BODY, "source": "Valley Courier"},
            {"text": BODY, "source": "Hill Herald"},
        ],
    )
    corpus = Corpus()
    corpus.add([str(tmp_path)])
    assert corpus.store.count_articles() == 4


def test_same_url_new_content_is_kept_as_a_revision(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "v1.jsonl", [{"text": BODY, "url": "https://bendpost.example/a"}])
    write_jsonl(
        tmp_path / "v2.jsonl",
        [{"text": BODY + " Updated at noon.", "url": "https://bendpost.example/a"}],
    )
    corpus = Corpus()
    result = corpus.add([str(tmp_path)])
    assert result.counts["articles_new"] == 1 and result.counts["articles_revised"] == 1
    rows = corpus.store.db.execute("SELECT raw FROM revisions").fetchall()
    assert "Updated at noon." in json.loads(rows[0]["raw"])["text"]


def test_id_does_not_depend_on_cleaning(tmp_path: Path) -> None:
    from storyline.config import CleanSettings, Settings

    (tmp_path / "a.txt").write_text("Home > News > Region\n\n" + BODY)
    loose = Corpus(settings=Settings(clean=CleanSettings(length_low=10)))
    strict = Corpus(settings=Settings(clean=CleanSettings(length_low=400)))
    loose.add([str(tmp_path)])
    strict.add([str(tmp_path)])
    assert loose.store.article_ids() == strict.store.article_ids()
