"""Streaming story clustering: each article joins its best active story or starts a new one.

Articles arrive in canonical order (published time, then id). An article is scored
against the candidate stories that share its strongest terms or names (an inverted
index, never all stories) on several signals — TF-IDF cosine of body and title to the
story's centroid, overlap of named people/places/organisations, the sentence-embedding
centroid where it is computed, the time gap, the story's size — combined by a small
logistic model learned from labelled streams (``storyline.stories.model``), in the spirit
of Miranda et al. (2018). Stories that have seen nothing for ``window_days`` leave the
active set, so memory stays flat on an endless stream.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

FEATURE_NAMES = (
    "text_cosine", "max_member_cosine", "title_cosine", "entity_containment", "entity_jaccard",
    "embedding_cosine", "log_story_size",
)  # fmt: skip

_DIMS = 1 << 20

#: A text's hashed word counts: the hashed terms (sorted) and how often each occurs.
Counts = tuple[np.ndarray, np.ndarray]


@dataclass
class StoryDoc:
    """An article as the story clusterer sees it."""

    id: str
    time: float | None  # seconds since the epoch, None when unknown
    title: str = ""
    body: str = ""
    entities: Counter[str] = field(default_factory=Counter)
    embedding: np.ndarray | None = None
    # Its body's and title's hashed word counts (``Vectorizer.counts``), when read from the
    # store: then ``body`` and ``title`` may be left empty.
    counts: tuple[Counts, Counts] | None = None


def epoch(published: str | None) -> float | None:
    if not published:
        return None
    try:
        text = published if len(published) > 10 else published + "T12:00:00+00:00"
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


Vector = dict[int, float]


class Packed:
    """A term vector in two arrays, terms (unique) and weights, in entry order: an article's
    weighted terms, a story's member, or a story's sums once made or packed. A sixth of a
    dict's memory, and dot products against a ``Probe`` are one gather each."""

    __slots__ = ("terms", "weights")

    def __init__(self, terms: np.ndarray, weights: np.ndarray) -> None:
        self.terms = terms
        self.weights = weights

    @classmethod
    def of(cls, vector: Vector) -> Packed:
        return cls(
            np.fromiter(vector.keys(), dtype=np.int64, count=len(vector)),
            np.fromiter(vector.values(), dtype=np.float64, count=len(vector)),
        )

    def __len__(self) -> int:
        return len(self.terms)

    def unpack(self) -> Vector:
        """The same dict, entry order and float values exact."""
        return dict(zip(self.terms.tolist(), self.weights.tolist(), strict=True))

    def norm(self) -> float:
        return math.sqrt(float(self.weights @ self.weights)) or 1.0

    def unit(self) -> Packed:
        return Packed(self.terms, self.weights / self.norm())

    def top(self, n: int) -> list[int]:
        """The ``n`` heaviest terms, ties in entry order."""
        return self.terms[np.argsort(-self.weights, kind="stable")[:n]].tolist()


EMPTY = Packed(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
_buffers = threading.local()


class Probe:
    """One vector scattered into a dense array for its dot products with many others (a
    gather each, where a dict walk cost 30 us in Python). The dense arrays are this thread's
    own, two of them (``slot`` 0 and 1), cleared on leaving: use each slot once at a time."""

    def __init__(self, vec: Packed, slot: int = 0) -> None:
        bufs = getattr(_buffers, "dense", None)
        if bufs is None:
            bufs = _buffers.dense = (np.zeros(_DIMS), np.zeros(_DIMS))
        self.vec, self.dense = vec, bufs[slot]

    def __enter__(self) -> Probe:
        self.dense[self.vec.terms] = self.vec.weights
        return self

    def __exit__(self, *exc: object) -> None:
        self.dense[self.vec.terms] = 0.0

    def dot(self, other: Packed) -> float:
        return float(self.dense[other.terms] @ other.weights)


class Vectorizer:
    """Hashed word counts weighted by a running IDF (streaming: no vocabulary to fit)."""

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.hasher = HashingVectorizer(
            n_features=_DIMS, alternate_sign=False, norm=None, stop_words="english",
            token_pattern=r"(?u)\b[^\W\d_][\w'’-]+\b", lowercase=True,
        )  # fmt: skip
        self.df = np.zeros(_DIMS, dtype=np.int32)
        self.n = 0

    def counts(self, texts: list[str]) -> list[Counts]:
        m = self.hasher.transform(texts).tocsr()
        m.sum_duplicates()
        return [
            (m.indices[m.indptr[i] : m.indptr[i + 1]], m.data[m.indptr[i] : m.indptr[i + 1]])
            for i in range(len(texts))
        ]

    def doc_counts(self, docs: list[StoryDoc]) -> list[tuple[Counts, Counts]]:
        """Each doc's body counts (its title's where it has no body) and title counts: those
        it carries, the others counted here."""
        todo = [d for d in docs if d.counts is None]
        made: dict[str, tuple[Counts, Counts]] = {}
        if todo:
            bodies = self.counts([d.body or d.title for d in todo])
            titles = self.counts([d.title for d in todo])
            made = {d.id: (b, t) for d, b, t in zip(todo, bodies, titles, strict=True)}
        return [d.counts if d.counts is not None else made[d.id] for d in docs]

    def weigh(self, idx: np.ndarray, tf: np.ndarray, learn: bool = True) -> Packed:
        if not len(idx):
            return EMPTY
        if learn:
            self.n += 1
            self.df[idx] += 1
        idf = np.log((self.n + 1) / (self.df[idx] + 1)) + 1.0
        w = (1.0 + np.log(tf)) * idf
        norm = float(np.sqrt(np.sum(w * w))) or 1.0
        return Packed(idx.astype(np.int64), w / norm)


@dataclass
class Story:
    """A story's members and running sums. The term sums are dicts while the story takes
    members (``body_sum``, ``title_sum``) and arrays when scored (``body``, ``title``, made on
    demand); a packed story keeps the arrays only (batch mode packs each story that leaves
    the active set: at 100,000 articles their dicts were GBs)."""

    id: int
    members: list[str] = field(default_factory=list)
    body_sum: Vector | None = field(default_factory=dict)
    title_sum: Vector | None = field(default_factory=dict)
    entities: Counter[str] = field(default_factory=Counter)
    embedding: np.ndarray | None = None
    # Its body's and title's hashed word counts (``Vectorizer.counts``), when read from the
    # store: then ``body`` and ``title`` may be left empty.
    counts: tuple[Counts, Counts] | None = None
    first: float = 0.0
    last: float = 0.0
    member_bodies: list[Packed] = field(default_factory=list)  # the latest few, for max cosine
    keys: set[int | str] = field(default_factory=set)  # its entries in the inverted index
    _arrays: tuple[Packed, Packed, float, float] | None = None
    _embedding_norm: float | None = None

    def _made(self) -> tuple[Packed, Packed, float, float]:
        if self._arrays is None:
            assert self.body_sum is not None and self.title_sum is not None
            body, title = Packed.of(self.body_sum), Packed.of(self.title_sum)
            self._arrays = (body, title, body.norm(), title.norm())
        return self._arrays

    @property
    def body(self) -> Packed:
        return self._made()[0]

    @property
    def title(self) -> Packed:
        return self._made()[1]

    @property
    def body_norm(self) -> float:
        return self._made()[2]

    @property
    def title_norm(self) -> float:
        return self._made()[3]

    @property
    def embedding_norm(self) -> float:
        if self._embedding_norm is None:
            e = self.embedding
            self._embedding_norm = (float(np.linalg.norm(e)) or 1.0) if e is not None else 1.0
        return self._embedding_norm

    @property
    def packed(self) -> bool:
        return self.body_sum is None

    def pack(self) -> None:
        """Keep the sums as arrays only."""
        self._made()
        self.body_sum = self.title_sum = None

    def _open(self) -> None:
        if self.body_sum is None:
            body, title, _, _ = self._made()
            self.body_sum, self.title_sum = body.unpack(), title.unpack()

    def _sum(
        self, body: Packed, title: Packed, entities: Counter[str], embedding: np.ndarray | None
    ) -> None:
        self._open()
        sums, titles = self.body_sum, self.title_sum
        assert sums is not None and titles is not None
        for k, w in zip(body.terms.tolist(), body.weights.tolist(), strict=True):
            sums[k] = sums.get(k, 0.0) + w
        for k, w in zip(title.terms.tolist(), title.weights.tolist(), strict=True):
            titles[k] = titles.get(k, 0.0) + w
        self._arrays = None
        self.entities.update(entities)
        if embedding is not None:
            self.embedding = (
                embedding.copy() if self.embedding is None else self.embedding + embedding
            )
            self._embedding_norm = None

    def absorb(self, other: Story) -> None:
        """Take in another story's members and sums (the merge pass); a packed story stays
        packed."""
        was_packed = self.packed
        self._sum(other.body, other.title, other.entities, other.embedding)
        self.members.extend(other.members)
        self.member_bodies = [*self.member_bodies, *other.member_bodies][-5:]
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)
        if was_packed:
            self.pack()

    def add(self, body: Packed, title: Packed, doc: StoryDoc, now: float) -> None:
        self._sum(body, title, doc.entities, doc.embedding)
        if not self.members:
            self.first = now
        self.last = max(self.last, now)
        self.members.append(doc.id)
        self.member_bodies = [*self.member_bodies[-4:], body]


def feature_rows(
    body: Packed,
    title: Packed,
    doc: StoryDoc,
    stories: list[Story],
    idf: Callable[[str], float] | None = None,
) -> list[list[float]]:
    """The signals for one article and each of some stories (``FEATURE_NAMES``), comparable
    across sources with and without titles, bodies or embeddings: a missing signal takes the
    value of the text cosine, so the model never learns what a data set lacks."""
    ents = doc.entities
    # Names common to many stories ("Port Halloran") say less than rare ones ("Local 418").
    weight = {e: idf(e) for e in ents} if idf else dict.fromkeys(ents, 1.0)
    total = sum(weight.values())
    rows = []
    with Probe(body, 0) as pb, Probe(title, 1) as pt:
        for story in stories:
            sb, st = story.body, story.title
            text_cos = pb.dot(sb) / story.body_norm if len(body) and len(sb) else 0.0
            max_cos = (
                max((pb.dot(m) for m in story.member_bodies), default=0.0) if len(body) else 0.0
            )
            title_cos = pt.dot(st) / story.title_norm if len(title) and len(st) else text_cos
            if ents and story.entities:
                shared = [e for e in ents if e in story.entities]
                containment = sum(weight[e] for e in shared) / total
                # |A ∪ B| = |A| + |B| - |A ∩ B|: both are Counters, their keys each name once
                jaccard = len(shared) / (len(ents) + len(story.entities) - len(shared))
            else:
                containment = jaccard = 0.0
            if doc.embedding is not None and story.embedding is not None:
                emb = float(doc.embedding @ story.embedding) / story.embedding_norm
            else:
                emb = text_cos
            # Time enters through the active window, not as a feature: how fast stories move
            # differs too much between sources (minutes for headline streams, days for wires).
            rows.append([text_cos, max_cos, title_cos, containment, jaccard, emb,
                         math.log1p(len(story.members))])  # fmt: skip
    return rows


def features(
    body: Packed,
    title: Packed,
    doc: StoryDoc,
    story: Story,
    now: float,
    idf: Callable[[str], float] | None = None,
) -> list[float]:
    """``feature_rows`` for one story."""
    return feature_rows(body, title, doc, [story], idf)[0]


class Scorer(Protocol):
    """What the clusterer asks of its model: a probability per feature row, and a threshold."""

    @property
    def threshold(self) -> float: ...

    def probability(self, features: np.ndarray) -> np.ndarray: ...


class StreamClusterer:
    """The streaming clusterer. ``add(doc)`` returns the story number the article joined."""

    def __init__(
        self,
        scorer: Scorer,
        window_days: float = 3.0,
        candidates: int = 20,
        index_terms: int = 12,
        merge_threshold: float = 0.8,
        split_threshold: float = 0.0,
        online_merge: bool = False,
    ) -> None:
        self.scorer = scorer
        self.window = window_days * 86400.0
        self.candidates = candidates
        self.index_terms = index_terms
        self.vectorizer = Vectorizer()
        self.active: dict[int, Story] = {}
        self.keep_all = False
        self.frozen_entities = False
        self.vectors: dict[str, Packed] = {}
        self.title_vectors: dict[str, Packed] = {}
        self.split_threshold = split_threshold
        self.merge_threshold = merge_threshold
        #: After each chunk, stories that reached a size of 1, 2, 4, 8, … since the last look
        #: try to merge with an active story (``merge_threshold``): a story the stream split
        #: early is joined once its parts look alike. The younger joins the older. (Looking at
        #: every story that grew scores no better on the dev sets and costs 40 % of the rate.)
        self.online_merge = online_merge
        self.touched: set[int] = set()
        self.online_merges = 0
        #: Each story the stream merged away, and the story it joined.
        self.merged_into: dict[int, int] = {}
        self.all: dict[int, Story] = {}
        self.index: dict[int | str, set[int]] = {}
        self.assignments: dict[str, int] = {}
        self.next_id = 0
        self.entity_df: Counter[str] = Counter()
        self.docs_seen = 0
        self.now = 0.0
        self.evicted = 0
        self._since_evict = 0

    @classmethod
    def from_settings(cls, scorer: Scorer, cfg: Any) -> StreamClusterer:
        """The clusterer ``[stories]`` settings describe."""
        return cls(
            scorer, cfg.window_days, cfg.candidates, cfg.index_terms, cfg.merge_threshold,
            cfg.split_threshold, cfg.online_merge,
        )  # fmt: skip

    # -- the stream ---------------------------------------------------------------------
    def batch(self, docs: list[StoryDoc]) -> dict[str, int]:
        """Batch mode: the stream, then a merge pass over all its stories."""
        for d in docs:
            self.learn_entities(d)
        self.frozen_entities = True
        self.keep_all = True
        self.run(docs)
        merged = merge_pass(self, dict(self.all), threshold=self.merge_threshold)

        def root(s: int) -> int:
            while s in merged:
                s = merged[s]
            return s

        self.assignments = {d: root(s) for d, s in self.assignments.items()}
        if self.split_threshold > 0:
            self._split_pass(docs)
        return self.assignments

    def _split_pass(self, docs: list[StoryDoc]) -> None:
        """Batch mode's split: a story whose members fall into two groups that the model would
        not join (probability below ``split_threshold``) becomes two stories."""
        from scipy.cluster.hierarchy import fcluster, linkage

        by_id = {d.id: d for d in docs}
        members: dict[int, list[str]] = {}
        for d, sid in self.assignments.items():
            members.setdefault(sid, []).append(d)
        for ids in members.values():
            if len(ids) < 4:
                continue
            vecs = [self.vectors.get(i, EMPTY) for i in ids]
            n = len(ids)
            sim = np.eye(n)
            embs = [by_id[i].embedding for i in ids]
            for x in range(n):
                with Probe(vecs[x]) as probe:
                    for y in range(x + 1, n):
                        v = probe.dot(vecs[y])
                        ex, ey = embs[x], embs[y]
                        if ex is not None and ey is not None:
                            v = 0.5 * v + 0.5 * float(ex @ ey)
                        sim[x, y] = sim[y, x] = v
            dist = np.clip(1.0 - sim[np.triu_indices(n, 1)], 0.0, None)
            parts = fcluster(linkage(dist, "average"), 2, criterion="maxclust")
            a_ids = [i for i, p in zip(ids, parts, strict=True) if p == 1]
            b_ids = [i for i, p in zip(ids, parts, strict=True) if p == 2]
            if min(len(a_ids), len(b_ids)) < 2:
                continue
            a, b = self._as_story(a_ids, by_id), self._as_story(b_ids, by_id)
            small, big = (a, b) if len(a.members) <= len(b.members) else (b, a)
            body, title, doc = _as_article(small)
            row = np.array([features(body, title, doc, big, small.first, self.entity_idf)])
            p = float(self.scorer.probability(row)[0])
            if p < self.split_threshold:
                new = self.next_id
                self.next_id += 1
                for i in small.members:
                    self.assignments[i] = new

    def _as_story(self, ids: list[str], by_id: dict[str, StoryDoc]) -> Story:
        st = Story(-1)
        for i in ids:
            d = by_id[i]
            st.add(self.vectors.get(i, EMPTY), self.title_vectors.get(i, EMPTY), d, d.time or 0.0)
        return st

    def seed(self, groups: list[list[StoryDoc]]) -> list[int]:
        """Stories made earlier (each its articles in canonical order) as active stories,
        taken as they are, without scoring: the articles that follow are placed against them
        (``storyline add``). The term weights learn from all of them first. Returns each
        group's story number."""
        counted = [self.vectorizer.doc_counts(docs) for docs in groups]
        for pairs in counted:
            for (idx, _tf), _ in pairs:
                self.vectorizer.n += 1
                self.vectorizer.df[idx] += 1
        numbers = []
        for docs, pairs in zip(groups, counted, strict=True):
            sid = self.next_id
            self.next_id += 1
            story = self.active[sid] = Story(sid)
            if self.keep_all:
                self.all[sid] = story
            for doc, ((bi, bt), (ti, tt)) in zip(docs, pairs, strict=True):
                now = doc.time if doc.time is not None else self.now
                self.now = max(self.now, now)
                body = self.vectorizer.weigh(bi, bt, learn=False)
                title = self.vectorizer.weigh(ti, tt, learn=False)
                self.learn_entities(doc)
                story.add(body, title, doc, now)
                self._index(sid, body or title, doc)
                self.assignments[doc.id] = sid
            numbers.append(sid)
        return numbers

    def run(self, docs: Iterable[StoryDoc], batch: int = 256) -> dict[str, int]:
        for chunk in _chunks(docs, batch):
            for doc, (body, title) in zip(chunk, self.vectorizer.doc_counts(chunk), strict=True):
                self.add(doc, body, title)
            if self.online_merge:
                self.merge_touched()
        return self.assignments

    def merge_touched(self) -> None:
        """Stories that reached a new size since the last look, youngest first, each scored
        against the active stories that share its index keys as if it were one article; above
        ``merge_threshold`` the younger of the pair joins the older."""
        touched, self.touched = sorted(self.touched, reverse=True), set()
        for sid in touched:
            st = self.active.get(sid)
            if st is None:
                continue
            votes: Counter[int] = Counter()
            for key in _story_keys(st, self.index_terms):
                for other in self.index.get(key, ()):
                    if other != sid and other in self.active:
                        votes[other] += 1
            cands = [o for o, _ in votes.most_common(self.candidates)]
            if not cands:
                continue
            body, title, doc = _as_article(st)
            rows = feature_rows(body, title, doc, [self.active[o] for o in cands], self.entity_idf)
            probs = self.scorer.probability(np.array(rows))
            k = int(np.argmax(probs))
            if float(probs[k]) < self.merge_threshold:
                continue
            old, young = min(sid, cands[k]), max(sid, cands[k])
            self._join(old, young)
            self.touched.discard(young)
            self.touched.add(old)

    def _join(self, old: int, young: int) -> None:
        """Story ``young`` joins active story ``old``: members, sums and index entries."""
        survivor, gone = self.active[old], self.active.pop(young)
        self.all.pop(young, None)
        survivor.absorb(gone)
        for doc_id in gone.members:
            self.assignments[doc_id] = old
        for key in gone.keys:
            posting = self.index.get(key)
            if posting is not None:
                posting.discard(young)
                posting.add(old)
        survivor.keys |= gone.keys
        self.merged_into[young] = old
        self.online_merges += 1

    def add(
        self,
        doc: StoryDoc,
        body_counts: tuple[np.ndarray, np.ndarray],
        title_counts: tuple[np.ndarray, np.ndarray],
    ) -> int:
        now = doc.time if doc.time is not None else self.now
        self.now = max(self.now, now)
        body = self.vectorizer.weigh(*body_counts)
        title = self.vectorizer.weigh(*title_counts, learn=False)
        self._evict(now)
        if not self.frozen_entities:
            self.learn_entities(doc)
        best, best_p = None, 0.0
        cands = self._candidates(body or title, doc)
        if cands:
            rows = feature_rows(body, title, doc, [self.active[c] for c in cands], self.entity_idf)
            probs = self.scorer.probability(np.array(rows))
            k = int(np.argmax(probs))
            best, best_p = cands[k], float(probs[k])
        if best is None or best_p < self.scorer.threshold:
            best = self.next_id
            self.next_id += 1
            self.active[best] = Story(best)
            if self.keep_all:
                self.all[best] = self.active[best]
        story = self.active[best]
        story.add(body, title, doc, now)
        if self.keep_all:
            self.vectors[doc.id] = body or title
            self.title_vectors[doc.id] = title
        self._index(best, body or title, doc)
        self.assignments[doc.id] = best
        size = len(story.members)
        if self.online_merge and size & (size - 1) == 0:  # at sizes 1, 2, 4, 8, …
            self.touched.add(best)
        return best

    def learn_entities(self, doc: StoryDoc) -> None:
        self.docs_seen += 1
        self.entity_df.update(set(doc.entities))

    def entity_idf(self, entity: str) -> float:
        return math.log((self.docs_seen + 1) / (self.entity_df.get(entity, 0) + 1)) + 1.0

    def _keys(self, vec: Packed, doc: StoryDoc) -> list[int | str]:
        top: list[int | str] = list(vec.top(self.index_terms))
        return top + [f"e:{e}" for e in list(doc.entities)[:10]]

    def _candidates(self, vec: Packed, doc: StoryDoc) -> list[int]:
        votes: Counter[int] = Counter()
        for key in self._keys(vec, doc):
            for sid in self.index.get(key, ()):
                if sid in self.active:
                    votes[sid] += 1
        return [sid for sid, _ in votes.most_common(self.candidates)]

    def _index(self, sid: int, vec: Packed, doc: StoryDoc) -> None:
        keys = self._keys(vec, doc)
        for key in keys:
            self.index.setdefault(key, set()).add(sid)
        self.active[sid].keys.update(keys)

    def _evict(self, now: float) -> None:
        """Drop stories idle past the window, with their index entries (checked every 64 articles)."""
        self._since_evict += 1
        # Below 64 active stories memory is no concern, and small corpora keep their long stories.
        if not self.window or self._since_evict < 64 or len(self.active) < 64:
            return
        self._since_evict = 0
        stale = [sid for sid, s in self.active.items() if now - s.last > self.window]
        for sid in stale:
            story = self.active.pop(sid)
            self.evicted += 1
            if self.keep_all:
                story.pack()
            for key in story.keys:
                posting = self.index.get(key)
                if posting is not None:
                    posting.discard(sid)
                    if not posting:
                        del self.index[key]
            story.keys = set()
        if len(self.entity_df) > 500_000:
            # Names seen once long ago say nothing; keep the table bounded on endless streams.
            self.entity_df = Counter({e: n for e, n in self.entity_df.items() if n > 1})


def _chunks(items: Iterable[StoryDoc], size: int) -> Iterator[list[StoryDoc]]:
    chunk: list[StoryDoc] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def merge_pass(
    clusterer: StreamClusterer, stories: dict[int, Story], rounds: int = 3, threshold: float = 0.8
) -> dict[int, int]:
    """Batch mode's second look: merge stories the stream split, scoring a story against the
    others as if it were one article (its centroid, names and embedding). Returns a map from
    merged story numbers to the story they joined (the older one survives). Packed stories
    are scored as they are and stay packed."""
    merged: dict[int, int] = {}
    window = clusterer.window
    for _ in range(rounds):
        changed = False
        index: dict[int | str, set[int]] = {}
        for sid, st in stories.items():
            for key in _story_keys(st, clusterer.index_terms):
                index.setdefault(key, set()).add(sid)
        for sid in sorted(stories, key=lambda s: -s):  # youngest first: it joins an older one
            if sid not in stories:
                continue
            st = stories[sid]
            # As in the stream, a story idle past the window is not joined: without this, at
            # 100,000 generated articles over 22 months, stories merged across a year and the
            # largest held 280 of the generator's stories.
            lo, hi = (st.first - window, st.last + window) if window else (-math.inf, math.inf)
            votes: Counter[int] = Counter()
            for key in _story_keys(st, clusterer.index_terms):
                for other in index.get(key, ()):
                    if other < sid and (o := stories.get(other)) and o.last >= lo and o.first <= hi:
                        votes[other] += 1
            cands = [o for o, _ in votes.most_common(clusterer.candidates)]
            if not cands:
                continue
            body, title, doc = _as_article(st)
            rows = feature_rows(body, title, doc, [stories[o] for o in cands], clusterer.entity_idf)
            probs = clusterer.scorer.probability(np.array(rows))
            k = int(np.argmax(probs))
            if float(probs[k]) >= threshold:
                stories[cands[k]].absorb(st)
                merged[sid] = cands[k]
                del stories[sid]
                changed = True
        if not changed:
            break
    return merged


def _as_article(st: Story) -> tuple[Packed, Packed, StoryDoc]:
    """A story seen as one article, to score against other stories: its unit centroids,
    its names once each and its mean embedding."""
    names = Counter({e: 1 for e in st.entities})
    doc = StoryDoc(f"story-{st.id}", st.first, "", "", names, None)
    if st.embedding is not None:
        doc.embedding = st.embedding / st.embedding_norm
    return st.body.unit(), st.title.unit(), doc


def _story_keys(st: Story, terms: int) -> list[int | str]:
    top: list[int | str] = list(st.body.top(terms * 2))
    return top + [f"e:{e}" for e, _ in st.entities.most_common(10)]


def place(
    scorer: Scorer, cfg: Any, stories: list[list[StoryDoc]], fresh: list[StoryDoc]
) -> tuple[StreamClusterer, list[int]]:
    """``storyline add`` between batch rebuilds: new articles (in canonical order) placed by the
    stream against stories made earlier (each its articles in canonical order), which are
    taken as they are. Returns the clusterer (its ``assignments`` hold every article's story
    number, ``merged_into`` the stories merged away) and each earlier story's number."""
    clusterer = StreamClusterer.from_settings(scorer, cfg)
    clusterer.keep_all = True
    numbers = clusterer.seed(stories)
    clusterer.run(fresh)
    return clusterer, numbers
