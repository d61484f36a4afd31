"""The SQLite façade: named migrations, memory mode, and files that reopen."""

from __future__ import annotations

from pathlib import Path

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
