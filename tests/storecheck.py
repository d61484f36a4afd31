"""Two stores compared: what the engines (one process, a pool, Ray) must agree on."""

from __future__ import annotations

from typing import Any

from storyline import Store


def same_store(local: Store, other: Store) -> None:
    """Equal articles, sentences, links (with their evidence), stories and digests."""

    def articles(store: Store) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in store.db.execute(
            "SELECT id, url, source, title, published, clean, clean_sig, stage FROM articles"
            " ORDER BY id")]  # fmt: skip

    def sentences(store: Store) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in store.db.execute("SELECT * FROM sentences ORDER BY 1, 2")]

    def links(store: Store) -> list[dict[str, Any]]:
        return sorted(store.links(kinds_only=False), key=lambda ln: (ln["a"], ln["b"]))

    def stories(store: Store) -> dict[frozenset[str], dict[str, Any]]:
        out = {}
        for st in store.stories():
            digest = dict(store.digest(st["id"]) or {})
            digest.pop("story", None)
            out[frozenset(st["articles"])] = {"id": st["id"], "digest": digest}
        return out

    assert articles(other) == articles(local)
    assert sentences(other) == sentences(local)
    assert links(other) == links(local)
    assert stories(other) == stories(local)
