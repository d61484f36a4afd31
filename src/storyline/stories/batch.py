"""Batch stories: average linkage over a learned similarity sharpened by shared neighbours,
cut where the stories stand furthest apart.

**The similarity.** For two articles it is ``S = t · tfidf + n · names + (1 − t − n) ·
embedding``: the cosine of their TF-IDF vectors (title and body, sublinear counts, English
stop words, IDF fitted on the corpus), the cosine of their named entities (mention counts,
sublinear, IDF over the corpus) and the cosine of their sentence embeddings (the title and
lead the stream uses). The weights are learned on the dev sets (``fit``).

**Shared neighbours.** Clustering runs on ``C = (1 − β) · S + β · SNN``, where ``SNN`` is the
share of the two articles' ``k`` nearest neighbours (by ``S``, each counting itself) that they
have in common (Jarvis & Patrick 1973; Ertöz, Steinbach & Kumar 2003). A raw cosine means
different things in different places: a loose story (a flood, then its clean-up, its inquiry
and its insurers) has members less alike than two neighbouring stories of one city and week.
Shared neighbours follow the local density: articles of one story name each other as
neighbours, articles of two stories mostly do not, however alike their words.

**The cut.** Articles are grouped by average linkage; the tree is cut at the distance, within
a band, whose stories have the best mean silhouette (Rousseeuw 1987) measured on a neutral
yardstick, ``½ tfidf + ½ embedding``, so that the learned mix cannot choose its own cut.
How alike a story's articles are depends on the corpus (full articles or headlines only, one
week or a season), and a cut learned on some corpora misses on others; the silhouette reads
it off the corpus at hand. When no cut in the band makes two or more stories, or the best
silhouette is under ``min_silhouette`` (no clear structure), the learned fallback cut is used.
Above ``sample`` articles the silhouette is estimated on an evenly spaced sample of them.

**Exact and bounded.** Average linkage never joins two groups of which no pair is closer than
the cut, so the corpus is first split into the connected components of the graph of such
pairs at the loosest cut (found in row blocks, never the whole matrix at once) and each
component gets its own tree: the same result as one tree over the corpus. When a component
at the band's loosest cut is larger than ``max_block`` articles, the loosest cuts are given
up, one step at a time, until the components fit; a component too large even at the
tightest is left to the streaming clusterer, and so is a corpus larger than
``max_articles``: the pairwise work grows with the square of its size.

Unlike the stream, the result does not depend on the order the articles arrive in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from storyline.stories.stream import StoryDoc

#: The mixes ``fit`` searches: (TF-IDF, names) weights, the embedding taking the rest.
MIXES = tuple(
    (t, n) for t in (0.3, 0.4, 0.5, 0.6, 0.7) for n in (0.0, 0.1, 0.2, 0.3) if t + n <= 0.9 + 1e-9
)
TEXT_ONLY = (1.0, 0.0)
#: Fallback cuts ``fit`` searches (with embeddings, and TF-IDF alone).
CUTS = tuple(round(0.65 + 0.025 * k, 3) for k in range(13))  # 0.650 … 0.950
TEXT_CUTS = tuple(round(0.8 + 0.025 * k, 3) for k in range(8))  # 0.800 … 0.975
#: The key under which ``grid`` stores a mix's score with the cut chosen by silhouette.
AUTO = -1.0


@dataclass(frozen=True)
class BatchParams:
    text_weight: float = 0.4
    entity_weight: float = 0.0
    #: The cut used when the silhouette cannot choose one (and TF-IDF alone's).
    cut: float = 0.85
    text_cut: float = 0.925
    #: Nearest neighbours per article (only those at least ``neighbour_floor`` alike count),
    #: and the shared neighbours' weight in the similarity.
    neighbours: int = 5
    neighbour_floor: float = 0.2
    neighbour_weight: float = 0.5
    #: The cuts the silhouette chooses among, every 0.025 from the first to the second.
    band: tuple[float, float] = (0.6, 0.95)
    min_silhouette: float = 0.1
    #: Articles whose silhouette is measured (all of them up to this many).
    sample: int = 2000
    #: Components larger than this go to the streaming clusterer (memory ~ 8 · n² / 2 bytes).
    max_block: int = 8000
    #: Corpora larger than this go to the streaming clusterer (time ~ n²).
    max_articles: int = 30000

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> BatchParams:
        got = (meta or {}).get("batch") or {}
        base = cls()
        band = got.get("band", base.band)
        return cls(
            text_weight=float(got.get("text_weight", base.text_weight)),
            entity_weight=float(got.get("entity_weight", base.entity_weight)),
            cut=float(got.get("cut", base.cut)),
            text_cut=float(got.get("text_cut", base.text_cut)),
            neighbours=int(got.get("neighbours", base.neighbours)),
            neighbour_floor=float(got.get("neighbour_floor", base.neighbour_floor)),
            neighbour_weight=float(got.get("neighbour_weight", base.neighbour_weight)),
            band=(float(band[0]), float(band[1])),
            min_silhouette=float(got.get("min_silhouette", base.min_silhouette)),
        )

    def to_meta(self) -> dict[str, Any]:
        return {
            "text_weight": self.text_weight,
            "entity_weight": self.entity_weight,
            "cut": self.cut,
            "text_cut": self.text_cut,
            "neighbours": self.neighbours,
            "neighbour_floor": self.neighbour_floor,
            "neighbour_weight": self.neighbour_weight,
            "band": list(self.band),
            "min_silhouette": self.min_silhouette,
        }

    def band_cuts(self) -> list[float]:
        lo, hi = self.band
        return [round(lo + 0.025 * k, 3) for k in range(round((hi - lo) / 0.025) + 1)]


class Rows(Protocol):
    size: int

    def rows(self, rows: np.ndarray, cols: np.ndarray | slice = ...) -> np.ndarray: ...


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
        return self._mix(rows, cols, self.w, self.n)

    def yardstick(self, rows: np.ndarray) -> np.ndarray:
        """Similarities of ``rows`` to every article on the neutral yardstick the cut is
        chosen by: ½ TF-IDF + ½ embedding (TF-IDF alone without embeddings)."""
        return self._mix(rows, slice(None), 0.5 if self.embeddings is not None else 1.0, 0.0)

    def _mix(self, rows: np.ndarray, cols: np.ndarray | slice, w: float, n: float) -> np.ndarray:
        n_cols = len(cols) if isinstance(cols, np.ndarray) else self.size
        out = np.zeros((len(rows), n_cols), dtype=np.float32)
        if self.tfidf is not None and w > 0:
            out += w * (self.tfidf[rows] @ self.tfidf[cols].T).toarray().astype(np.float32)
        if self.names is not None and n > 0:
            out += n * (self.names[rows] @ self.names[cols].T).toarray().astype(np.float32)
        if self.embeddings is not None and w + n < 1:
            out += (1.0 - w - n) * (self.embeddings[rows] @ self.embeddings[cols].T)
        return out


class SharedNeighbours:
    """``(1 − β) · S + β · SNN``: a similarity sharpened by shared nearest neighbours.

    Each article's neighbourhood is itself and its ``k`` most similar articles by ``S``, of
    those at least ``floor`` alike (in a corpus of unrelated articles nobody is a neighbour);
    they are found a block of rows at a time. SNN is the share of the ``k + 1`` places of two
    neighbourhoods that they have in common."""

    def __init__(
        self, sim: Rows, k: int, weight: float, floor: float = 0.0, block: int = 512
    ) -> None:
        from scipy.sparse import csr_matrix

        self.sim = sim
        self.size = n = sim.size
        self.weight = weight if n > 1 else 0.0
        self.k = k = max(0, min(k, n - 1))
        rows_of, cols_of = [np.arange(n)], [np.arange(n)]  # each article is its own neighbour
        for start in range(0, n if k > 0 else 0, block):
            rows = np.arange(start, min(n, start + block))
            s = sim.rows(rows)
            s[np.arange(len(rows)), rows] = -np.inf
            near = np.argpartition(-s, k - 1, axis=1)[:, :k]
            keep = np.take_along_axis(s, near, axis=1) >= floor - 1e-6
            rows_of.append(np.repeat(rows, k)[keep.ravel()])
            cols_of.append(near.ravel()[keep.ravel()])
        r, c = np.concatenate(rows_of), np.concatenate(cols_of)
        self.members = csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n, n))

    def shared(self, rows: np.ndarray, cols: np.ndarray | slice = slice(None)) -> np.ndarray:
        both = self.members[rows] @ self.members[cols].T
        return (both.toarray() / (self.k + 1)).astype(np.float32)

    def rows(self, rows: np.ndarray, cols: np.ndarray | slice = slice(None)) -> np.ndarray:
        out = self.sim.rows(rows, cols)
        if self.weight > 0:
            out = (1.0 - self.weight) * out + self.weight * self.shared(rows, cols)
        return out


def component_levels(
    sim: Rows, n: int, floors: list[float], block: int = 512
) -> list[np.ndarray]:
    """For each floor, every article's component in the graph joining articles whose
    similarity is that floor or more. The similarity rows are computed once, a block at a
    time, and merged into the components as they come: memory stays linear in ``n``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = [np.arange(n) for _ in floors]
    lowest = min(floors) if floors else 0.0
    for start in range(0, n if floors else 0, block):
        rows = np.arange(start, min(n, start + block))
        s = sim.rows(rows)
        hit_r, hit_c = np.nonzero(s >= lowest - 1e-6)  # float32 rows
        value = s[hit_r, hit_c]
        hit_r = hit_r + start
        for level, floor in enumerate(floors):
            keep = value >= floor - 1e-6
            lab = labels[level]
            a, b = lab[hit_r[keep]], lab[hit_c[keep]]
            apart = a != b
            if not apart.any():
                continue
            graph = coo_matrix(
                (np.ones(int(apart.sum()), dtype=np.int8), (a[apart], b[apart])), shape=(n, n)
            )
            _, merged = connected_components(graph, directed=False)
            labels[level] = merged[lab]
    return labels


def groups(labels: np.ndarray) -> list[np.ndarray]:
    """Article indices by label, largest group first, each in ascending order."""
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    found = np.split(order, cuts) if len(order) else []
    return sorted(found, key=lambda g: (-len(g), int(g[0])))


def components(sim: Rows, n: int, floor: float, block: int = 512) -> list[np.ndarray]:
    """Connected components of the graph joining articles whose similarity is ``floor`` or
    more, largest first; each is an array of article indices in ascending order."""
    return groups(component_levels(sim, n, [floor], block)[0])


Forest = list[tuple[np.ndarray, Any]]


def forest(
    sim: Rows, n: int, loosest_cut: float, max_block: int, comps: list[np.ndarray] | None = None
) -> tuple[Forest, list]:
    """Average-linkage trees of the components at ``loosest_cut`` (any tighter cut of them is
    exact too), and the components too large for a tree."""
    from scipy.cluster.hierarchy import linkage

    trees: Forest = []
    too_large = []
    for comp in comps if comps is not None else components(sim, n, 1.0 - loosest_cut):
        if len(comp) == 1:
            trees.append((comp, None))
        elif len(comp) > max_block:
            too_large.append(comp)
        else:
            s = sim.rows(comp, comp).astype(np.float64)
            distance = np.clip(1.0 - s[np.triu_indices(len(comp), 1)], 0.0, None)
            trees.append((comp, linkage(distance, "average")))
    return trees, too_large


def loosest_fitting(
    sim: Rows, n: int, cuts: list[float], max_block: int
) -> tuple[float, list[np.ndarray]]:
    """The loosest of ``cuts`` whose components all fit in ``max_block`` articles (the
    tightest when none does), and its components. A corpus too connected for one tree at
    the loosest cuts gives those cuts up rather than the exact tree."""
    levels = sorted(set(cuts), reverse=True)
    labels = component_levels(sim, n, [1.0 - c for c in levels])
    for cut, lab in zip(levels, labels, strict=True):
        if np.bincount(lab).max() <= max_block:
            return cut, groups(lab)
    return levels[-1], groups(labels[-1])


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


def silhouettes(
    sim: Similarity, labelings: list[np.ndarray], sample: int, block: int = 256
) -> list[float]:
    """Mean silhouette of each labeling on ``sim.yardstick`` (distance = 1 − similarity; an
    article alone in its story scores 0, as in scikit-learn), over all articles or an evenly
    spaced sample of ``sample`` of them."""
    from scipy.sparse import csr_matrix

    n = sim.size
    if not labelings:
        return []
    pick = np.unique(np.linspace(0, n - 1, min(n, sample)).round().astype(np.int64))
    hots, sizes = [], []
    for labels in labelings:
        k = int(labels.max()) + 1
        hots.append(csr_matrix((np.ones(n, dtype=np.float32), (np.arange(n), labels)), (n, k)))
        sizes.append(np.bincount(labels, minlength=k).astype(np.float64))
    totals = np.zeros(len(labelings))
    for start in range(0, len(pick), block):
        rows = pick[start : start + block]
        y = sim.yardstick(rows)
        self_sim = y[np.arange(len(rows)), rows].astype(np.float64)
        for c, (labels, hot, size) in enumerate(zip(labelings, hots, sizes, strict=True)):
            sums = np.asarray(hot.T.dot(y.T).T, dtype=np.float64)  # rows × stories
            own = labels[rows]
            own_n = size[own] - 1
            alone = own_n <= 0
            a = 1.0 - (sums[np.arange(len(rows)), own] - self_sim) / np.where(alone, 1, own_n)
            other = np.where(size > 0, 1.0 - sums / np.maximum(size, 1.0), np.inf)
            other[np.arange(len(rows)), own] = np.inf
            b = other.min(axis=1)
            s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
            totals[c] += float(np.where(alone, 0.0, s).sum())
    return (totals / len(pick)).tolist()


def choose_cut(
    sim: Similarity, trees: Forest, too_large: list[np.ndarray], params: BatchParams,
    fallback: float, loosest: float = 1.0,
) -> tuple[float, float | None]:  # fmt: skip
    """The band's cut (no looser than ``loosest``) whose stories have the best mean
    silhouette, and that silhouette; the fallback cut (and the best silhouette, or None when no
    cut makes two stories or more) when the best is under ``min_silhouette``."""
    n = sim.size
    cuts, labelings = [], []
    for cut in (c for c in params.band_cuts() if c <= loosest + 1e-9):
        labels = np.zeros(n, dtype=np.int64)
        nxt = cut_forest(trees, cut, labels)
        for comp in too_large:  # one story each while the cut is chosen
            labels[comp] = nxt
            nxt += 1
        if 2 <= nxt < n:
            cuts.append(cut)
            labelings.append(labels)
    if not cuts:
        return fallback, None
    got = silhouettes(sim, labelings, params.sample)
    best = int(np.argmax(got))
    if got[best] < params.min_silhouette:
        return fallback, got[best]
    return cuts[best], got[best]


def cluster(
    docs: list[StoryDoc],
    params: BatchParams,
    fallback: Callable[[list[StoryDoc]], dict[str, int]],
    report: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Story numbers of ``docs`` (in canonical order) by average linkage; ``fallback`` (the
    streaming clusterer's batch) takes corpora and components too large for a tree. The cut
    chosen and its silhouette go into ``report`` when one is given."""
    n = len(docs)
    if n == 0:
        return {}
    if n > params.max_articles:
        return fallback(docs)
    sim = Similarity(docs, params.text_weight, params.entity_weight)
    fixed = params.cut if sim.w < 1.0 else params.text_cut
    shared = SharedNeighbours(
        sim, params.neighbours, params.neighbour_weight, params.neighbour_floor
    )
    loosest, comps = loosest_fitting(shared, n, [*params.band_cuts(), fixed], params.max_block)
    trees, too_large = forest(shared, n, loosest, params.max_block, comps)
    cut, silhouette = choose_cut(sim, trees, too_large, params, min(fixed, loosest), loosest)
    if report is not None:
        sizes = [len(comp) for comp, _ in trees] + [len(comp) for comp in too_large]
        report.update(
            cut=cut, silhouette=silhouette,
            fallback=silhouette is None or silhouette < params.min_silhouette,
            largest_component=max(sizes), sent_to_stream=sum(len(c) for c in too_large),
            loosest_cut=loosest,
        )  # fmt: skip
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
    """Batch mode as ``[stories] batch`` says: ``average`` (this module, with the weights and
    fallback cut learned with ``model``) or ``stream`` (the stream, then its merge and split
    passes)."""
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


Table = dict[tuple[int, float, float, float], float]


def fit(
    sets: Iterable[tuple[list[StoryDoc], dict[str, set[str]]]],
    score: Callable[[dict[str, str], dict[str, set[str]]], float],
) -> tuple[BatchParams, Table]:
    """The mix with the best mean ``score`` over ``sets`` (each weighing the same) with the cut
    chosen by silhouette, and the fallback cuts likewise. Also returns every set's score per
    grid point, keyed by (set number, TF-IDF weight, names weight, cut or ``AUTO``), so
    callers can choose again on a subset (leave one out)."""
    table = grid(sets, score)
    params = choose(table, sorted({k[0] for k in table}))
    return params, table


def grid(
    sets: Iterable[tuple[list[StoryDoc], dict[str, set[str]]]],
    score: Callable[[dict[str, str], dict[str, set[str]]], float],
    base: BatchParams | None = None,
) -> Table:
    base = base or BatchParams()
    table: Table = {}
    for k, (docs, gold) in enumerate(sets):
        n = len(docs)
        bare = [replace(d, embedding=None) for d in docs]
        for (t, e), cuts in [(mix, CUTS) for mix in MIXES] + [(TEXT_ONLY, TEXT_CUTS)]:
            sim = Similarity(bare if (t, e) == TEXT_ONLY else docs, t, e)
            shared = SharedNeighbours(
                sim, base.neighbours, base.neighbour_weight, base.neighbour_floor
            )
            trees, too_large = forest(shared, n, max(max(cuts), base.band[1]), max_block=n)
            assert not too_large

            for c in cuts:
                table[(k, t, e, c)] = _score_cut(trees, c, docs, gold, score)
            # NaN: no clear cut, so the set counts at whichever fallback cut ``choose`` tries.
            auto, _ = choose_cut(sim, trees, [], base, float("nan"))
            table[(k, t, e, AUTO)] = (
                float("nan") if np.isnan(auto) else _score_cut(trees, auto, docs, gold, score)
            )
    return table


def _score_cut(
    trees: Forest, cut: float, docs: list[StoryDoc], gold: dict[str, set[str]],
    score: Callable[[dict[str, str], dict[str, set[str]]], float],
) -> float:  # fmt: skip
    labels = np.zeros(len(docs), dtype=np.int64)
    cut_forest(trees, cut, labels)
    return score({d.id: str(x) for d, x in zip(docs, labels.tolist(), strict=True)}, gold)


def choose(table: Table, use: list[int], base: BatchParams | None = None) -> BatchParams:
    """The mix with the best mean score (cut by silhouette; where a set had no clear cut, its
    score at the fallback cut counts) and the fallback cuts with the best mean score."""
    base = base or BatchParams()

    def fixed(mix: tuple[float, float], c: float) -> float:
        return sum(table[(k, *mix, c)] for k in use) / len(use)

    def auto(mix: tuple[float, float], c: float) -> float:
        got = [table[(k, *mix, AUTO)] for k in use]
        return sum(
            table[(k, *mix, c)] if np.isnan(g) else g for k, g in zip(use, got, strict=True)
        ) / len(use)

    def best_cut(mix: tuple[float, float], cuts: tuple[float, ...]) -> float:
        return max(cuts, key=lambda c: fixed(mix, c))

    cut_of = {mix: best_cut(mix, CUTS) for mix in MIXES}
    t, e = max(MIXES, key=lambda mix: auto(mix, cut_of[mix]))
    text_cut = best_cut(TEXT_ONLY, TEXT_CUTS)
    return replace(base, text_weight=t, entity_weight=e, cut=cut_of[(t, e)], text_cut=text_cut)
