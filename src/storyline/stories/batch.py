"""Batch stories: average-linkage clustering of the whole corpus over one learned similarity.

Two articles' similarity is ``t · tfidf + n · names + (1 − t − n) · embedding``: the cosine of
their TF-IDF vectors (title and body, sublinear counts, English stop words, IDF fitted on the
corpus), the cosine of their named entities (mention counts, sublinear, IDF over the corpus:
a city every article names weighs little, the union leader only one story quotes weighs
much) and the cosine of their sentence embeddings (the title and lead the stream uses).
Articles are grouped by average linkage and the tree is cut at one distance. The weights and
the cut are learned from the dev sets (``fit``): those that give the best mean BCubed F1,
each set weighing the same. Without embeddings the TF-IDF cosine alone is cut at its own
learned distance.

Average linkage never joins two groups of which no pair is closer than the cut, so the
corpus is first split into the connected components of the graph of such pairs (found in row
blocks, never the whole matrix at once) and each component is clustered on its own: the same
result as one tree over the corpus, in memory that grows with the largest component. A
component larger than ``max_block`` articles is left to the streaming clusterer, and so is a
corpus larger than ``max_articles``: the pairwise work grows with the square of its size.

Unlike the stream, the result does not depend on the order the articles arrive in, and a
story that the stream glued through one bridging article is not glued here unless the two
groups are close on average.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from storyline.stories.stream import StoryDoc

#: The grid ``fit`` searches: (TF-IDF, names) weights, the embedding taking the rest, and cuts.
MIXES = tuple(
    (t, n) for t in (0.3, 0.4, 0.5, 0.6, 0.7) for n in (0.0, 0.1, 0.2, 0.3) if t + n <= 0.9 + 1e-9
)
TEXT_ONLY = (1.0, 0.0)
CUTS = tuple(round(0.65 + 0.025 * k, 3) for k in range(13))  # 0.650 … 0.950
TEXT_CUTS = tuple(round(0.8 + 0.025 * k, 3) for k in range(8))  # 0.800 … 0.975


@dataclass(frozen=True)
class BatchParams:
    text_weight: float = 0.3
    entity_weight: float = 0.2
    cut: float = 0.825
    text_cut: float = 0.925
    #: Components larger than this go to the streaming clusterer (memory ~ 4 · n² bytes).
    max_block: int = 8000
    #: Corpora larger than this go to the streaming clusterer (time ~ n²).
    max_articles: int = 30000

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> BatchParams:
        got = (meta or {}).get("batch") or {}
        base = cls()
        return cls(
            text_weight=float(got.get("text_weight", base.text_weight)),
            entity_weight=float(got.get("entity_weight", base.entity_weight)),
            cut=float(got.get("cut", base.cut)),
            text_cut=float(got.get("text_cut", base.text_cut)),
        )

    def to_meta(self) -> dict[str, float]:
        return {
            "text_weight": self.text_weight,
            "entity_weight": self.entity_weight,
            "cut": self.cut,
            "text_cut": self.text_cut,
        }


class Similarity:
    """Pairwise similarities of a fixed set of articles, computed a block at a time."""

    def __init__(
        self, docs: list[StoryDoc], text_weight: float, entity_weight: float = 0.0
    ) -> None:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

        self.size = len(docs)
        texts = [f"{d.title}\n{d.body}".strip() or d.id for d in docs]
        try:
            self.tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(
                texts
            )
        except ValueError:  # no word at all in the corpus (every text a stop word or digit)
            self.tfidf = None
        embeddings = [d.embedding for d in docs if d.embedding is not None]
        self.embeddings = (
            np.stack(embeddings).astype(np.float32)
            if embeddings and len(embeddings) == len(docs)
            else None
        )
        self.w = text_weight if self.embeddings is not None else 1.0
        self.n = entity_weight if self.embeddings is not None else 0.0
        self.names = None
        if self.n > 0 and any(d.entities for d in docs):
            counts = DictVectorizer().fit_transform([dict(d.entities) for d in docs])
            self.names = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
        else:
            self.n = 0.0  # no names anywhere: their share goes to the embeddings

    def rows(self, rows: np.ndarray, cols: np.ndarray | slice = slice(None)) -> np.ndarray:
        n_cols = len(cols) if isinstance(cols, np.ndarray) else self.size
        out = np.zeros((len(rows), n_cols), dtype=np.float32)
        if self.tfidf is not None and self.w > 0:
            out += self.w * (self.tfidf[rows] @ self.tfidf[cols].T).toarray().astype(np.float32)
        if self.names is not None:
            out += self.n * (self.names[rows] @ self.names[cols].T).toarray().astype(np.float32)
        if self.embeddings is not None and self.w + self.n < 1:
            out += (1.0 - self.w - self.n) * (self.embeddings[rows] @ self.embeddings[cols].T)
        return out


def components(sim: Similarity, n: int, floor: float, block: int = 512) -> list[np.ndarray]:
    """Connected components of the graph joining articles whose similarity is ``floor`` or
    more, largest first; each is an array of article indices in ascending order."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edge_r, edge_c = [], []
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        hit_r, hit_c = np.nonzero(sim.rows(rows) >= floor - 1e-6)  # float32 rows
        edge_r.append(hit_r + start)
        edge_c.append(hit_c)
    r, c = np.concatenate(edge_r), np.concatenate(edge_c)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    _, roots = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for i, root in enumerate(roots.tolist()):
        groups.setdefault(root, []).append(i)
    return sorted((np.array(g) for g in groups.values()), key=lambda g: (-len(g), int(g[0])))


Forest = list[tuple[np.ndarray, Any]]


def forest(sim: Similarity, n: int, loosest_cut: float, max_block: int) -> tuple[Forest, list]:
    """Average-linkage trees of the components at ``loosest_cut`` (any tighter cut of them is
    exact too), and the components too large for a tree."""
    from scipy.cluster.hierarchy import linkage

    trees: Forest = []
    too_large = []
    for comp in components(sim, n, 1.0 - loosest_cut):
        if len(comp) == 1:
            trees.append((comp, None))
        elif len(comp) > max_block:
            too_large.append(comp)
        else:
            s = sim.rows(comp, comp).astype(np.float64)
            distance = np.clip(1.0 - s[np.triu_indices(len(comp), 1)], 0.0, None)
            trees.append((comp, linkage(distance, "average")))
    return trees, too_large


def cut_forest(trees: Forest, cut: float, labels: np.ndarray, first: int = 0) -> int:
    """Write story numbers into ``labels`` from ``first`` on; returns the next free number."""
    from scipy.cluster.hierarchy import fcluster

    nxt = first
    for comp, tree in trees:
        if tree is None:
            labels[comp] = nxt
            nxt += 1
            continue
        got = fcluster(tree, cut, criterion="distance")
        # Number stories by their first article, so that labels follow canonical order.
        remap: dict[int, int] = {}
        for g in got.tolist():
            if g not in remap:
                remap[g] = nxt
                nxt += 1
        labels[comp] = [remap[g] for g in got.tolist()]
    return nxt


def cluster(
    docs: list[StoryDoc],
    params: BatchParams,
    fallback: Callable[[list[StoryDoc]], dict[str, int]],
) -> dict[str, int]:
    """Story numbers of ``docs`` (in canonical order) by average linkage; ``fallback`` (the
    streaming clusterer's batch) takes corpora and components too large for a tree."""
    n = len(docs)
    if n == 0:
        return {}
    if n > params.max_articles:
        return fallback(docs)
    sim = Similarity(docs, params.text_weight, params.entity_weight)
    cut = params.cut if sim.w < 1.0 else params.text_cut
    trees, too_large = forest(sim, n, cut, params.max_block)
    labels = np.zeros(n, dtype=np.int64)
    nxt = cut_forest(trees, cut, labels)
    for comp in too_large:
        part = fallback([docs[i] for i in comp.tolist()])
        remap: dict[int, int] = {}
        for i in comp.tolist():
            s = part[docs[i].id]
            if s not in remap:
                remap[s] = nxt
                nxt += 1
            labels[i] = remap[s]
    return {d.id: int(label) for d, label in zip(docs, labels.tolist(), strict=True)}


def batch_stories(docs: list[StoryDoc], model: Any, settings: Any) -> dict[str, int]:
    """Batch mode as ``[stories] batch`` says: ``average`` (this module, with the weight and
    cut learned with ``model``) or ``stream`` (the stream, then its merge and split passes)."""
    from storyline.stories.stream import StreamClusterer

    def streamed(part: list[StoryDoc]) -> dict[str, int]:
        clusterer = StreamClusterer(
            model, settings.window_days, settings.candidates, settings.index_terms,
            settings.merge_threshold, settings.split_threshold, settings.online_merge,
        )  # fmt: skip
        return clusterer.batch(part)

    if settings.batch == "stream":
        return streamed(docs)
    if settings.batch != "average":
        raise ValueError(f"[stories] batch must be average or stream, not {settings.batch!r}")
    params = BatchParams.from_meta(getattr(model, "meta", None))
    return cluster(docs, params, streamed)


def fit(
    sets: Iterable[tuple[list[StoryDoc], dict[str, set[str]]]],
    score: Callable[[dict[str, str], dict[str, set[str]]], float],
) -> tuple[BatchParams, dict[tuple[int, float, float, float], float]]:
    """The weights and cut with the best mean ``score`` over ``sets`` (each weighing the same),
    and the text-only cut likewise. Also returns every set's score per grid point, keyed by
    (set number, TF-IDF weight, names weight, cut), so callers can choose again on a subset (leave one out)."""
    table = grid(sets, score)
    params = choose(table, sorted({k[0] for k in table}))
    return params, table


def grid(
    sets: Iterable[tuple[list[StoryDoc], dict[str, set[str]]]],
    score: Callable[[dict[str, str], dict[str, set[str]]], float],
) -> dict[tuple[int, float, float, float], float]:
    table: dict[tuple[int, float, float, float], float] = {}
    for k, (docs, gold) in enumerate(sets):
        n = len(docs)
        for (t, e), cuts in [(mix, CUTS) for mix in MIXES] + [(TEXT_ONLY, TEXT_CUTS)]:
            sim = Similarity(docs, t, e)
            trees, too_large = forest(sim, n, max(cuts), max_block=n)
            assert not too_large
            for c in cuts:
                labels = np.zeros(n, dtype=np.int64)
                cut_forest(trees, c, labels)
                pred = {d.id: str(x) for d, x in zip(docs, labels.tolist(), strict=True)}
                table[(k, t, e, c)] = score(pred, gold)
    return table


def choose(table: dict[tuple[int, float, float, float], float], use: list[int]) -> BatchParams:
    def mean(t: float, e: float, c: float) -> float:
        return sum(table[(k, t, e, c)] for k in use) / len(use)

    t, e, cut = max(((t, e, c) for t, e in MIXES for c in CUTS), key=lambda tec: mean(*tec))
    text_cut = max(TEXT_CUTS, key=lambda c: mean(*TEXT_ONLY, c))
    return BatchParams(text_weight=t, entity_weight=e, cut=cut, text_cut=text_cut)
