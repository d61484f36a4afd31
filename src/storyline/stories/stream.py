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
from collections import Counter, OrderedDict
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


@dataclass
class StoryDoc:
    """An article as the story clusterer sees it."""

    id: str
    time: float | None  # seconds since the epoch, None when unknown
    title: str = ""
    body: str = ""
    entities: Counter[str] = field(default_factory=Counter)
    embedding: np.ndarray | None = None


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
    """A kept article's term vector in two arrays (about a sixth of the dict's memory: the
    batch mode keeps every article's for its split pass). ``unpack`` gives the same dict,
    entry order and float values exact."""

    __slots__ = ("terms", "weights")

    def __init__(self, vector: Vector) -> None:
        self.terms = np.fromiter(vector.keys(), dtype=np.int64, count=len(vector))
        self.weights = np.fromiter(vector.values(), dtype=np.float64, count=len(vector))

    def unpack(self) -> Vector:
        return dict(zip(self.terms.tolist(), self.weights.tolist(), strict=True))


def _unpack(packed: Packed | None) -> Vector:
    return {} if packed is None else packed.unpack()


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

    def counts(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        m = self.hasher.transform(texts).tocsr()
        return [
            (m.indices[m.indptr[i] : m.indptr[i + 1]], m.data[m.indptr[i] : m.indptr[i + 1]])
            for i in range(len(texts))
        ]

    def weigh(self, idx: np.ndarray, tf: np.ndarray, learn: bool = True) -> Vector:
        if learn:
            self.n += 1
            self.df[idx] += 1
        idf = np.log((self.n + 1) / (self.df[idx] + 1)) + 1.0
        w = (1.0 + np.log(tf)) * idf
        norm = float(np.sqrt(np.sum(w * w))) or 1.0
        return dict(zip(idx.tolist(), (w / norm).tolist(), strict=True))


def _dot(a: Vector, b: Vector) -> float:
    """The dot product of two sparse vectors: the shared terms' products summed in the
    smaller one's order (the terms it lacks would add exact zeros: the same sum)."""
    if len(a) > len(b):
        a, b = b, a
    return sum([w * b[k] for k, w in a.items() if k in b])


@dataclass
class Story:
    id: int
    members: list[str] = field(default_factory=list)
    body: Vector = field(default_factory=dict)
    title: Vector = field(default_factory=dict)
    body_norm: float = 0.0
    title_norm: float = 0.0
    entities: Counter[str] = field(default_factory=Counter)
    embedding: np.ndarray | None = None
    first: float = 0.0
    last: float = 0.0
    member_bodies: list[Vector] = field(default_factory=list)  # the latest few, for max cosine
    keys: set[int | str] = field(default_factory=set)  # its entries in the inverted index
    #: Its body, title and member bodies as arrays while it is packed (``pack``), else None.
    packed: tuple[Packed, Packed, list[Packed]] | None = None

    def pack(self) -> None:
        """Keep the term sums in arrays (a story that left the active set in batch mode waits
        for the merge pass: at 100,000 articles the dicts of such stories were GBs)."""
        if self.packed is None:
            self.packed = (Packed(self.body), Packed(self.title),
                           [Packed(m) for m in self.member_bodies])  # fmt: skip
            self.body, self.title, self.member_bodies = {}, {}, []

    def unpack(self) -> None:
        """The dicts again, entry order and values exact (so every sum and score is too)."""
        if self.packed is not None:
            body, title, members = self.packed
            self.body, self.title = body.unpack(), title.unpack()
            self.member_bodies = [m.unpack() for m in members]
            self.packed = None

    def top_terms(self, n: int) -> list[int]:
        """The ``n`` heaviest terms of the body sum, ties in entry order (packed or not)."""
        if self.packed is None:
            return [k for k, _ in sorted(self.body.items(), key=lambda kv: -kv[1])[:n]]
        body = self.packed[0]
        return body.terms[np.argsort(-body.weights, kind="stable")[:n]].tolist()

    def _sum(
        self, body: Vector, title: Vector, entities: Counter[str], embedding: np.ndarray | None
    ) -> None:
        for k, w in body.items():
            self.body[k] = self.body.get(k, 0.0) + w
        for k, w in title.items():
            self.title[k] = self.title.get(k, 0.0) + w
        self.body_norm = math.sqrt(sum(w * w for w in self.body.values())) or 1.0
        self.title_norm = math.sqrt(sum(w * w for w in self.title.values())) or 1.0
        self.entities.update(entities)
        if embedding is not None:
            self.embedding = (
                embedding.copy() if self.embedding is None else self.embedding + embedding
            )

    def absorb(self, other: Story) -> None:
        """Take in another story's members and sums (the merge pass)."""
        self.unpack()
        other.unpack()
        self._sum(other.body, other.title, other.entities, other.embedding)
        self.members.extend(other.members)
        self.member_bodies = [*self.member_bodies, *other.member_bodies][-5:]
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)

    def add(self, body: Vector, title: Vector, doc: StoryDoc, now: float) -> None:
        self._sum(body, title, doc.entities, doc.embedding)
        if not self.members:
            self.first = now
        self.last = max(self.last, now)
        self.members.append(doc.id)
        self.member_bodies = [*self.member_bodies[-4:], body]


def features(
    body: Vector,
    title: Vector,
    doc: StoryDoc,
    story: Story,
    now: float,
    idf: Callable[[str], float] | None = None,
) -> list[float]:
    """The signals for one article and one story (``FEATURE_NAMES``), comparable across
    sources with and without titles, bodies or embeddings: a missing signal takes the value
    of the text cosine, so the model never learns what a data set lacks."""
    text_cos = _dot(body, story.body) / story.body_norm if body and story.body else 0.0
    max_cos = max((_dot(body, m) for m in story.member_bodies), default=0.0) if body else 0.0
    title_cos = _dot(title, story.title) / story.title_norm if title and story.title else text_cos
    ents = doc.entities
    if ents and story.entities:
        shared = sum(1 for e in ents if e in story.entities)
        # Names common to many stories ("Port Halloran") say less than rare ones ("Local 418").
        weight = idf or (lambda e: 1.0)
        containment = sum(weight(e) for e in ents if e in story.entities) / sum(
            weight(e) for e in ents
        )
        jaccard = shared / len(set(ents) | set(story.entities))
    else:
        containment = jaccard = 0.0
    if doc.embedding is not None and story.embedding is not None:
        n = float(np.linalg.norm(story.embedding)) or 1.0
        emb = float(doc.embedding @ story.embedding) / n
    else:
        emb = text_cos
    # Time enters through the active window, not as a feature: how fast stories move differs
    # too much between sources (minutes for headline streams, days for wire stories).
    return [text_cos, max_cos, title_cos, containment, jaccard, emb, math.log1p(len(story.members))]


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
            vecs = [_unpack(self.vectors.get(i)) for i in ids]
            n = len(ids)
            sim = np.eye(n)
            embs = [by_id[i].embedding for i in ids]
            for x in range(n):
                for y in range(x + 1, n):
                    v = _dot(vecs[x], vecs[y])
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
            st.add(_unpack(self.vectors.get(i)), _unpack(self.title_vectors.get(i)), d,
                   d.time or 0.0)  # fmt: skip
        return st

    def seed(self, groups: list[list[StoryDoc]]) -> list[int]:
        """Stories made earlier (each its articles in canonical order) as active stories,
        taken as they are, without scoring: the articles that follow are placed against them
        (``storyline add``). The term weights learn from all of them first. Returns each
        group's story number."""
        counted = [
            (self.vectorizer.counts([d.body or d.title for d in docs]),
             self.vectorizer.counts([d.title for d in docs]))
            for docs in groups
        ]  # fmt: skip
        for bodies, _ in counted:
            for idx, _tf in bodies:
                self.vectorizer.n += 1
                self.vectorizer.df[idx] += 1
        numbers = []
        for docs, (bodies, titles) in zip(groups, counted, strict=True):
            sid = self.next_id
            self.next_id += 1
            story = self.active[sid] = Story(sid)
            if self.keep_all:
                self.all[sid] = story
            for doc, (bi, bt), (ti, tt) in zip(docs, bodies, titles, strict=True):
                now = doc.time if doc.time is not None else self.now
                self.now = max(self.now, now)
                body = self.vectorizer.weigh(bi, bt, learn=False) if len(bi) else {}
                title = self.vectorizer.weigh(ti, tt, learn=False) if len(ti) else {}
                self.learn_entities(doc)
                story.add(body, title, doc, now)
                self._index(sid, body or title, doc)
                self.assignments[doc.id] = sid
            numbers.append(sid)
        return numbers

    def run(self, docs: Iterable[StoryDoc], batch: int = 256) -> dict[str, int]:
        for chunk in _chunks(docs, batch):
            counted = self.vectorizer.counts([d.body or d.title for d in chunk])
            titles = self.vectorizer.counts([d.title for d in chunk])
            for doc, (bi, bt), (ti, tt) in zip(chunk, counted, titles, strict=True):
                self.add(doc, (bi, bt), (ti, tt))
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
            rows = [
                features(body, title, doc, self.active[o], st.first, self.entity_idf) for o in cands
            ]
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
        body = self.vectorizer.weigh(*body_counts) if len(body_counts[0]) else {}
        title = self.vectorizer.weigh(*title_counts, learn=False) if len(title_counts[0]) else {}
        self._evict(now)
        if not self.frozen_entities:
            self.learn_entities(doc)
        best, best_p = None, 0.0
        cands = self._candidates(body or title, doc)
        if cands:
            rows = [features(body, title, doc, self.active[c], now, self.entity_idf) for c in cands]
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
            self.vectors[doc.id] = Packed(body or title)
            self.title_vectors[doc.id] = Packed(title)
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

    def _keys(self, vec: Vector, doc: StoryDoc) -> list[int | str]:
        top = sorted(vec.items(), key=lambda kv: -kv[1])[: self.index_terms]
        return [k for k, _ in top] + [f"e:{e}" for e in list(doc.entities)[:10]]

    def _candidates(self, vec: Vector, doc: StoryDoc) -> list[int]:
        votes: Counter[int] = Counter()
        for key in self._keys(vec, doc):
            for sid in self.index.get(key, ()):
                if sid in self.active:
                    votes[sid] += 1
        return [sid for sid, _ in votes.most_common(self.candidates)]

    def _index(self, sid: int, vec: Vector, doc: StoryDoc) -> None:
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
    clusterer: StreamClusterer,
    stories: dict[int, Story],
    rounds: int = 3,
    threshold: float = 0.8,
    open_stories: int = 4096,
) -> dict[int, int]:
    """Batch mode's second look: merge stories the stream split, scoring a story against the
    others as if it were one article (its centroid, names and embedding). Returns a map from
    merged story numbers to the story they joined (the older one survives).

    Packed stories (``Story.pack``) are unpacked as they are scored and packed again once
    ``open_stories`` others have been opened since (least recently used first), so memory
    stays near what the packed stories take; the scores are the same either way."""
    merged: dict[int, int] = {}
    opened: OrderedDict[int, Story] = OrderedDict()

    def open_(sid: int) -> Story:
        st = stories[sid]
        was_packed = st.packed is not None
        st.unpack()
        if was_packed or sid in opened:
            opened[sid] = st
            opened.move_to_end(sid)
            while len(opened) > open_stories:
                opened.popitem(last=False)[1].pack()
        return st

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
            votes: Counter[int] = Counter()
            for key in _story_keys(st, clusterer.index_terms):
                for other in index.get(key, ()):
                    if other != sid and other in stories and other < sid:
                        votes[other] += 1
            cands = [o for o, _ in votes.most_common(clusterer.candidates)]
            if not cands:
                continue
            body, title, doc = _as_article(open_(sid))
            rows = [
                features(body, title, doc, open_(o), st.first, clusterer.entity_idf)
                for o in cands
            ]
            probs = clusterer.scorer.probability(np.array(rows))
            k = int(np.argmax(probs))
            if float(probs[k]) >= threshold:
                open_(cands[k]).absorb(st)
                merged[sid] = cands[k]
                del stories[sid]
                opened.pop(sid, None)
                changed = True
        if not changed:
            break
    return merged


def _as_article(st: Story) -> tuple[Vector, Vector, StoryDoc]:
    """A story seen as one article, to score against other stories: its unit centroids,
    its names once each and its mean embedding."""
    names = Counter({e: 1 for e in st.entities})
    doc = StoryDoc(f"story-{st.id}", st.first, "", "", names, None)
    if st.embedding is not None:
        doc.embedding = st.embedding / (float(np.linalg.norm(st.embedding)) or 1.0)
    return _unit(st.body), _unit(st.title), doc


def _unit(vec: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
    return {k: w / norm for k, w in vec.items()}


def _story_keys(st: Story, terms: int) -> list[int | str]:
    top: list[int | str] = list(st.top_terms(terms * 2))
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
