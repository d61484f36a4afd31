"""Adding to a store costs what is added: the same results as one run, and only new work."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from builders import article_reads
from storyline import Corpus, Settings, Store
from storyline.embed import StoredEmbedder, get_embedder
from storyline.reuse.index import UNDATED, ReuseIndex, band_keys, term_vector


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


def _links(store: Store) -> list[dict[str, Any]]:
    return sorted(store.links(kinds_only=False), key=lambda ln: (ln["a"], ln["b"]))


def _stories(store: Store) -> dict[frozenset[str], dict[str, Any]]:
    """Stories by their member sets, and each one's digest without the story id (an id comes
    from a story's first article in the run that made it, so it may differ)."""
    out = {}
    for st in store.stories():
        digest = dict(store.digest(st["id"]) or {})
        digest.pop("story", None)
        out[frozenset(st["articles"])] = digest
    return out


def _families_from_every_link(store: Store) -> dict[str, str]:
    """The copy families made again from all of the store's links (the stage remakes only
    the families an add touches)."""
    from storyline.reuse.index import canonical
    from storyline.reuse.links import families

    edges = store.link_edges()
    members = sorted({x for e in edges for x in (e["a"], e["b"])})
    order = {a: canonical(p, a) for a, p in store.published_of(members).items()}
    return families(edges, order)


def _half_then_rest(files: list[str], db: Path) -> Corpus:
    corpus = Corpus(db)
    corpus.add(files[::2])
    corpus.add(files[1::2])
    return corpus


def test_half_then_add_equals_one_run_on_the_example(
    example_analyzed: Corpus, example_corpus: Path, tmp_path: Path
) -> None:
    with _half_then_rest(_files(example_corpus), tmp_path / "split.db") as split:
        assert _links(split.store) == _links(example_analyzed.store)
        assert split.store.families() == example_analyzed.store.families()
        assert split.store.families() == _families_from_every_link(split.store)
        split.rebuild_stories()
        assert _stories(split.store) == _stories(example_analyzed.store)


def test_half_then_add_equals_one_run_on_the_seeds(
    seeds_analyzed: Corpus, seeds_dir: Path, tmp_path: Path
) -> None:
    with _half_then_rest(_files(seeds_dir), tmp_path / "split.db") as split:
        assert _links(split.store) == _links(seeds_analyzed.store)
        assert split.store.families() == seeds_analyzed.store.families()
        assert split.store.families() == _families_from_every_link(split.store)
        split.rebuild_stories()
        assert _stories(split.store) == _stories(seeds_analyzed.store)


def test_a_small_add_is_placed_by_the_stream_and_a_rebuild_equals_one_run(
    example_analyzed: Corpus, example_corpus: Path, tmp_path: Path
) -> None:
    files = _files(example_corpus)
    with Corpus(tmp_path / "small.db") as corpus:
        corpus.add(files[:-2])
        before = {st["id"]: set(st["articles"]) for st in corpus.stories()}
        result = corpus.add(files[-2:])
        how = result.counts["story_clustering"]
        assert how["method"] == "stream placement"
        assert how["placed"] >= 1
        after = {st["id"]: set(st["articles"]) for st in corpus.stories()}
        placed = set().union(*after.values())
        assert placed == {a.id for a in corpus.articles()}  # every article has a story
        # Stories only grow: every earlier story's articles are still together, under its id
        # or an alias of it.
        for sid, members in before.items():
            now = corpus.store.resolve_story(sid)
            assert now is not None and members <= after[now]
        assert _links(corpus.store) == _links(example_analyzed.store)
        corpus.rebuild_stories()
        assert _stories(corpus.store) == _stories(example_analyzed.store)


def test_adding_an_unrelated_article_reads_only_what_it_touches(
    example_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Corpus(tmp_path / "s.db") as corpus:
        corpus.add([str(example_corpus)])
        stored = corpus.store.count_articles()
        new = tmp_path / "new.txt"
        new.write_text(
            "---\ntitle: Glassblowers of Vennick open their winter kilns\nsource: Vennick Bell\n"
            "published: 2027-11-02\n---\n\nThe glassblowers of Vennick lit their winter kilns on "
            "Tuesday, a month later than usual, after the guild settled a quarrel over sand. "
            "Master blower Oriel Tamsin said the first pieces would be lanterns for the harbour."
        )
        read = article_reads(monkeypatch)
        monkeypatch.setattr(Store, "link_edges", None)  # no stage reads every link
        result = corpus.add([str(new)])
        assert result.counts["articles_new"] == 1
        assert corpus.store.count_articles() == stored + 1
        # The new article, read by each stage that needs it; none of the stored ones.
        (aid,) = set(read)
        assert corpus.store.get_article(aid).source == "Vennick Bell"
        assert result.counts["story_clustering"]["active_stories"] == 0


def test_sentence_vectors_persist_and_are_not_embedded_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "e.db")
    texts = ["The dam held overnight.", "Crews reopened the bridge.", "The dam held overnight."]
    first = StoredEmbedder(get_embedder("hashing"), store)
    a = first.encode(texts)
    assert first.embedded == 2
    store.close()

    class Refuses:
        name = "hashing-1024"

        def encode(self, texts: list[str]) -> np.ndarray:
            raise AssertionError(f"embedded again: {texts}")

    store = Store(tmp_path / "e.db")
    second = StoredEmbedder(Refuses(), store)  # type: ignore[arg-type]
    b = second.encode(texts)
    assert second.loaded == 2 and second.embedded == 0
    assert np.array_equal(a, b)  # what a run returns equals what a later add reads back
    store.close()


def _index_in_batches(
    texts: list[str], sigs: np.ndarray, order: list[list[int]]
) -> tuple[set[tuple[str, str]], set[tuple[str, str, float]]]:
    """The candidate pairs standing after indexing ``texts`` batch by batch, and the stored
    rewrite-neighbour lists (article, neighbour, cosine)."""
    from storyline.config import ReuseSettings

    store = Store(":memory:")
    found: set[tuple[str, str]] = set()
    for batch in order:
        for i in batch:
            store.db.execute(
                "INSERT INTO articles (id, raw, raw_sha, text, published, stage, added_at)"
                " VALUES (?, '', '', '', ?, 'linked', '')",
                (f"a{i:02d}", f"2026-03-{1 + i % 9:02d}"),
            )
            store.db.execute(
                "INSERT INTO fingerprints VALUES (?, ?, ?)", (f"a{i:02d}", f"h{i}", b"")
            )
        index = ReuseIndex(store, ReuseSettings(neighbours=3, min_tfidf=0.05))
        index.put([(f"a{i:02d}", texts[i], sigs[i]) for i in batch])
        got = index.candidates([f"a{i:02d}" for i in batch])
        with store.transaction():
            index.save_lists(got.lists)
        found = (found - got.dropped) | got.pairs
    lists = {tuple(r) for r in store.db.execute("SELECT article_id, other, score FROM neighbours")}
    return found, lists


def _reuse_texts() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words, 120)) for _ in range(30)]
    texts += [t.replace("w1 ", "x1 ") for t in texts[:5]]  # near copies
    sigs = rng.integers(0, 2**32, (len(texts), 128), dtype=np.uint64).astype(np.uint32)
    sigs[30:] = sigs[:5]
    return texts, sigs


def test_the_index_finds_the_same_pairs_whatever_the_order_articles_came_in() -> None:
    texts, sigs = _reuse_texts()
    everything, lists = _index_in_batches(texts, sigs, [list(range(len(texts)))])
    assert {(f"a{i:02d}", f"a{i + 30:02d}") for i in range(5)} <= everything
    order = list(range(len(texts)))
    np.random.default_rng(5).shuffle(order)
    assert _index_in_batches(texts, sigs, [order[:12], order[12:20], order[20:]]) == (
        everything, lists
    )  # fmt: skip


def test_a_stored_list_a_new_article_enters_is_grown_not_chosen_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stored article that a new, earlier one may join as a rewrite neighbour keeps its list
    and takes the new one in by its cosine (``_grown``), without reading its window again; the
    lists and pairs equal those of indexing everything at once, in any order."""
    texts, sigs = _reuse_texts()
    everything = _index_in_batches(texts, sigs, [list(range(len(texts)))])
    chosen: list[str] = []
    grown: list[tuple[int, int]] = []
    choose_all, grow = ReuseIndex._choose_all, ReuseIndex._grown

    def spy_choose(self: ReuseIndex, ids: list[str], *args: Any) -> Any:
        chosen.extend(ids)
        return choose_all(self, ids, *args)

    def spy_grow(self: ReuseIndex, stored: Any, entering: Any) -> Any:
        out = grow(self, stored, entering)
        grown.append((len(stored), len({o for o, _ in out} - {o for o, _ in stored})))
        return out

    monkeypatch.setattr(ReuseIndex, "_choose_all", spy_choose)
    monkeypatch.setattr(ReuseIndex, "_grown", spy_grow)
    for seed in (5, 6, 7):
        order = list(range(len(texts)))
        np.random.default_rng(seed).shuffle(order)
        batches = [order[:10], order[10:18], order[18:26], order[26:]]
        chosen.clear()
        assert _index_in_batches(texts, sigs, batches) == everything
        assert len(chosen) == len(texts)  # each article chose its list once, when it came
    # Stored lists were grown, full ones among them, and new articles entered them.
    assert any(size == 3 and entered for size, entered in grown)


def _near_sets(ids: list[str], found: tuple[list[str], list[np.ndarray]]) -> dict[str, set[str]]:
    union, rows = found
    return {a: {union[c] for c in row} for a, row in zip(ids, rows, strict=True)}


def _joined(self: ReuseIndex, ids: list[str], windowed: bool) -> dict[str, set[str]]:
    """The articles sharing a strong term with each of ``ids`` by a join of the index with
    itself: within each one's days (a day more than the window either side; undated rows
    always, every row for an undated one), or at any date."""
    days = self._days(ids)
    reach = self.settings.window_days + 1.0
    near: dict[str, set[str]] = {i: set() for i in ids}
    for i in ids:
        day = days.get(i, UNDATED)
        when = "" if not windowed or day == UNDATED else " AND (m.day = ? OR m.day BETWEEN ? AND ?)"
        args = () if not when else (UNDATED, day - reach, day + reach)
        for (b,) in self.db.execute(
            "SELECT DISTINCT m.article_id FROM term_index l"
            " JOIN term_index m ON m.term = l.term AND m.article_id != l.article_id"
            f" WHERE l.article_id = ?{when}",
            (i, *args),
        ):
            near[i].add(b)
    return near


def _unwindowed(
    self: ReuseIndex, ids: list[str], days: dict[str, float]
) -> tuple[list[str], list[np.ndarray]]:
    """``_near`` at any date."""
    near = _joined(self, ids, windowed=False)
    union = sorted(set().union(*near.values()))
    col = {o: k for k, o in enumerate(union)}
    return union, [np.array(sorted(col[o] for o in near[a]), dtype=np.int64) for a in ids]


def test_rewrite_neighbours_looked_up_by_day_equal_those_of_every_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The term index answers by day (the window and a day more); the neighbours chosen are
    those chosen among every article sharing a term: dated over 40 days (and at the edge of
    the window), date-only, naive, undated."""
    from storyline.config import ReuseSettings

    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choice(words, 80)) for _ in range(48)]
    dates: list[str | None] = [f"2026-03-01T{i % 24:02d}:00:00+00:00" for i in range(48)]
    for i in range(48):
        day = 1 + (i * 7) % 40
        dates[i] = f"2026-{3 + day // 31:02d}-{1 + day % 31:02d}T{i % 24:02d}:30:00+00:00"
    dates[5] = dates[6] = None  # undated
    dates[7] = "2026-03-09"  # a date alone
    dates[8] = "2026-03-16T12:00:00"  # no zone
    dates[9], dates[10] = "2026-03-20T00:00:00+00:00", "2026-03-27T00:00:00+00:00"  # 7 days
    store = Store(":memory:")
    for i, when in enumerate(dates):
        store.db.execute(
            "INSERT INTO articles (id, raw, raw_sha, text, published, stage, added_at)"
            " VALUES (?, '', '', '', ?, 'linked', '')",
            (f"a{i:02d}", when),
        )
    index = ReuseIndex(store, ReuseSettings(neighbours=4, min_tfidf=0.05))
    sigs = np.zeros((len(texts), 128), dtype=np.uint32)
    index.put([(f"a{i:02d}", t, sigs[i]) for i, t in enumerate(texts)])
    ids = [f"a{i:02d}" for i in range(len(texts))]
    by_day = sorted((a, c, set(later)) for a, c, later in index._choose_all(ids, {}, {}))
    # The index read by day, paired by one sparse product: the pairs the join gives, for
    # the chunk together and for each article alone.
    windowed = _near_sets(ids, index._near(ids, index._days(ids)))
    assert windowed == _joined(index, ids, windowed=True)
    for a in ("a05", "a07", "a08", "a09"):
        assert _near_sets([a], index._near([a], index._days([a]))) == {a: windowed[a]}
    monkeypatch.setattr(ReuseIndex, "_near", _unwindowed)
    every = sorted((a, c, set(later)) for a, c, later in index._choose_all(ids, {}, {}))
    assert by_day == every
    assert sum(len(chosen) for _, chosen, _ in every) > 48  # the lists are not empty
    # The lookup by day left out articles: it is not every date's.
    unwindowed = _joined(index, ids, windowed=False)
    assert sum(map(len, windowed.values())) < sum(map(len, unwindowed.values()))
    assert windowed["a05"] == unwindowed["a05"]  # undated: every date


def _store_before(path: Path, migration: str) -> Any:
    """A store at ``path`` as a version before ``migration`` made it (an open sqlite3
    connection, to fill before ``Store`` opens and migrates it)."""
    import sqlite3

    from storyline.store import MIGRATIONS

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    upto = [n for n, _ in MIGRATIONS].index(migration)
    for name, sql in MIGRATIONS[:upto]:
        db.executescript(sql)
        db.execute("INSERT INTO migrations VALUES (?, '')", (name,))
    return db


def test_a_term_index_made_before_days_gets_them(tmp_path: Path) -> None:
    """A store made before the term index held days is given them from its articles' dates
    (undated: every window's)."""
    path = tmp_path / "old.db"
    db = _store_before(path, "0011_term_days")
    for aid, when in (("a", "2026-03-02T12:00:00+00:00"), ("b", None), ("c", "2026-03-09")):
        db.execute(
            "INSERT INTO articles (id, raw, raw_sha, text, published, stage, added_at)"
            " VALUES (?, '', '', '', ?, 'linked', '')",
            (aid, when),
        )
        db.execute("INSERT INTO term_index VALUES (7, ?)", (aid,))
    db.commit()
    db.close()
    store = Store(path)
    days = dict(store.db.execute("SELECT article_id, day FROM term_index").fetchall())
    assert days == {"a": 20514.5, "b": -1e12, "c": 20521.0}


def test_stored_vectors_move_to_the_appended_table_and_read_back(tmp_path: Path) -> None:
    """A store whose sentence vectors were kept in key order gets them in the appended table
    (rowid order, unique index on model and key), every vector as it was; adding one that is
    there already changes nothing, a new one is found."""
    path = tmp_path / "old.db"
    db = _store_before(path, "0013_embeddings_appended")
    rng = np.random.default_rng(3)
    old = {bytes([k]) * 16: rng.standard_normal(8).astype(np.float16) for k in range(40)}
    db.executemany("INSERT INTO embeddings VALUES ('m', ?, ?)",
                   [(k, v.astype("<f2").tobytes()) for k, v in old.items()])  # fmt: skip
    db.commit()
    db.close()
    store = Store(path)
    table = store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'embeddings'").fetchone()
    assert "WITHOUT ROWID" not in table[0]
    got = store.load_embeddings("m", list(old))
    assert set(got) == set(old) and all(np.array_equal(got[k], old[k]) for k in old)
    fresh = np.ones(8, dtype=np.float16)
    store.save_embeddings("m", [(bytes([1]) * 16, fresh), (b"new" * 5 + b"!", fresh)])
    assert np.array_equal(
        store.load_embeddings("m", [bytes([1]) * 16])[bytes([1]) * 16], old[bytes([1]) * 16]
    )
    assert np.array_equal(store.load_embeddings("m", [b"new" * 5 + b"!"])[b"new" * 5 + b"!"], fresh)
    assert store.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 41
    assert store.load_embeddings("other", list(old)) == {}
    store.close()


def test_the_articles_at_a_stage_are_found_by_an_index_not_a_scan(tmp_path: Path) -> None:
    """Each stage asks for the articles at the stage before it, and counts the linked ones:
    on a store migrated from before the stage index, every such query reads the index."""
    path = tmp_path / "old.db"
    db = _store_before(path, "0014_articles_stage")
    db.executemany(
        "INSERT INTO articles (id, raw, raw_sha, text, published, stage, added_at)"
        " VALUES (?, ?, '', ?, ?, ?, '')",
        [(f"a{i:03d}", "x" * 5000, "y" * 5000, f"2026-03-{1 + i % 28:02d}",
          ("linked", "segmented")[i % 2]) for i in range(60)],
    )  # fmt: skip
    db.commit()
    db.close()
    store = Store(path)
    index = ReuseIndex(store, Settings().reuse)
    queries = [
        ("SELECT id FROM articles WHERE stage = ? ORDER BY published IS NULL, published, id",
         ("segmented",)),
        ("SELECT COUNT(*) FROM articles WHERE stage = 'linked'", ()),
        ("SELECT a.id FROM articles a LEFT JOIN term_vectors v ON v.article_id = a.id"
         " WHERE a.stage = 'linked' AND v.article_id IS NULL", ()),
    ]  # fmt: skip
    for sql, args in queries:
        plan = " ".join(r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
        assert "articles_stage" in plan and "SCAN articles" not in plan.replace("USING", ""), plan
    ids = store.ids_at_stage("segmented")
    assert len(ids) == 30 and ids == sorted(ids, key=lambda a: (int(a[1:]) % 28, a))
    assert len(index.unindexed()) == 30
    store.close()


def test_term_vectors_and_band_keys_are_deterministic() -> None:
    a = term_vector("Mayor Ada Kessler said the Halloran bridge would reopen on Monday.")
    b = term_vector("Mayor Ada Kessler said the Halloran bridge would reopen on Monday.")
    assert np.array_equal(a.terms, b.terms) and np.array_equal(a.weights, b.weights)
    assert abs(float(np.dot(a.weights, a.weights)) - 1.0) < 1e-5
    sig = np.arange(128, dtype=np.uint32).reshape(1, 128)
    assert np.array_equal(band_keys(sig, 25, 5), band_keys(sig.copy(), 25, 5))
    other = sig.copy()
    other[0, 0] += 1
    keys, changed = band_keys(sig, 25, 5)[0], band_keys(other, 25, 5)[0]
    assert keys[0] != changed[0] and np.array_equal(keys[1:], changed[1:])


def test_linking_a_block_at_a_time_gives_the_same_links(
    example_analyzed: Corpus, example_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storyline.pipeline
    import storyline.reuse.index

    monkeypatch.setattr(storyline.pipeline, "_REUSE_BLOCK", 5)
    # Term neighbours looked up 2 articles at a time: the same candidates.
    monkeypatch.setattr(storyline.reuse.index, "NEAR_CHUNK", 2)
    with Corpus(tmp_path / "blocks.db") as corpus:
        corpus.add([str(example_corpus)])
        assert _links(corpus.store) == _links(example_analyzed.store)
        assert corpus.store.families() == example_analyzed.store.families()
        assert corpus.store.families() == _families_from_every_link(corpus.store)


def test_a_full_vector_cache_still_returns_every_vector(tmp_path: Path) -> None:
    from storyline.embed import CachedEmbedder, HashingEmbedder

    store = Store(tmp_path / "e.db")
    # Room for two hashing vectors (1,024 float32 each) in either cache.
    inner = CachedEmbedder(HashingEmbedder(), max_bytes=2 * 4096)
    embedder = StoredEmbedder(inner, store, max_bytes=2 * 4096)
    first = embedder.encode(["one text", "two text"])
    # The caches are full: the oldest vectors go to take the new texts, and every vector
    # asked for still returns, the same as before.
    again = embedder.encode(["one text", "three text", "four text", "five text"])
    assert np.array_equal(again[0], first[0]) and again.shape == (4, first.shape[1])
    assert embedder.cache.nbytes <= 2 * 4096 and inner.cache.nbytes <= 2 * 4096
    direct = inner.encode(["one text", "six text", "seven text", "two text"])
    assert np.array_equal(direct[3], HashingEmbedder().encode(["two text"])[0])
    store.close()


def test_a_store_fingerprinted_another_way_is_fingerprinted_again(tmp_path: Path) -> None:
    body = (
        "The ferry between Carrow and the Isle of Tenby will stop for six weeks from Monday "
        "while its hull is repaired, the harbour board said. Islanders will be carried by a "
        "chartered launch twice a day, and freight will go by the Friday barge. Board chair "
        "Wenna Hale said the repair could not wait for the spring. The island's school will "
        "open an hour late so that teachers from the mainland can arrive on the morning launch."
    )
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text(f"---\ntitle: Tenby ferry to stop\nsource: Carrow Post\npublished: "
                     f"2027-03-01\n---\n\n{body}")  # fmt: skip
    second.write_text(f"---\ntitle: Ferry stops for repairs\nsource: Isle Times\npublished: "
                      f"2027-03-02\n---\n\n{body.replace('six weeks', 'seven weeks')}")  # fmt: skip
    with Corpus(tmp_path / "s.db") as corpus:
        corpus.add([str(first)])
        store = corpus.store
        (aid,) = [a.id for a in corpus.articles()]
        signature = store.fingerprints([aid])[aid][1]
        # As a store made by another MinHash would be: other signatures and band keys.
        with store.transaction():
            store.db.execute("UPDATE fingerprints SET signature = zeroblob(512)")
            store.db.execute("UPDATE lsh_bands SET key = key + 1")
        store.set_state("fingerprint_scheme", "another-minhash")
        corpus.add([str(second)])
        assert store.fingerprints([aid])[aid][1] == signature
        assert store.state("fingerprint_scheme") != "another-minhash"
        kinds = {ln["kind"] for ln in store.links()}
        assert kinds & {"near_duplicate", "exact_duplicate", "syndicated"}, kinds


def test_a_story_that_gained_an_article_scores_only_its_new_sentence_pairs(
    example_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """...and searches partners for its new sentences only (every story's partners are kept
    here, not only large ones')."""
    from storyline.digest import build_digest, story_docs

    monkeypatch.setattr(importlib.import_module("storyline.digest.facts"), "PARTNERS_MIN_UNITS", 0)
    files = _files(example_corpus)
    with Corpus(tmp_path / "s.db") as corpus:
        first = corpus.add(files[:-1])
        kept = corpus.store.db.execute("SELECT COUNT(*) FROM fact_partners").fetchone()[0]
        assert kept == len(corpus.stories())

        def named() -> int:  # texts whose names the digest's extractor has read
            return int(
                corpus.store.db.execute(
                    "SELECT COUNT(*) FROM entities WHERE extractor NOT LIKE 'rules%'"
                ).fetchone()[0]
            )

        before = named()
        result = corpus.add(files[-1:])
        assert result.counts["fact_pairs_reused"] > 0
        assert result.counts["fact_pairs_scored"] < first.counts["fact_pairs_scored"]
        # Partners are searched for the sentences this add segmented, not the stories' others.
        assert 0 < result.counts["fact_sentences_searched"] <= result.counts["sentences"]
        assert result.counts["sentences"] < first.counts["fact_sentences_searched"]
        # Only the new articles' names are read: the touched story's others are stored.
        assert 0 < named() - before <= result.counts["articles_new"]
        # The digests made from stored scores equal digests made from nothing.
        store, families = corpus.store, corpus.store.families()
        for st in store.stories():
            docs, roots = story_docs(store, st, families)
            fresh = build_digest(docs, roots, corpus.settings, st["id"])
            assert json.loads(json.dumps(fresh)) == store.digest(st["id"])


def test_a_story_split_off_reads_the_scored_pairs_of_the_story_it_left(
    example_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild or a correction gives stories new ids and new members; a story made again
    reads the scored sentence pairs of every story its articles were digested in, and makes
    the same digest as from nothing."""
    from storyline import pipeline
    from storyline.stories.build import build_stories

    digest_stage = [s for s in pipeline.STAGES if s[0] == "digest"]
    runs = {}
    for inherit in (True, False):
        if not inherit:
            monkeypatch.setattr(pipeline, "_digested_in", lambda *a: {})
        with Corpus(tmp_path / f"{inherit}.db") as corpus:
            corpus.add(_files(example_corpus))
            big = max(corpus.stories(), key=lambda s: (len(s["articles"]), s["id"]))
            corpus.store.add_override("split", sorted(big["articles"])[: len(big["articles"]) // 2])
            stories, aliases = build_stories(corpus.store, corpus.settings)
            corpus.store.save_stories(stories, aliases)
            result = pipeline.run_pipeline(corpus.store, [], corpus.settings, stages=digest_stage)
            runs[inherit] = (result.counts, _stories(corpus.store))
    (with_, digests), (without, digests_without) = runs[True], runs[False]
    assert digests == digests_without
    assert with_["fact_pairs_reused"] > without["fact_pairs_reused"]
    assert with_["fact_pairs_scored"] < without["fact_pairs_scored"]
