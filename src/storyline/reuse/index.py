"""Candidate pairs for new articles from indexes kept in the store, so ``add`` costs what is
added and not what is stored.

Three kinds of candidate, each a property of the pair alone, so the pairs found do not
depend on the order articles arrived in (one run over everything and a run over half then
``add`` of the rest compare the same pairs):

* **exact**: the same normalised-text hash (``fingerprints.exact``, indexed);
* **near-duplicate**: the same MinHash LSH band key in any band (``lsh_bands``, indexed by
  band and key; a band key is a 64-bit hash of the band's values);
* **rewrite**: among an article's earlier articles (canonical order: published, then id)
  within ``window_days`` that share one of its strongest terms, the ``neighbours`` closest
  by cosine of weighted terms, if at least ``min_tfidf``. A copy comes after its source, so
  an article is compared with the nearest articles that came before it.

Terms are weighted by sublinear term frequency times an inverse document frequency taken
from general English word frequencies (wordfreq's Zipf scale), not from the corpus: a
weight never changes as the store grows, so an article's vector is computed once, stored,
and means the same in every later run. (Words wordfreq does not know, such as most names,
weigh most: they are what a rewrite keeps.)

When a new article lands before stored ones (a backfill) or a stored one is cleaned again,
the later articles near it have their neighbours chosen again; a pair that leaves every
list, and is no exact or LSH candidate, loses its comparison.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from storyline.config import ReuseSettings

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_LN10 = math.log(10.0)
#: How many of an article's strongest terms go into the inverted index.
INDEX_TERMS = 20
#: Articles whose term neighbours are looked up at once (``ReuseIndex._choose_all``).
NEAR_CHUNK = 200


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@lru_cache(maxsize=500_000)
def idf(word: str) -> float:
    """-ln(frequency in general English): 9 ln 10 for a word wordfreq has never seen."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover - wordfreq ships with the ml extra
        return 9.0 * _LN10
    return (9.0 - float(zipf_frequency(word, "en"))) * _LN10


@lru_cache(maxsize=500_000)
def term_id(word: str) -> int:
    return zlib.crc32(word.encode("utf-8", "surrogatepass"))


@dataclass
class TermVector:
    """An article's unit-length weighted terms (ids sorted) and its strongest terms."""

    terms: np.ndarray  # int64, sorted
    weights: np.ndarray  # float32, unit length
    top: list[int] = field(default_factory=list)

    def to_row(self) -> tuple[bytes, bytes]:
        return self.terms.astype("<i8").tobytes(), self.weights.astype("<f4").tobytes()

    @classmethod
    def from_row(cls, terms: bytes, weights: bytes) -> TermVector:
        return cls(np.frombuffer(terms, dtype="<i8"), np.frombuffer(weights, dtype="<f4"))


#: The day the term index holds for an undated article.
UNDATED = -1e12


def term_vector(text: str, index_terms: int = INDEX_TERMS) -> TermVector:
    stop = _stop_words()
    counts = Counter(w for w in _TOKEN.findall(text.lower()) if w not in stop)
    if not counts:
        return TermVector(np.zeros(0, np.int64), np.zeros(0, np.float32))
    by_id: dict[int, float] = {}
    for word, tf in counts.items():
        tid = term_id(word)
        by_id[tid] = by_id.get(tid, 0.0) + (1.0 + math.log(tf)) * idf(word)
    ids = np.fromiter(by_id, dtype=np.int64, count=len(by_id))
    w = np.fromiter(by_id.values(), dtype=np.float64, count=len(by_id))
    order = np.argsort(ids)
    ids, w = ids[order], w[order]
    w /= float(np.sqrt(np.sum(w * w))) or 1.0
    strongest = np.lexsort((ids, -w))[:index_terms]
    return TermVector(ids, w.astype(np.float32), sorted(int(ids[i]) for i in strongest))


def cosine(a: TermVector, b: TermVector) -> float:
    _, ia, ib = np.intersect1d(a.terms, b.terms, assume_unique=True, return_indices=True)
    return float(np.dot(a.weights[ia].astype(np.float64), b.weights[ib].astype(np.float64)))


def cosines(a: TermVector, others: list[TermVector]) -> np.ndarray:
    """``cosine(a, o)`` for each of ``others`` at once (sums of the same products)."""
    out = np.zeros(len(others), dtype=np.float64)
    sizes = np.array([len(o.terms) for o in others], dtype=np.int64)
    if not len(a.terms) or not sizes.any():
        return out
    terms = np.concatenate([o.terms for o in others])
    weights = np.concatenate([o.weights for o in others]).astype(np.float64)
    at = np.minimum(np.searchsorted(a.terms, terms), len(a.terms) - 1)
    hit = a.terms[at] == terms
    products = np.where(hit, weights * a.weights[at].astype(np.float64), 0.0)
    owner = np.repeat(np.arange(len(others)), sizes)
    return np.bincount(owner, weights=products, minlength=len(others))


def cosine_matrix(rows: list[TermVector], columns: list[TermVector]) -> np.ndarray:
    """``cosines(r, columns)`` of every one of ``rows`` (rows x columns), from one sparse
    product. Bit for bit the same: each cosine sums the products of the shared terms in
    ascending term order, as ``cosines`` does (its other products are exact zeros), and
    scipy's product sums a row's terms in the order they are stored (sorted here)."""
    from scipy import sparse

    out = np.zeros((len(rows), len(columns)), dtype=np.float64)
    if not rows or not columns:
        return out
    vocab = np.unique(np.concatenate([v.terms for v in (*rows, *columns)]))
    if not len(vocab):
        return out

    def matrix(vectors: list[TermVector]) -> sparse.csr_matrix:
        sizes = np.array([len(v.terms) for v in vectors], dtype=np.int64)
        indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        m = sparse.csr_matrix(
            (
                np.concatenate([v.weights for v in vectors]).astype(np.float64),
                np.searchsorted(vocab, np.concatenate([v.terms for v in vectors])),
                indptr,
            ),
            shape=(len(vectors), len(vocab)),
        )
        m.check_format(full_check=True)  # sorted, in range: scipy's product trusts them
        return m

    return np.asarray((matrix(rows) @ matrix(columns).T).toarray(), dtype=np.float64)


_P1 = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents x bands) int64 keys: a 64-bit hash of each band's ``rows`` values."""
    sig = signatures.astype(np.uint64)
    out = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h = np.full(sig.shape[0], np.uint64(band + 1) * _P2, dtype=np.uint64)
            for j in range(rows):
                h = (h ^ sig[:, band * rows + j]) * _P1
                h ^= h >> np.uint64(29)
            out[:, band] = h
    return out.view(np.int64)


def canonical(published: str | None, aid: str) -> tuple[bool, str, str]:
    """An article's place in canonical order (undated last, then by time, then by id)."""
    return (published is None, published or "", aid)


def group_pairs(key: str, members: list[tuple[str, bool]]) -> Iterator[tuple[str, str]]:
    """The pairs (smaller id, larger id) of the articles sharing one key, those with a new
    article among them (``members``: (id, is new))."""
    ids = sorted({a for a, _ in members})
    new = {a for a, is_new in members if is_new}
    for n, a in enumerate(ids):
        for b in ids[n + 1 :]:
            if a in new or b in new:
                yield a, b


@dataclass
class Candidates:
    """What the index found for the articles being linked."""

    pairs: set[tuple[str, str]]  # (smaller id, larger id): the pairs to compare now
    lists: dict[str, list[tuple[str, float]]]  # rewrite neighbours chosen again, per article
    dropped: set[tuple[str, str]]  # stored comparisons no candidate any more


class ReuseIndex:
    """The store's reuse indexes: band keys, term vectors and chosen neighbours."""

    def __init__(self, store: Any, settings: ReuseSettings, engine: Any = None) -> None:
        from storyline.engine import LocalEngine
        from storyline.reuse.fingerprint import optimal_bands

        self.store = store
        self.engine = engine or LocalEngine()
        self.db = store.db
        self.settings = settings
        self.bands, self.rows = optimal_bands(settings.lsh_threshold, settings.num_perm)
        self._epochs: dict[str, float | None] = {}

    # -- writing ------------------------------------------------------------------------
    def put(self, items: list[tuple[str, str, np.ndarray]]) -> None:
        """Index (id, text, MinHash signature) rows, replacing what an article had (a
        re-cleaned article comes back with new text)."""
        if not items:
            return
        keys = band_keys(np.stack([it[2] for it in items]), self.bands, self.rows)
        vectors = [term_vector(it[1]) for it in items]
        with self.store.transaction():
            for aid, *_ in items:
                for table in ("lsh_bands", "term_index", "term_vectors"):
                    self.db.execute(f"DELETE FROM {table} WHERE article_id = ?", (aid,))
            self.db.executemany(
                "INSERT OR IGNORE INTO lsh_bands VALUES (?, ?, ?)",
                [
                    (band, int(keys[n, band]), it[0])
                    for n, it in enumerate(items)
                    for band in range(self.bands)
                ],
            )
            self.db.executemany(
                "INSERT INTO term_vectors VALUES (?, ?, ?)",
                [(it[0], *v.to_row()) for it, v in zip(items, vectors, strict=True)],
            )
            days = self._days([it[0] for it in items])
            self.db.executemany(
                "INSERT OR IGNORE INTO term_index (term, day, article_id) VALUES (?, ?, ?)",
                [
                    (t, days.get(it[0], UNDATED), it[0])
                    for it, v in zip(items, vectors, strict=True)
                    for t in v.top
                ],
            )

    def unindexed(self) -> list[str]:
        """Linked articles with no index rows (a store made before the indexes existed)."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT a.id FROM articles a LEFT JOIN term_vectors v ON v.article_id = a.id"
                " WHERE a.stage = 'linked' AND v.article_id IS NULL"
            )
        ]

    # -- reading ------------------------------------------------------------------------
    def _linking(self, ids: Iterable[str]) -> None:
        """The ids a query joins against, as the temporary table ``temp.linking``."""
        self.db.execute("DROP TABLE IF EXISTS temp.linking")
        self.db.execute("CREATE TEMP TABLE linking (id)")
        self.db.executemany("INSERT INTO temp.linking VALUES (?)", [(i,) for i in ids])

    def _vectors(self, ids: Iterable[str]) -> dict[str, TermVector]:
        ids = list(ids)
        out: dict[str, TermVector] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.execute(
                f"SELECT article_id, terms, weights FROM term_vectors WHERE article_id IN ({marks})",
                chunk,
            ):
                out[r[0]] = TermVector.from_row(r[1], r[2])
        return out

    def _published(self, ids: Iterable[str]) -> dict[str, str | None]:
        return dict(self.store.published_of(list(ids)))

    def exact_and_lsh(self, ids: list[str]) -> set[tuple[str, str]]:
        """Pairs (unordered, as sorted tuples) with one of ``ids`` sharing an exact hash or a
        band key: the rows of every key one of ``ids`` holds, grouped by key on the engine
        (``group_pairs`` per group)."""
        self._linking(ids)
        new = set(ids)
        rows = (
            (key, (aid, aid in new))
            for key, aid in self.db.execute(
                "SELECT 'x' || g.exact, g.article_id FROM fingerprints g WHERE g.exact IN"
                " (SELECT f.exact FROM temp.linking t JOIN fingerprints f ON f.article_id = t.id)"
                " UNION ALL SELECT 'b' || m.band || ':' || m.key, m.article_id FROM lsh_bands m"
                " WHERE (m.band, m.key) IN (SELECT l.band, l.key FROM temp.linking t"
                " JOIN lsh_bands l ON l.article_id = t.id)"
            )
        )
        return set(self.engine.group_flat_map(group_pairs, rows, "candidates"))

    def _days(self, ids: list[str]) -> dict[str, float]:
        """Each article's day as the term index holds it (``UNDATED`` when it has none)."""
        from storyline.stories.stream import epoch

        out = {}
        for aid, published in self._published(set(ids)).items():
            t = epoch(published)
            out[aid] = UNDATED if t is None else t / 86400.0
        return out

    def _near(self, ids: list[str], days: dict[str, float]) -> tuple[list[str], list[np.ndarray]]:
        """The indexed articles that share one of its strongest terms with each of ``ids``
        and may lie in its time window (a day more than the window either side, as the index
        holds days; ``_choose_all`` checks the window itself; undated ones always), ``days``
        as ``_days`` gives them: their ids, sorted, and for each of ``ids`` its own places
        among them.

        SQLite reads each of the chunk's terms' rows once, within the chunk's days, and one
        sparse product pairs them with the chunk's articles (the same pairs a join of the
        index with itself gives, and an order of magnitude cheaper: the join visited a term's
        rows once for every article of the chunk that holds it and kept them unique in a
        temporary B-tree)."""
        from scipy import sparse

        reach = self.settings.window_days + 1.0
        self._linking(ids)
        place = {a: n for n, a in enumerate(ids)}
        held = self.db.execute(
            "SELECT t.id, m.term FROM temp.linking t CROSS JOIN term_index m ON m.article_id = t.id"
        ).fetchall()
        empty = np.zeros(0, np.int64)
        if not held:
            return [], [empty for _ in ids]
        rows = np.fromiter((place[a] for a, _ in held), np.int64, len(held))
        terms = np.fromiter((t for _, t in held), np.int64, len(held))
        vocab = np.unique(terms)
        dated = [days[a] for a in ids if days.get(a, UNDATED) != UNDATED]
        self.db.execute("DROP TABLE IF EXISTS temp.choosing")
        self.db.execute("CREATE TEMP TABLE choosing (term INTEGER PRIMARY KEY)")
        self.db.executemany("INSERT INTO temp.choosing VALUES (?)", ((int(t),) for t in vocab))
        join = (
            "SELECT m.term, m.day, m.article_id FROM temp.choosing t"
            " CROSS JOIN term_index m ON m.term = t.term"
        )
        if len(dated) == len(ids):  # every one dated: the chunk's days, and the undated
            found = self.db.execute(
                f"{join} AND m.day BETWEEN ? AND ? UNION ALL {join} AND m.day = ?",
                (min(dated) - reach, max(dated) + reach, UNDATED),
            ).fetchall()
        else:
            found = self.db.execute(join).fetchall()
        code: dict[str, int] = {}
        cand = np.fromiter((code.setdefault(a, len(code)) for *_, a in found), np.int64, len(found))
        union = list(code)
        cand_day = np.full(len(union), UNDATED)
        cand_day[cand] = np.fromiter((d for _, d, _ in found), np.float64, len(found))
        shape = (len(vocab), len(union))
        by_term = sparse.csr_matrix(
            (
                np.ones(len(found), np.int32),
                (
                    np.searchsorted(
                        vocab, np.fromiter((t for t, *_ in found), np.int64, len(found))
                    ),
                    cand,
                ),
            ),
            shape=shape,
        )
        holds = sparse.csr_matrix(
            (np.ones(len(held), np.int32), (rows, np.searchsorted(vocab, terms))),
            shape=(len(ids), len(vocab)),
        )
        shared = (holds @ by_term).tocsr()
        # Columns in id order, as the join's callers had them sorted.
        order = sorted(range(len(union)), key=union.__getitem__)
        new_col = np.empty(len(union), np.int64)
        new_col[np.array(order, dtype=np.int64)] = np.arange(len(union))
        out = []
        for n, a in enumerate(ids):
            cols = shared.indices[shared.indptr[n] : shared.indptr[n + 1]].astype(np.int64)
            day = days.get(a, UNDATED)
            if day != UNDATED:
                d = cand_day[cols]
                cols = cols[(d == UNDATED) | ((d >= day - reach) & (d <= day + reach))]
            if a in code:
                cols = cols[cols != code[a]]
            out.append(np.sort(new_col[cols]))
        return [union[k] for k in order], out

    def _choose_all(
        self,
        ids: list[str],
        vectors: dict[str, TermVector],
        published: dict[str, str | None],
        skip: set[str] | frozenset[str] = frozenset(),
    ) -> Iterator[tuple[str, list[tuple[str, float]], list[tuple[str, float]]]]:
        """Each of ``ids`` (those indexed) with its rewrite neighbours and the later articles
        close to it (but not in ``skip``), with their cosines (rounded as stored),
        ``NEAR_CHUNK`` articles at a time: the articles sharing a strong term with one can be
        most of the store, so they are held for a chunk, not for all of ``ids``. ``vectors``
        and ``published`` are filled as read.

        For each article the time window is checked first, then the cosine (its row of the
        chunk's ``cosine_matrix``), both over arrays of the chunk's columns. Neighbours are
        ranked by the rounded cosine, ties by id: what a stored list keeps, so that
        ``_grown`` can add to it."""
        from storyline.stories.stream import epoch

        cfg = self.settings
        when = self._epochs
        # Chunks of articles close in time, so that each reads the index over a few days.
        days = self._days(ids)
        ids = sorted(ids, key=lambda a: (days.get(a, UNDATED), a))
        for start in range(0, len(ids), NEAR_CHUNK):
            chunk = ids[start : start + NEAR_CHUNK]
            union, near = self._near(chunk, days)
            need = ({*chunk} | set(union)) - set(vectors)
            vectors.update(self._vectors(sorted(need)))
            published.update(self._published(set(vectors) - set(published)))
            # The cosines of the chunk with every article near one of it, in one product.
            mine = [n for n, a in enumerate(chunk) if a in vectors]
            table = cosine_matrix([vectors[chunk[n]] for n in mine], [vectors[o] for o in union])
            for x in (*(chunk[n] for n in mine), *union):
                if x not in when:
                    when[x] = epoch(published[x])
            # Each column's time (NaN: undated) and place in canonical order among all here.
            times = np.array([np.nan if when[o] is None else when[o] for o in union])
            order = sorted({*(chunk[n] for n in mine), *union},
                           key=lambda x: canonical(published[x], x))  # fmt: skip
            rank = {x: r for r, x in enumerate(order)}
            ranks = np.array([rank[o] for o in union], dtype=np.int64)
            skipped = np.array([o in skip for o in union], dtype=bool)
            for row, n in enumerate(mine):
                aid, cols = chunk[n], near[n]
                mine_t = when[aid]
                if mine_t is not None:
                    t = times[cols]
                    cols = cols[np.isnan(t) | (np.abs(mine_t - t) / 86400.0 <= cfg.window_days)]
                score = table[row][cols].astype(np.float64)
                kept = score >= cfg.min_tfidf
                cols, score = cols[kept], score[kept]
                before = ranks[cols] < rank[aid]
                after = ~before & ~skipped[cols]
                yield (
                    aid,
                    self._best(union, cols[before], score[before]),
                    [
                        (union[c], round(x, 6))
                        for c, x in zip(cols[after].tolist(), score[after].tolist(), strict=True)
                    ],
                )

    def _best(
        self, union: list[str], cols: np.ndarray, score: np.ndarray
    ) -> list[tuple[str, float]]:
        """The ``neighbours`` best of ``cols`` by cosine rounded to 6 places, ties by id. Only
        those within 1e-6 of the n-th best raw cosine can be among them once rounded."""
        k = self.settings.neighbours
        if len(score) > k:
            floor = np.partition(score, len(score) - k)[len(score) - k]
            close = score >= floor - 1e-6
            cols, score = cols[close], score[close]
        ranked = sorted(
            (-round(x, 6), union[c]) for c, x in zip(cols.tolist(), score.tolist(), strict=True)
        )
        return [(o, -x) for x, o in ranked[:k]]

    def candidates(self, ids: list[str], later: Iterable[str] = ()) -> Candidates:
        """Every candidate pair that involves one of ``ids`` (already indexed), the rewrite
        neighbours of the articles whose choice changes, and the stored pairs that no rule
        names any more. Articles in ``later`` (indexed, to be linked in a later call) are left
        to that call: no pair with one of them is returned now."""
        ids = list(dict.fromkeys(ids))
        deferred = set(later)
        pending = set(ids) | deferred
        pairs: set[tuple[str, str]] = set(self.exact_and_lsh(ids))
        # Later stored articles that listed a pending one must choose again (its vector changed).
        relist = self._listing(ids) - pending
        vectors: dict[str, TermVector] = {}
        published: dict[str, str | None] = {}
        lists: dict[str, list[tuple[str, float]]] = {}
        # Later stored articles close to a new one: it may enter their lists.
        entering: dict[str, list[tuple[str, float]]] = {}
        for aid, chosen, after in self._choose_all(ids, vectors, published, pending):
            lists[aid] = chosen
            for o, score in after:
                entering.setdefault(o, []).append((aid, score))
        affected = relist | set(entering)
        old_lists = self._stored_lists(sorted(affected)) if affected else {}
        for aid, chosen, _ in self._choose_all(sorted(relist), vectors, published):
            lists[aid] = chosen
        for aid in sorted(set(entering) - relist):
            lists[aid] = self._grown(old_lists.get(aid, []), entering[aid])
        for aid, chosen in lists.items():
            before = {o for o, _ in old_lists.get(aid, ())}
            for o, _ in chosen:
                # A stored pair a list names again is already compared.
                if aid in pending or o in pending or o not in before:
                    pairs.add((min(aid, o), max(aid, o)))
        standing = set(self.exact_and_lsh(sorted(affected))) if affected else set()
        dropped: set[tuple[str, str]] = set()
        for aid in affected:
            kept = {o for o, _ in lists.get(aid, [])}
            for o, _ in old_lists.get(aid, []):
                pair = (min(aid, o), max(aid, o))
                if o not in kept and o not in pending and pair not in standing:
                    dropped.add(pair)
        pairs = {p for p in pairs if p[0] not in deferred and p[1] not in deferred}
        return Candidates(pairs, lists, dropped - pairs)

    def _listing(self, ids: list[str]) -> set[str]:
        self._linking(ids)
        return {
            r[0]
            for r in self.db.execute(
                "SELECT n.article_id FROM temp.linking t JOIN neighbours n ON n.other = t.id"
            )
        }

    def _stored_lists(self, ids: list[str]) -> dict[str, list[tuple[str, float]]]:
        self._linking(ids)
        out: dict[str, list[tuple[str, float]]] = {}
        for a, o, score in self.db.execute(
            "SELECT n.article_id, n.other, n.score FROM temp.linking t"
            " JOIN neighbours n ON n.article_id = t.id"
        ):
            out.setdefault(a, []).append((o, score))
        return out

    def _grown(
        self, stored: list[tuple[str, float]], entering: list[tuple[str, float]]
    ) -> list[tuple[str, float]]:
        """A stored article's rewrite neighbours once new earlier articles within its window
        (with their cosines) may enter its list: the best of its stored list and of them.
        Its list is the best ``neighbours`` of the earlier articles in its window, and the
        cosines of those stored are as they were (term vectors are the text's alone), so this
        is the list ``_choose`` would make among them all, without reading its window."""
        ranked = sorted((-score, o) for o, score in [*stored, *entering])
        return [(o, -s) for s, o in ranked[: self.settings.neighbours]]

    def save_lists(self, lists: dict[str, list[tuple[str, float]]]) -> None:
        """Replace the rewrite neighbours of these articles (inside the caller's transaction)."""
        for aid, chosen in lists.items():
            self.db.execute("DELETE FROM neighbours WHERE article_id = ?", (aid,))
            self.db.executemany(
                "INSERT INTO neighbours VALUES (?, ?, ?)", [(aid, o, s) for o, s in chosen]
            )
