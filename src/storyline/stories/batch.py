"""Batch stories: average linkage over a learned similarity sharpened by shared neighbours,
each region of the tree cut where its stories stand furthest apart.

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

**Time.** Stories are bursts: with a ``time_weight`` α, two dated articles' ``S`` is scaled
by ``1 − α + α · exp(−gap / τ)``, the gap read on the corpus's own clock (the share of its
dated articles published in between), so one τ fits a day of headlines and years of
WikiNews. α and τ are chosen on the dev sets by the stories they give (``choose_time``).

**The stories.** Articles are grouped by average linkage, and the stories are nodes of the
tree chosen from the top down (``TreeCut``): starting from the band's loosest cut, a story
is split where that raises the mean silhouette (Rousseeuw 1987) of all stories, measured on a
neutral yardstick, ``½ tfidf + ½ embedding``, so that the learned mix cannot choose its own
stories. How alike a story's articles are depends on the corpus and on the region of it (full
articles or headlines only, one week or a season), and one cut learned on some corpora, or
chosen for the whole of one, misses the rest; the silhouette reads it off each region. When
fewer than two stories come out, or their silhouette is under ``min_silhouette`` (no clear
structure), the learned fallback cut is used. Above ``sample_cells`` similarities the
silhouette is estimated on an evenly spaced sample of the articles.

**Exact and bounded.** Average linkage never joins two groups of which no pair is closer than
the cut, so the corpus is first split into the connected components of the graph of such
pairs at the loosest cut (found in row blocks, never the whole matrix at once) and each
component gets its own tree: the same result as one tree over the corpus. A component at the
band's loosest cut larger than ``max_block`` articles is split into its parts at tighter
cuts, one step at a time, until they fit; each gets its own tree, and they are joined back
into the component's exact tree (``rejoin``) by average linkage over the parts' stories at
their cuts, when those number ``max_block`` or fewer; otherwise the component gives up its
loosest cuts. A part too large even at the tightest cut is left to the streaming clusterer,
and so is a corpus larger than ``max_articles``: the pairwise work grows with the square of
its size.

Unlike the stream, the result does not depend on the order the articles arrive in.

**Spread.** The pairwise work over row blocks (nearest neighbours, components at every cut,
the trees' distances, the silhouettes' yardstick) is handed out as a ``Spread`` says: in this
process, or in slices over an engine's workers (``storyline.engine``'s ``map_shared``), with
the same result either way; the trees and the cut are made here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
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
#: The most memory the pairwise TF-IDF cosines may take to be worked out once and kept
#: (``Similarity.keep``): 1 GiB, 16,384 articles; a larger corpus works each block out again.
KEEP_BYTES = 1 << 30
#: The (weight, scale) of time ``choose_time`` searches; the first leaves time out.
TIMES = ((0.0, 0.035), *((a, t) for a in (0.2, 0.3, 0.4) for t in (0.02, 0.035, 0.05)))


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
    #: Time as evidence: two articles' similarity is scaled by ``1 − α + α · exp(−gap / τ)``,
    #: the gap measured on the corpus's own clock (``Similarity``), α ``time_weight`` and τ
    #: ``time_scale``. 0 leaves time out.
    time_weight: float = 0.0
    time_scale: float = 0.035
    #: The cuts the silhouette chooses among, every 0.025 from the first to the second.
    band: tuple[float, float] = (0.6, 0.95)
    min_silhouette: float = 0.1
    #: When a story's split into its two children does not raise the silhouette, its splits
    #: at this many band cuts below it are tried.
    lookahead: int = 2
    #: Articles whose silhouette is measured: all of them while their similarities to every
    #: article fit in ``sample_cells`` (4 bytes each), else an evenly spaced sample of that
    #: many rows, never fewer than ``sample``.
    sample: int = 2000
    sample_cells: int = 64_000_000
    #: The largest component given one tree (memory about 8 · n² bytes: 2 GB at 16,000), and
    #: the most stories a larger one's parts may have to be joined back (8 · k² bytes).
    max_block: int = 16000
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
            time_weight=float(got.get("time_weight", base.time_weight)),
            time_scale=float(got.get("time_scale", base.time_scale)),
            band=(float(band[0]), float(band[1])),
            min_silhouette=float(got.get("min_silhouette", base.min_silhouette)),
            lookahead=int(got.get("lookahead", base.lookahead)),
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
            "time_weight": self.time_weight,
            "time_scale": self.time_scale,
            "band": list(self.band),
            "min_silhouette": self.min_silhouette,
            "lookahead": self.lookahead,
        }

    def band_cuts(self) -> list[float]:
        lo, hi = self.band
        return [round(lo + 0.025 * k, 3) for k in range(int((hi - lo) / 0.025 + 1e-9) + 1)]


def clock(times: list[float | None]) -> np.ndarray:
    """Each article's place on the corpus's own clock: its rank in publication order (ties
    sharing their mean rank) over the number of dated articles, in [0, 1); NaN when undated."""
    from scipy.stats import rankdata

    out = np.full(len(times), np.nan)
    dated = np.array([t is not None for t in times], dtype=bool)
    if dated.any():
        values = np.array([t for t in times if t is not None], dtype=np.float64)
        out[dated] = (rankdata(values, method="average") - 1.0) / len(values)
    return out.astype(np.float32)


def _cores() -> int:
    """The cores this process may use: a pool worker's share, else those it may run on."""
    share = int(os.environ.get("STORYLINE_WORKER_THREADS", "0"))
    if share:
        return share
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def here(fn: Callable[[Any, Any], Any], shared: Any, items: Iterable[Any]) -> Iterator[Any]:
    """``Spread``'s map in this process, lazily."""
    return (fn(shared, item) for item in items)


@dataclass(frozen=True)
class Spread:
    """How the pairwise work over blocks of rows is handed out.

    ``map(fn, shared, items)`` gives ``fn(shared, item)`` for each item, in order: ``here``, or
    an engine's ``map_shared`` (on Ray, ``shared`` — the similarity — goes to the object store
    once and each item is a task). The rows are cut into ``parts`` slices of whole blocks of
    ``block`` rows; one slice runs here, with no task at all. Where a block is computed does
    not change what it holds (``Similarity`` sums embedding products in float64), so the
    stories are the same however the work is cut."""

    map: Callable[..., Iterable[Any]] = here
    parts: int = 1
    block: int = 512

    def spans(self, n: int) -> list[tuple[int, int]]:
        """``range(n)`` as up to ``parts`` slices ``(start, end)`` of whole blocks."""
        blocks = -(-n // self.block)
        per = max(1, -(-blocks // max(1, self.parts)))
        b = self.block
        return [(s * b, min(n, (s + per) * b)) for s in range(0, blocks, per)]

    def run(
        self, fn: Callable[[Any, Any], Any], shared: Any, items: list[Any],
        cost: list[float] | None = None,
    ) -> Iterator[Any]:  # fmt: skip
        """``fn(shared, item)`` for each item, in order. Spread, the items go out in up to
        ``parts`` tasks of consecutive items of about equal summed ``cost`` (1 each by
        default); here, one item at a time."""
        if self.parts <= 1 or len(items) <= 1:
            return here(fn, shared, items)
        tasks = _packed(items, cost or [1.0] * len(items), self.parts)
        return (y for out in self.map(_each, (fn, shared), tasks) for y in out)


def _packed(items: list[Any], cost: list[float], parts: int) -> list[list[Any]]:
    """``items`` cut into up to ``parts`` runs of consecutive items, each of about an equal
    share of the summed ``cost``."""
    total = float(sum(cost)) or 1.0
    out: list[list[Any]] = [[]]
    run = 0.0
    for item, c in zip(items, cost, strict=True):
        if out[-1] and run >= total * len(out) / parts and len(out) < parts:
            out.append([])
        out[-1].append(item)
        run += c
    return out


def _each(task: tuple[Callable[[Any, Any], Any], Any], items: list[Any]) -> list[Any]:
    fn, shared = task
    return [fn(shared, item) for item in items]


class Rows(Protocol):
    size: int

    def rows(self, rows: np.ndarray, cols: np.ndarray | slice = ...) -> np.ndarray: ...


class Similarity:
    """Pairwise similarities of a fixed set of articles, computed a block at a time.

    With a ``time_weight`` α, the mix of two dated articles is scaled by
    ``1 − α + α · exp(−gap / time_scale)`` (undated: by 1), the gap read on the corpus's own
    clock: each article's rank in publication order over the number dated (ties share their
    mean rank), so that a gap counts the articles published in between. A fixed scale in days
    fits one kind of corpus (a week of headlines, a season of wire copy, years of WikiNews) and
    misses the others; the share of the corpus published in between reads the same way in each.
    The yardstick the stories are chosen by leaves time out."""

    def __init__(
        self, docs: list[StoryDoc], text_weight: float, entity_weight: float = 0.0,
        time_weight: float = 0.0, time_scale: float = 0.035,
    ) -> None:  # fmt: skip
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
        # Held (and multiplied) in float64, then rounded to float32: a float32 product's last
        # bit depends on the shape of the block it was computed in (BLAS picks its kernel by
        # shape), so a block cut in two on two workers would not be quite the same.
        self.embeddings = (
            np.stack(embeddings).astype(np.float64)
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
        self.time_weight, self.time_scale = time_weight, time_scale
        self.clock = clock([d.time for d in docs]) if time_weight > 0 else None
        self.kept: np.ndarray | None = None  # every pair's TF-IDF cosine, once ``keep`` made it

    def keep(self, most_bytes: int) -> bool:
        """Work out every pair's TF-IDF cosine once (float32, a block of rows at a time) and
        read the blocks from it, if the matrix takes no more than ``most_bytes``. The stories
        ask for each pair three or four times (neighbours, components, trees, yardstick),
        and the sparse product was most of their time. The values are those each block
        gets by itself: a cell's sum runs over its first article's terms in their order,
        whichever rows and columns share its block. Only where all the blocks are worked
        out in this process: a copy sent to a worker leaves the matrix behind. The blocks
        are worked out on this process's cores at once (scipy's sparse product lets go of
        the GIL: 10,000 articles' matrix in 4.4 s on two threads against 8.4 s on one)."""
        if self.tfidf is None or self.size * self.size * 4 > most_bytes:
            return False
        if self.kept is None:
            from concurrent.futures import ThreadPoolExecutor

            kept = np.empty((self.size, self.size), dtype=np.float32)
            right = self.tfidf.T.tocsr()
            tfidf = self.tfidf

            def block(start: int) -> None:
                part = tfidf[start : start + 1024] @ right
                kept[start : start + 1024] = part.toarray().astype(np.float32)

            starts = range(0, self.size, 1024)
            with ThreadPoolExecutor(max(1, min(_cores(), len(starts)))) as threads:
                list(threads.map(block, starts))
            self.kept = kept
        return True

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "kept": None}

    def _text(self, rows: np.ndarray, cols: np.ndarray | slice) -> np.ndarray:
        """The TF-IDF cosines of ``rows`` with ``cols`` (float32)."""
        if self.kept is not None:
            block = self.kept[rows]
            return block if isinstance(cols, slice) and cols == slice(None) else block[:, cols]
        assert self.tfidf is not None
        return (self.tfidf[rows] @ self.tfidf[cols].T).toarray().astype(np.float32)

    def rows(self, rows: np.ndarray, cols: np.ndarray | slice = slice(None)) -> np.ndarray:
        out = self._mix(rows, cols, self.w, self.n)
        if self.clock is not None:  # float32 throughout: this runs over every block of rows
            factor = np.abs(self.clock[rows][:, None] - self.clock[cols][None, :])
            factor *= np.float32(-1.0 / self.time_scale)
            np.exp(factor, out=factor)
            factor *= np.float32(self.time_weight)
            factor += np.float32(1.0 - self.time_weight)
            out *= np.nan_to_num(factor, nan=1.0, copy=False)
        return out

    def yardstick(self, rows: np.ndarray) -> np.ndarray:
        """Similarities of ``rows`` to every article on the neutral yardstick the cut is
        chosen by: ½ TF-IDF + ½ embedding (TF-IDF alone without embeddings)."""
        return self._mix(rows, slice(None), 0.5 if self.embeddings is not None else 1.0, 0.0)

    def _mix(self, rows: np.ndarray, cols: np.ndarray | slice, w: float, n: float) -> np.ndarray:
        n_cols = len(cols) if isinstance(cols, np.ndarray) else self.size
        out = np.zeros((len(rows), n_cols), dtype=np.float32)
        if self.tfidf is not None and w > 0:
            out += w * self._text(rows, cols)
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
        self, sim: Rows, k: int, weight: float, floor: float = 0.0, spread: Spread | None = None
    ) -> None:  # fmt: skip
        from scipy.sparse import csr_matrix

        spread = spread or Spread()
        self.sim = sim
        self.size = n = sim.size
        self.weight = weight if n > 1 else 0.0
        self.k = k = max(0, min(k, n - 1))
        rows_of, cols_of = [np.arange(n)], [np.arange(n)]  # each article is its own neighbour
        spans = spread.spans(n) if k > 0 else []
        for r, c in spread.run(_neighbours, (sim, k, floor, spread.block), spans):
            rows_of.append(r)
            cols_of.append(c)
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


def _neighbours(task: tuple[Rows, int, float, int], span: tuple[int, int]) -> tuple[Any, Any]:
    """``SharedNeighbours``' nearest neighbours of the rows of ``span``: (rows, columns)."""
    sim, k, floor, block = task
    rows_of, cols_of = [], []
    for start in range(span[0], span[1], block):
        rows = np.arange(start, min(span[1], start + block))
        s = sim.rows(rows)
        s[np.arange(len(rows)), rows] = -np.inf
        near = np.argpartition(-s, k - 1, axis=1)[:, :k]
        keep = np.take_along_axis(s, near, axis=1) >= floor - 1e-6
        rows_of.append(np.repeat(rows, k)[keep.ravel()])
        cols_of.append(near.ravel()[keep.ravel()])
    return np.concatenate(rows_of), np.concatenate(cols_of)


def component_levels(
    sim: Rows, n: int, floors: list[float], spread: Spread | None = None
) -> list[np.ndarray]:
    """For each floor, every article's component in the graph joining articles whose
    similarity is that floor or more. Each slice of rows (``Spread``) computes its similarity
    rows once, a block at a time, merging them into components as they come (memory linear in
    ``n``), and gives back only which article joined which; the slices' joins are merged here."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    spread = spread or Spread()
    labels = [np.arange(n) for _ in floors]
    if not floors:
        return labels
    found = list(spread.run(_levels, (sim, n, floors, spread.block), spread.spans(n)))
    for level in range(len(floors)):
        a = np.concatenate([np.zeros(0, dtype=np.int64), *(f[level][0] for f in found)])
        b = np.concatenate([np.zeros(0, dtype=np.int64), *(f[level][1] for f in found)])
        if len(a):
            graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
            labels[level] = connected_components(graph, directed=False)[1]
    return labels


def _levels(
    task: tuple[Rows, int, list[float], int], span: tuple[int, int]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``component_levels`` over the rows of ``span``: for each floor, every article that is
    not the first (lowest) member of its component so far, and that first member."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sim, n, floors, block = task
    labels = [np.arange(n) for _ in floors]
    lowest = min(floors)
    for start in range(span[0], span[1], block):
        rows = np.arange(start, min(span[1], start + block))
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
    out = []
    everyone = np.arange(n)
    for lab in labels:  # each article joined to the first member of its component
        first = np.full(int(lab.max()) + 1, n, dtype=np.int64)
        np.minimum.at(first, lab, everyone)
        joined = first[lab]
        moved = np.flatnonzero(joined != everyone)
        out.append((moved, joined[moved]))
    return out


def groups(labels: np.ndarray) -> list[np.ndarray]:
    """Article indices by label, largest group first, each in ascending order."""
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    found = np.split(order, cuts) if len(order) else []
    return sorted(found, key=lambda g: (-len(g), int(g[0])))


def components(sim: Rows, n: int, floor: float, spread: Spread | None = None) -> list[np.ndarray]:
    """Connected components of the graph joining articles whose similarity is ``floor`` or
    more, largest first; each is an array of article indices in ascending order."""
    return groups(component_levels(sim, n, [floor], spread)[0])


Forest = list[tuple[np.ndarray, Any]]


def forest(
    sim: Rows, n: int, loosest_cut: float, max_block: int, comps: list[np.ndarray] | None = None,
    spread: Spread | None = None,
) -> tuple[Forest, list]:  # fmt: skip
    """Average-linkage trees of the components at ``loosest_cut`` (any tighter cut of them is
    exact too), and the components too large for a tree. The distances within each component
    are computed in pieces of its rows, spread (a large component is cut into pieces of about
    equal numbers of pairs); each tree is built here as its last piece comes back."""
    from scipy.cluster.hierarchy import linkage

    spread = spread or Spread()
    trees: Forest = []
    too_large = []
    todo: list[np.ndarray] = []
    for comp in comps if comps is not None else components(sim, n, 1.0 - loosest_cut, spread):
        if len(comp) == 1:
            trees.append((comp, None))
        elif len(comp) > max_block:
            too_large.append(comp)
        else:
            todo.append(comp)
            trees.append((comp, None))
    where = [j for j, (comp, _) in enumerate(trees) if len(comp) > 1]
    pieces, cost = _pieces([len(c) for c in todo], spread.parts)
    held: np.ndarray | None = None
    for (j, start, end), dist in zip(
        pieces, spread.run(_condensed, (sim, todo, spread.block), pieces, cost), strict=True
    ):
        m = len(todo[j])
        if start == 0 and end == m:
            held = dist
        else:
            if start == 0:
                held = np.empty(m * (m - 1) // 2, dtype=np.float64)
            at = start * (m - 1) - start * (start - 1) // 2  # pairs of the rows before
            held[at : at + len(dist)] = dist  # type: ignore[index]
        if end == m:
            trees[where[j]] = (todo[j], linkage(held, "average"))
            held = None
    return trees, too_large


def _pieces(sizes: list[int], parts: int) -> tuple[list[tuple[int, int, int]], list[float]]:
    """The rows of components of ``sizes`` as pieces ``(component, start, end)`` and their
    numbers of pairs: one piece a component, unless it holds more than a ``parts``-th of all
    pairs, then as many pieces of about equal pairs as its share."""
    pairs = [m * (m - 1) / 2 for m in sizes]
    total = sum(pairs) or 1.0
    pieces, cost = [], []
    for j, m in enumerate(sizes):
        k = min(m, max(1, round(pairs[j] * parts / total)))
        # Pairs of rows before row i: i·(m−1) − i·(i−1)/2; cut where they reach each share.
        rows = np.arange(m + 1)
        before = rows * (m - 1) - rows * (rows - 1) / 2
        cuts = np.unique(np.searchsorted(before, pairs[j] * np.arange(1, k) / k))
        bounds = [0, *[int(c) for c in cuts if 0 < c < m], m]
        for a, b in itertools.pairwise(bounds):
            pieces.append((j, a, b))
            cost.append(float(before[b] - before[a]))
    return pieces, cost


def _condensed(task: tuple[Rows, list[np.ndarray], int], piece: tuple[int, int, int]) -> np.ndarray:
    """The distances (1 − similarity, at least 0) from rows ``start:end`` of a component to
    the articles after each, as that stretch of the condensed vector ``linkage`` takes,
    filled a block of rows at a time: 8 bytes a pair and nothing as large beside it."""
    sim, comps, block = task
    j, first, end = piece
    comp = comps[j]
    m = len(comp)
    out = np.empty(sum(m - i - 1 for i in range(first, end)), dtype=np.float64)
    at = 0
    for start in range(first, end, block):
        rows = np.clip(
            1.0 - sim.rows(comp[start : min(end, start + block)], comp).astype(np.float64), 0, None
        )
        for k in range(len(rows)):
            i = start + k
            out[at : at + m - i - 1] = rows[k, i + 1 :]
            at += m - i - 1
    return out


def fitting(
    sim: Rows, n: int, cuts: list[float], max_block: int, spread: Spread | None = None
) -> tuple[list[tuple[np.ndarray, float, int]], list[np.ndarray]]:
    """The components of the corpus, each at the loosest of ``cuts`` at which it fits in
    ``max_block`` articles, with that cut and the number of the component at the loosest cut
    it lies in; and those too large even at the tightest. Only a
    component too large for one tree gives up its loosest cuts, for its parts at the next cut
    down (components nest: each at a tighter cut lies within one at a looser cut); the rest of
    the corpus keeps them."""
    levels = sorted(set(cuts), reverse=True)
    labels = component_levels(sim, n, [1.0 - c for c in levels], spread)
    fit, too_large = [], []
    stack = [(comp, 0, top) for top, comp in enumerate(groups(labels[0]))] if levels else []
    while stack:
        comp, level, top = stack.pop()
        if len(comp) <= max_block:
            fit.append((comp, levels[level], top))
        elif level + 1 == len(levels):
            too_large.append(comp)
        else:
            parts = groups(labels[level + 1][comp])
            stack.extend((comp[part], level + 1, top) for part in parts)
    return fit, too_large


def rejoin(
    sim: Rows, comp: np.ndarray, parts: list[tuple[np.ndarray, Any, float]], max_block: int,
    block: int = 512,
) -> np.ndarray | None:  # fmt: skip
    """The exact average-linkage tree of ``comp`` from the trees of its ``parts`` (each a
    component at its own, tighter cut), or None when they make more than ``max_block`` stories
    at their cuts.

    A part's tree is exact up to its cut, so its stories there are nodes of the tree of the
    whole; above them average linkage needs only the mean similarity of every two of them,
    summed a block of rows at a time, and merges them as it would have merged their articles.
    Memory: 8 bytes for every two of those stories."""
    from scipy.sparse import csr_matrix

    where = np.empty(int(comp.max()) + 1, dtype=np.int64)
    where[comp] = np.arange(len(comp))
    # Merge events: (height, order, left, right); a child is ("leaf", i) or ("event", k).
    events: list[Event] = []
    story_of = np.empty(len(comp), dtype=np.int64)
    stories: list[tuple[str, int]] = []
    for members, tree, cut in parts:
        ref: list[tuple[str, int]] = [("leaf", int(i)) for i in where[members]]
        merged = [False] * len(ref)
        for a, b, h, _ in tree if tree is not None else []:
            if h > cut + 1e-9:
                break  # heights only grow along the tree
            events.append((float(h), len(events), ref[int(a)], ref[int(b)]))
            merged[int(a)] = merged[int(b)] = True
            ref.append(("event", len(events) - 1))
            merged.append(False)
        for node, done in zip(ref, merged, strict=True):
            if not done:  # a story of the part at its cut
                story_of[_leaves(events, node)] = len(stories)
                stories.append(node)
    k = len(stories)
    if k > max_block:
        return None
    # Summed similarities of every two stories, rows taken story by story.
    order = np.argsort(story_of, kind="stable")
    hot = csr_matrix((np.ones(len(comp)), (np.arange(len(comp)), story_of)), shape=(len(comp), k))
    sums = np.zeros((k, k))
    for start in range(0, len(comp), block):
        rows = order[start : start + block]
        to_stories = (hot.T @ sim.rows(comp[rows], comp).astype(np.float64).T).T  # rows × k
        own = story_of[rows]
        cuts = np.flatnonzero(np.diff(own)) + 1
        sums[own[np.r_[0, cuts]]] += np.add.reduceat(to_stories, np.r_[0, cuts], axis=0)
    sizes = np.bincount(story_of, minlength=k).astype(np.float64)
    for a, b, h in _average_linkage(sums, sizes):
        events.append((h, len(events), stories[a], stories[b]))
        stories[a] = ("event", len(events) - 1)
    # Into scipy's form: events by height (a child before its parent on ties).
    ranked = sorted(range(len(events)), key=lambda e: (events[e][0], events[e][1]))
    node_id = {e: len(comp) + j for j, e in enumerate(ranked)}
    count = np.ones(len(comp) + len(ranked))

    def ident(child: tuple[str, int]) -> int:
        return child[1] if child[0] == "leaf" else node_id[child[1]]

    out = np.zeros((len(ranked), 4))
    for j, e in enumerate(ranked):
        h, _, left, right = events[e]
        a, b = ident(left), ident(right)
        count[len(comp) + j] = count[a] + count[b]
        out[j] = (a, b, h, count[len(comp) + j])
    return out


Event = tuple[float, int, tuple[str, int], tuple[str, int]]


def _leaves(events: list[Event], node: tuple[str, int]) -> list[int]:
    out, stack = [], [node]
    while stack:
        kind, i = stack.pop()
        if kind == "leaf":
            out.append(i)
        else:
            stack.extend((events[i][2], events[i][3]))
    return out


def _average_linkage(sums: np.ndarray, sizes: np.ndarray) -> list[tuple[int, int, float]]:
    """Average linkage of groups, from the summed similarities of every two and their sizes,
    by nearest-neighbour chains (Murtagh 1983): merges as (slot, slot, distance), the merged
    group taking the first slot. ``sums`` is overwritten."""
    k = len(sizes)
    sizes = sizes.copy()
    dist = sums
    np.divide(sums, np.outer(sizes, sizes), out=dist)
    np.subtract(1.0, dist, out=dist)
    np.fill_diagonal(dist, np.inf)
    alive = np.ones(k, dtype=bool)
    merges: list[tuple[int, int, float]] = []
    chain: list[int] = []
    for _ in range(k - 1):
        while True:
            if not chain:
                chain.append(int(np.flatnonzero(alive)[0]))
            a = chain[-1]
            b = int(np.argmin(dist[a]))
            if len(chain) > 1 and dist[a, chain[-2]] <= dist[a, b]:
                b = chain[-2]
            if len(chain) > 1 and b == chain[-2]:
                break
            chain.append(b)
        chain.pop()
        chain.pop()
        a, b = (a, b) if a < b else (b, a)
        merges.append((a, b, float(dist[a, b])))
        row = (sizes[a] * dist[a] + sizes[b] * dist[b]) / (sizes[a] + sizes[b])
        dist[a], dist[:, a] = row, row
        dist[b], dist[:, b] = np.inf, np.inf
        dist[a, a] = np.inf
        sizes[a] += sizes[b]
        alive[b] = False
    return merges


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


class TreeCut:
    """Stories as nodes of the average-linkage trees, chosen from the top down by the mean
    silhouette (Rousseeuw 1987) on ``sim.yardstick``.

    The stories start as the trees' nodes at the band's loosest cut (no looser than the tree's
    own loosest cut, in ``levels``). Taking the highest story first, its split into its two children is kept when
    it raises the mean silhouette; when it does not, its split at each of the next
    ``lookahead`` band cuts below it is tried, and the first that raises it is kept. Nodes at
    or under the band's tightest cut are never split. A story whose split was refused is
    tried again once the others have split (a split judged against coarse neighbours can pay
    against fine ones), in rounds until a round splits nothing. So every region of the corpus is cut
    where its own stories stand furthest apart: a corpus of full articles and headlines, or of
    a tight week and a loose season, is not held to one distance.

    The silhouette is kept per article and updated as stories split (only the split story's
    articles, and those whose nearest other story it was, are recomputed). It is measured
    over all articles while their similarities to every article fit in ``sample_cells``, else
    over an evenly spaced sample; an article alone in its story, or with no other story,
    scores 0, as in scikit-learn. ``fixed`` groups are stories that are never split
    (components left to the stream)."""

    def __init__(
        self, sim: Similarity, trees: Forest, fixed: list[np.ndarray], params: BatchParams,
        levels: list[float] | None = None, spread: Spread | None = None,
    ) -> None:  # fmt: skip
        from scipy.cluster.hierarchy import leaves_list

        self.n = sim.size
        self.sim, self.params = sim, params
        self.spread = spread or Spread()
        self.trees, self.fixed = trees, fixed
        self.levels = levels if levels is not None else [params.band[1]] * len(trees)
        # Every tree's leaves in dendrogram order, one tree after another: a node's articles
        # are then the run seq[start : start + count].
        seq, start, count, height, left, right, roots = [], [], [], [], [], [], []

        def node(at: int, size: int, h: float = 0.0, kids: tuple[int, int] = (-1, -1)) -> int:
            start.append(at)
            count.append(size)
            height.append(h)
            left.append(kids[0])
            right.append(kids[1])
            return len(start) - 1

        at = 0
        for comp, tree in trees:
            if tree is None or len(comp) == 1:
                seq.append(comp)
                roots.append(node(at, len(comp)))
                at += len(comp)
                continue
            m = len(comp)
            seq.append(comp[leaves_list(tree)])
            base = len(start)
            ids = [node(0, 1) for _ in range(m)] + [
                node(0, int(c), float(h), (base + int(a), base + int(b))) for a, b, h, c in tree
            ]
            start[ids[-1]] = at
            for j in range(m - 2, -1, -1):  # from the root down, left child first in seq
                me, a, b = base + m + j, left[base + m + j], right[base + m + j]
                start[a] = start[me]
                start[b] = start[me] + count[a]
            roots.append(ids[-1])
            at += m
        for comp in fixed:
            seq.append(comp)
            roots.append(node(at, len(comp)))
            at += len(comp)
        self.seq = np.concatenate(seq) if seq else np.zeros(0, dtype=np.int64)
        self.start, self.count = np.array(start), np.array(count)
        self.height = np.array(height, dtype=np.float64)
        self.left, self.right = np.array(left), np.array(right)
        self.lo = params.band[0]
        # Each tree is exact up to its own loosest cut; the fixed groups are never split.
        tops = self.levels + [0.0] * len(fixed)
        self.tops = [min(params.band[1], top) for top in tops]
        self.roots = roots

    def starts(self) -> list[int]:
        """The stories before any split: each tree's nodes at its loosest cut in the band."""
        return [u for r, top in zip(self.roots, self.tops, strict=True) for u in self.below(r, top)]

    def below(self, v: int, cut: float) -> list[int]:
        """The highest nodes under (or at) ``v`` no higher than ``cut``, in ``seq`` order."""
        out, stack = [], [v]
        while stack:
            u = stack.pop()
            if self.left[u] >= 0 and self.height[u] > cut + 1e-9:
                stack.extend((self.right[u], self.left[u]))
            else:
                out.append(u)
        return out

    def choose(self) -> tuple[np.ndarray | None, float | None]:
        """Story numbers (in canonical order of their first article) and their mean
        silhouette; None for the numbers when fewer than two stories are found or the
        silhouette is under ``min_silhouette``, and for the silhouette when no story splits."""
        import heapq

        n, p = self.n, self.params
        if n < 3:
            return None, None
        start = self.starts()
        state = _Silhouettes(self, max(p.sample, p.sample_cells // n), self.spread)
        state.open(start)
        heap = [(-self.height[u], u) for u in start if self._splits(u)]
        while heap:  # rounds, until one splits nothing
            heapq.heapify(heap)
            kept, refused = state.stories(), []
            while heap:
                _, v = heapq.heappop(heap)
                for parts in self.splits(v):
                    if state.split(v, parts):
                        for u in parts:
                            if self._splits(u):
                                heapq.heappush(heap, (-self.height[u], u))
                        break
                else:
                    refused.append(v)
            heap = [(-self.height[u], u) for u in refused] if state.stories() > kept else []
        if state.stories() < 2:
            return None, None
        mean = state.mean()
        if mean < p.min_silhouette:
            return None, mean
        return state.labels(), mean

    def splits(self, v: int) -> list[list[int]]:
        """The ways ``choose`` may split story ``v``, in the order it tries them: into its two
        children, then into its nodes at each of the next ``lookahead`` band cuts below it
        (each only when it differs from the ways before it)."""
        steps = self.params.band_cuts()[::-1]
        lower = [c for c in steps if c < self.height[v] - 1e-9][: self.params.lookahead]
        out: list[list[int]] = []
        for parts in [[int(self.left[v]), int(self.right[v])]] + [self.below(v, c) for c in lower]:
            if parts not in out:  # the next cut down splits the story no further
                out.append(parts)
        return out

    def best(self, gold: np.ndarray) -> np.ndarray:
        """The stories these trees hold at best for the gold labels (one per article): from
        the same start, each story is split the way of ``splits`` that most raises the
        BCubed F1 of its own articles, while one does. Not a story chooser (it reads the
        gold): it measures how much of what is lost is lost to the similarity (the trees)
        rather than to ``choose``."""
        out = np.zeros(self.n, dtype=np.int64)
        stack = self.starts()
        k = 0
        while stack:
            v = stack.pop()
            if self._splits(v):
                whole = _local_f1([self.members(v)], gold)
                gain, parts = max(
                    ((_local_f1([self.members(u) for u in ps], gold) - whole, ps)
                     for ps in self.splits(v)),
                    key=lambda t: t[0],
                )  # fmt: skip
                if gain > 1e-12:
                    stack.extend(parts)
                    continue
            out[self.members(v)] = k
            k += 1
        return out

    def members(self, u: int) -> np.ndarray:
        """Node ``u``'s articles."""
        return self.seq[self.start[u] : self.start[u] + self.count[u]]

    def _splits(self, u: int) -> bool:
        return bool(self.left[u] >= 0 and self.height[u] > self.lo + 1e-9)


def _local_f1(groups: list[np.ndarray], gold: np.ndarray) -> float:
    """The summed BCubed F1 of the articles in ``groups``, recall counted among them only."""
    total = np.bincount(gold[np.concatenate(groups)])
    out = 0.0
    for g in groups:
        _, inverse, counts = np.unique(gold[g], return_inverse=True, return_counts=True)
        same = counts[inverse]
        precision, recall = same / len(g), same / total[gold[g]]
        out += float((2 * precision * recall / (precision + recall)).sum())
    return out


class _Silhouettes:
    """Per-article silhouettes of a set of stories (tree nodes), updated as stories split."""

    def __init__(self, cut: TreeCut, sample: int, spread: Spread | None = None) -> None:
        spread = spread or Spread()
        n = cut.n
        self.cut = cut
        self.pick = np.unique(np.linspace(0, n - 1, min(n, sample)).round().astype(np.int64))
        where = np.empty(n, dtype=np.int64)
        where[cut.seq] = np.arange(n)
        self.at = where[self.pick]  # each sampled article's place in seq
        # Yardstick similarities of the sampled articles to all, columns in seq order.
        spans = spread.spans(len(self.pick))
        task = (cut.sim, self.pick, cut.seq, spread.block)
        found = spread.run(_yardstick, task, spans)
        if len(spans) == 1:
            self.self_sim, self.y = next(found)
        else:
            self.y = np.empty((len(self.pick), n), dtype=np.float32)
            self.self_sim = np.empty(len(self.pick), dtype=np.float64)
            for (s, e), (self_sim, y) in zip(spans, found, strict=True):
                self.self_sim[s:e], self.y[s:e] = self_sim, y

    def _sum(self, u: int) -> np.ndarray:
        c = self.cut
        return self.y[:, c.start[u] : c.start[u] + c.count[u]].sum(axis=1, dtype=np.float64)

    def open(self, nodes: list[int]) -> None:
        m = len(self.pick)
        cap = 2 * len(nodes) + 64
        self.sums = np.zeros((m, cap))
        self.size = np.ones(cap)
        self.alive = np.zeros(cap, dtype=bool)
        self.node = np.zeros(cap, dtype=np.int64)
        self.used = 0
        self.own = np.zeros(m, dtype=np.int64)
        for u in nodes:
            k = self._add(u, self._sum(u))
            c = self.cut
            inside = (self.at >= c.start[u]) & (self.at < c.start[u] + c.count[u])
            self.own[inside] = k
        self.a = self._a(np.arange(m), self.own)
        self.b, self.nearest = self._b(np.arange(m), self.own, skip=-1)
        self.s = self._s(self.a, self.b, self.size[self.own])

    def _add(self, u: int, column: np.ndarray) -> int:
        if self.used == len(self.size):
            grow = len(self.size)
            self.sums = np.hstack([self.sums, np.zeros((len(self.pick), grow))])
            self.size = np.concatenate([self.size, np.ones(grow)])
            self.alive = np.concatenate([self.alive, np.zeros(grow, dtype=bool)])
            self.node = np.concatenate([self.node, np.zeros(grow, dtype=np.int64)])
        k = self.used
        self.used += 1
        self.sums[:, k] = column
        self.size[k] = self.cut.count[u]
        self.alive[k] = True
        self.node[k] = u
        return k

    def _a(self, rows: np.ndarray, own: np.ndarray, sums: np.ndarray | None = None,
           size: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        got = (self.sums[rows, own] if sums is None else sums) - self.self_sim[rows]
        n_own = (self.size[own] if size is None else size) - 1
        return 1.0 - got / np.maximum(n_own, 1)

    def _b(self, rows: np.ndarray, own: np.ndarray, skip: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean distance to the nearest other living story (not ``skip``), and which."""
        if not len(rows):
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        live = self.alive[: self.used].copy()
        if skip >= 0:
            live[skip] = False
        d = np.where(live, 1.0 - self.sums[rows, : self.used] / self.size[: self.used], np.inf)
        d[np.arange(len(rows)), own] = np.inf
        nearest = d.argmin(axis=1)
        return d[np.arange(len(rows)), nearest], nearest

    @staticmethod
    def _s(a: np.ndarray, b: np.ndarray, own_size: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
        return np.where((own_size <= 1) | ~np.isfinite(b), 0.0, s)

    def split(self, v: int, parts: list[int]) -> bool:
        """Replace story ``v`` by ``parts`` if that raises the mean silhouette; say whether."""
        c = self.cut
        k = int(np.flatnonzero(self.alive[: self.used] & (self.node[: self.used] == v))[0])
        parts = sorted(parts, key=lambda u: c.start[u])
        sums = np.stack([self._sum(u) for u in parts])  # parts × rows
        sizes = c.count[parts].astype(np.float64)
        dist = 1.0 - sums / sizes[:, None]
        inside = np.flatnonzero(self.own == k)
        outside = np.flatnonzero(self.own != k)
        # Outside: the split story's parts may now be nearest; if it was, look again.
        b_out = self.b[outside].copy()
        near_out = self.nearest[outside].copy()
        again = near_out == k
        if again.any():
            b_out[again], near_out[again] = self._b(
                outside[again], self.own[outside[again]], skip=k
            )
        closer = dist[:, outside].min(axis=0)
        which = dist[:, outside].argmin(axis=0)
        take = closer < b_out
        b_out = np.where(take, closer, b_out)
        near_out = np.where(take, self.used + which, near_out)
        s_out = self._s(self.a[outside], b_out, self.size[self.own[outside]])
        # Inside: a new own story, and the nearest of the others and of the other parts.
        part = np.searchsorted(c.start[parts], self.at[inside], side="right") - 1
        rows = np.arange(len(inside))
        a_in = self._a(inside, self.own[inside], sums[part, inside], sizes[part])
        b_in, near_in = self._b(inside, self.own[inside], skip=k)
        d_parts = dist[:, inside].copy()
        d_parts[part, rows] = np.inf
        closer_in = d_parts.min(axis=0)
        which_in = d_parts.argmin(axis=0)
        take_in = closer_in < b_in
        b_in = np.where(take_in, closer_in, b_in)
        near_in = np.where(take_in, self.used + which_in, near_in)
        s_in = self._s(a_in, b_in, sizes[part])
        gain = float(s_out.sum() + s_in.sum() - self.s.sum())
        if gain <= 1e-9:
            return False
        self.alive[k] = False
        new = [self._add(u, sums[j]) for j, u in enumerate(parts)]
        self.b[outside], self.nearest[outside], self.s[outside] = b_out, near_out, s_out
        self.own[inside] = np.array(new)[part]
        self.a[inside], self.b[inside], self.nearest[inside], self.s[inside] = (
            a_in, b_in, near_in, s_in
        )  # fmt: skip
        return True

    def stories(self) -> int:
        return int(self.alive[: self.used].sum())

    def mean(self) -> float:
        return float(self.s.mean())

    def labels(self) -> np.ndarray:
        c = self.cut
        labels = np.zeros(c.n, dtype=np.int64)
        for k in np.flatnonzero(self.alive[: self.used]):
            u = self.node[k]
            labels[c.members(u)] = k
        # Number stories by their first article, so that labels follow canonical order.
        _, first = np.unique(labels, return_index=True)
        order = np.argsort(np.argsort(first))
        return order[np.searchsorted(np.unique(labels), labels)]


def _yardstick(
    task: tuple[Similarity, np.ndarray, np.ndarray, int], span: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``_Silhouettes``' rows ``span`` of the sampled articles: each one's yardstick similarity
    to itself, and to every article (columns in ``seq`` order)."""
    sim, pick, seq, block = task
    self_sim = np.empty(span[1] - span[0], dtype=np.float64)
    out = np.empty((span[1] - span[0], sim.size), dtype=np.float32)
    for s in range(span[0], span[1], block):
        rows = pick[s : min(span[1], s + block)]
        y = sim.yardstick(rows)
        at = s - span[0]
        self_sim[at : at + len(rows)] = y[np.arange(len(rows)), rows]
        out[at : at + len(rows)] = y[:, seq]
    return self_sim, out


def cluster(
    docs: list[StoryDoc],
    params: BatchParams,
    fallback: Callable[[list[StoryDoc]], dict[str, int]],
    report: dict[str, Any] | None = None,
    spread: Spread | None = None,
) -> dict[str, int]:
    """Story numbers of ``docs`` (in canonical order) by average linkage; ``fallback`` (the
    streaming clusterer's batch) takes corpora and components too large for a tree. The
    silhouette of the stories chosen (or the fallback cut, when it was taken) goes into
    ``report`` when one is given. The pairwise work is handed out as ``spread`` says."""
    n = len(docs)
    if n == 0:
        return {}
    if n > params.max_articles:
        if report is not None:
            report.update(method="stream", reason=f"over {params.max_articles:,} articles")
        return fallback(docs)
    if report is not None:
        report["method"] = "average"
    fixed, tree_cut = _tree_cut(docs, params, spread)
    trees, levels, too_large = tree_cut.trees, tree_cut.levels, tree_cut.fixed
    chosen, silhouette = tree_cut.choose()
    if report is not None:
        sizes = [len(comp) for comp, _ in trees] + [len(comp) for comp in too_large]
        report.update(
            cut=None if chosen is not None else fixed, silhouette=silhouette,
            fallback=chosen is None, largest_component=max(sizes),
            sent_to_stream=sum(len(c) for c in too_large),
            loosest_cut=min(levels, default=min(params.band_cuts())),
        )  # fmt: skip
    if chosen is not None:
        labels = chosen
        nxt = int(labels.max()) + 1
    else:  # the fallback cut, no looser than a component's own loosest
        labels = np.zeros(n, dtype=np.int64)
        nxt = 0
        for tree, level in zip(trees, levels, strict=True):
            nxt = cut_forest([tree], min(fixed, level), labels, nxt)
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


def _tree_cut(
    docs: list[StoryDoc], params: BatchParams, spread: Spread | None = None
) -> tuple[float, TreeCut]:
    """The fallback cut, and the trees of ``docs`` ready to be cut."""
    sim = Similarity(
        docs, params.text_weight, params.entity_weight, params.time_weight, params.time_scale
    )
    if spread is None or spread.parts <= 1:  # every block is worked out here
        sim.keep(KEEP_BYTES)
    fixed = params.cut if sim.w < 1.0 else params.text_cut
    shared = SharedNeighbours(
        sim, params.neighbours, params.neighbour_weight, params.neighbour_floor, spread
    )
    cuts = [*params.band_cuts(), fixed]
    pieces, too_large = fitting(shared, len(docs), cuts, params.max_block, spread)
    comps = [comp for comp, _, _ in pieces]
    trees, _ = forest(shared, len(docs), 1.0, params.max_block, comps, spread)
    levels = [level for _, level, _ in pieces]
    trees, levels = _rejoined(shared, pieces, trees, levels, max(cuts), params.max_block)
    return fixed, TreeCut(sim, trees, too_large, params, levels, spread)


def best_in_trees(
    docs: list[StoryDoc], params: BatchParams, gold: dict[str, str]
) -> dict[str, int]:
    """The best stories ``cluster``'s trees hold for ``gold`` (``TreeCut.best``): about what
    choosing the stories could reach with this similarity (the search is greedy, so the true
    best can be a little higher). For evaluation only."""
    if len(docs) > params.max_articles:
        raise ValueError(f"over {params.max_articles:,} articles: no trees to search")
    names = {g: k for k, g in enumerate(sorted(set(gold.values())))}
    labels = np.array([names[gold[d.id]] for d in docs], dtype=np.int64)
    best = _tree_cut(docs, params)[1].best(labels)
    return {d.id: int(b) for d, b in zip(docs, best.tolist(), strict=True)}


def _rejoined(
    sim: Rows, pieces: list[tuple[np.ndarray, float, int]], trees: Forest, levels: list[float],
    loosest: float, max_block: int,
) -> tuple[Forest, list[float]]:  # fmt: skip
    """The trees with the parts of each component too large for one tree joined back into its
    exact tree, where ``rejoin`` can; each tree's loosest exact cut."""
    by_top: dict[int, list[int]] = {}
    for j, (_, _, top) in enumerate(pieces):
        by_top.setdefault(top, []).append(j)
    out: Forest = []
    out_levels: list[float] = []
    for js in by_top.values():
        if len(js) > 1 or levels[js[0]] < loosest:
            comp = np.sort(np.concatenate([pieces[j][0] for j in js]))
            parts = [(trees[j][0], trees[j][1], levels[j]) for j in js]
            tree = rejoin(sim, comp, parts, max_block)
            if tree is not None:
                out.append((comp, tree))
                out_levels.append(loosest)
                continue
        out.extend(trees[j] for j in js)
        out_levels.extend(levels[j] for j in js)
    return out, out_levels


def batch_stories(
    docs: list[StoryDoc], model: Any, settings: Any, report: dict[str, Any] | None = None,
    spread: Spread | None = None,
) -> dict[str, int]:  # fmt: skip
    """Batch mode as ``[stories] batch`` says: ``average`` (this module, with the weights and
    fallback cut learned with ``model``, its pairwise work handed out as ``spread`` says) or
    ``stream`` (the stream, then its merge and split passes). How the stories were found goes
    into ``report`` when one is given."""
    from storyline.stories.stream import StreamClusterer

    def streamed(part: list[StoryDoc]) -> dict[str, int]:
        return StreamClusterer.from_settings(model, settings).batch(part)

    if settings.batch == "stream":
        if report is not None:
            report.update(method="stream", reason="[stories] batch = stream")
        return streamed(docs)
    if settings.batch != "average":
        raise ValueError(f"[stories] batch must be average or stream, not {settings.batch!r}")
    params = BatchParams.from_meta(getattr(model, "meta", None))
    return cluster(docs, params, streamed, report, spread)


Table = dict[tuple[int, float, float, float], float]


def fit(
    sets: Iterable[tuple[list[StoryDoc], dict[str, set[str]]]],
    score: Callable[[dict[str, str], dict[str, set[str]]], float],
) -> tuple[BatchParams, Table]:
    """The mix and fallback cuts ``choose`` takes over ``sets`` (each weighing the same). Also
    returns every set's score per grid point, keyed by (set number, TF-IDF weight, names
    weight, cut), so callers can choose again on a subset (leave one out)."""
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
    return table


def _score_cut(
    trees: Forest, cut: float, docs: list[StoryDoc], gold: dict[str, set[str]],
    score: Callable[[dict[str, str], dict[str, set[str]]], float],
) -> float:  # fmt: skip
    labels = np.zeros(len(docs), dtype=np.int64)
    cut_forest(trees, cut, labels)
    return score({d.id: str(x) for d, x in zip(docs, labels.tolist(), strict=True)}, gold)


def choose(table: Table, use: list[int], base: BatchParams | None = None) -> BatchParams:
    """The mix whose trees hold the stories best: the best mean, over the sets in ``use``, of
    each set's score at its own best cut; and the fallback cuts with the best mean score.

    A mix is judged by its trees, not by the stories the silhouette chooses in them: those are
    read off each corpus at run time, and on a few small dev sets they flip a topic or two
    from one mix to the next, a noise that picked mixes which did not carry to another set."""
    base = base or BatchParams()

    def fixed(mix: tuple[float, float], c: float) -> float:
        return sum(table[(k, *mix, c)] for k in use) / len(use)

    def ceiling(mix: tuple[float, float]) -> float:
        return sum(max(table[(k, *mix, c)] for c in CUTS) for k in use) / len(use)

    def best_cut(mix: tuple[float, float], cuts: tuple[float, ...]) -> float:
        return max(cuts, key=lambda c: fixed(mix, c))

    t, e = max(MIXES, key=ceiling)
    return replace(
        base, text_weight=t, entity_weight=e, cut=best_cut((t, e), CUTS),
        text_cut=best_cut(TEXT_ONLY, TEXT_CUTS),
    )  # fmt: skip


def choose_time(
    params: BatchParams, use: list[int], score: Callable[[int, BatchParams], float]
) -> BatchParams:
    """``params`` with the time weight and scale (``TIMES``) under which the stories
    ``cluster`` chooses score best on average over the sets in ``use`` (``score(set, params)``;
    the first of equals, so time stays out unless it helps). Judged on the stories chosen, not
    on the trees as the mix is: time reshapes the trees the silhouette reads."""

    def mean(a: float, t: float) -> float:
        timed = replace(params, time_weight=a, time_scale=t)
        return sum(score(k, timed) for k in use) / len(use)

    a, t = max(TIMES, key=lambda at: mean(*at))
    return replace(params, time_weight=a, time_scale=t)
