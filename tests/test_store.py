"""The SQLite façade: named migrations, memory mode, and files that reopen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storyline.records import Article, Origin
from storyline.store import MIGRATIONS, Store


def article(i: int) -> Article:
    return Article(
        id=f"{i:016x}",
        raw=f"raw {i}",
        text=f"text {i}",
        origin=Origin(f"f{i}.txt"),
        source="Bend Post",
    )


def test_memory_store_applies_every_migration(fresh_store: Store) -> None:
    assert fresh_store.migrations() == [name for name, _ in MIGRATIONS]
    assert fresh_store.migrate() == []  # idempotent


def test_file_store_reopens_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "s.db"
    store = Store(path)
    assert store.add_article(article(1)) == "new"
    store.close()
    again = Store(path)
    assert again.count_articles() == 1
    assert again.add_article(article(1)) == "seen"
    got = again.get_article(article(1).id)
    assert got is not None and got.raw == "raw 1" and got.source == "Bend Post"


def test_failed_transaction_rolls_back(fresh_store: Store) -> None:
    try:
        with fresh_store.transaction():
            fresh_store.add_article(article(2))
            raise RuntimeError("crash in the middle")
    except RuntimeError:
        pass
    assert fresh_store.count_articles() == 0


def _plans(store: Store, call: Any) -> list[str]:
    """The query plans of the SELECTs that ``call()`` runs on ``store`` (SQLite's own
    EXPLAIN QUERY PLAN of each statement as it ran, its values bound)."""
    ran: list[str] = []
    store.db.set_trace_callback(ran.append)
    try:
        call()
    finally:
        store.db.set_trace_callback(None)
    plans = []
    for sql in ran:
        if sql.lstrip().upper().startswith("SELECT"):
            rows = store.db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            plans.append(" / ".join(str(r[3]) for r in rows))
    return plans


def test_lookups_of_a_few_articles_read_by_their_ids_not_by_a_scan(fresh_store: Store) -> None:
    """The store keeps no statistics (no ANALYZE), so SQLite guesses which index to read.
    With ``kind IN (...)`` beside ``a IN (...)`` it took the index on kind, which reads every
    link of those kinds (half a million at 100,000 articles); the new template rows must be
    read by rowid, and the digests' keys from their covering index."""
    from storyline.reuse.links import FAMILY_KINDS
    from storyline.store import _template_key

    store = fresh_store
    ids = [f"{i:016x}" for i in range(20)]  # (with two ids SQLite took the ids' index anyway)
    plans = _plans(store, lambda: store.link_edges_of(ids, FAMILY_KINDS))
    assert len(plans) == 2 and not any("links_kind" in p for p in plans), plans
    assert any("(a=?)" in p for p in plans) and any("(b=?)" in p for p in plans), plans

    store.add_article(article(1))
    store.register_paragraphs("Bend Post", article(1).id, [("h1", True), ("h2", False)])
    store.set_state(_template_key("Bend Post", 3), {"upto": 0, "total": 0, "candidates": {}})
    plans = _plans(store, lambda: store.template_states(["Bend Post"], 3))
    assert any("INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in p for p in plans), plans

    plans = _plans(store, lambda: list(store.digest_states()))
    assert plans == ["SCAN articles USING COVERING INDEX articles_digest_state"], plans
    plans = _plans(store, store.digest_keys)
    assert plans == ["SCAN digests USING COVERING INDEX digests_key"], plans
    # The stories' story docs, by id and config, from their unique index.
    plans = _plans(store, lambda: store.load_story_docs("v1:rules:-", ids))
    assert plans == ["SEARCH story_docs USING INDEX story_docs_key (article_id=? AND config=?)"], (
        plans
    )
