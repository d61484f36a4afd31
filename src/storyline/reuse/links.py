"""Reuse links between articles: candidates, alignment, kind and direction.

``find_links`` is the pure core that both engines map over: given article views, their
fingerprints and an embedder, it returns the links among the candidate pairs. The
pipeline stage (``storyline.reuse.stage``) feeds it from the store and saves the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from storyline.config import ReuseSettings
from storyline.reuse.align import AlignedPair, AlignPlan, align, plan_alignment, plan_alignments
from storyline.reuse.decision import Decision
from storyline.reuse.fingerprint import jaccard_estimate
from storyline.reuse.index import canonical
from storyline.reuse.kinds import ArticleView, Direction, PairStats, classify, direction, measure


@dataclass
class Link:
    """Two compared articles: ``a`` and ``b`` as aligned, ``source`` and ``copy`` as decided."""

    a: str
    b: str
    kind: str | None  # None: compared, and no copy link
    direction: Direction
    stats: PairStats
    pairs: list[AlignedPair] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.direction.source

    @property
    def copy(self) -> str:
        return self.direction.copy

    def to_json(self, views: dict[str, ArticleView] | None = None) -> dict[str, Any]:
        """The report.json shape; ``pairs`` carry both sentences when views are given."""
        flip = self.direction.source != self.a
        pairs = []
        for p in self.pairs:
            s_idx, c_idx = (p.b, p.a) if flip else (p.a, p.b)
            entry = p.to_json()
            entry["source_sentence"], entry["copy_sentence"] = s_idx, c_idx
            del entry["a"], entry["b"]
            if flip:
                entry["substitutions"] = [
                    {"old": s["new"], "new": s["old"]} for s in entry["substitutions"]
                ]
            if views:
                entry["source_text"] = views[self.source].sentences[s_idx]
                entry["copy_text"] = views[self.copy].sentences[c_idx]
            pairs.append(entry)
        cov_s, cov_c = (
            (self.stats.coverage_b, self.stats.coverage_a)
            if flip
            else (self.stats.coverage_a, self.stats.coverage_b)
        )
        return {
            "a": self.a,
            "b": self.b,
            "source": self.source,
            "copy": self.copy,
            "direction": "known" if self.direction.known else "unknown",
            "kind": self.kind,
            "confidence": self.direction.confidence,
            "reasons": self.direction.reasons,
            "coverage": {"source": round(cov_s, 4), "copy": round(cov_c, 4)},
            "measures": self.stats.to_json(),
            "pairs": pairs,
        }


@lru_cache(maxsize=200_000)
def _zipf(word: str) -> float:
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover - wordfreq ships with the ml extra
        return 7.0 - min(6.0, len(word) / 2.0)
    return float(zipf_frequency(word, "en"))


def substitution_rarity(pairs: Iterable[AlignedPair]) -> float:
    """Mean (Zipf frequency of the old words − that of the new ones) over swapped words.

    Positive: the second article's words are rarer (its author reached for a thesaurus).
    """
    diffs = []
    for p in pairs:
        for old, new in p.substitutions:
            ow, nw = old.lower().split(), new.lower().split()
            if len(ow) == len(nw) == 1 and ow[0].isalpha() and nw[0].isalpha():
                diffs.append(_zipf(ow[0]) - _zipf(nw[0]))
    if len(diffs) < 3:
        return 0.0
    return float(np.mean(diffs))


Embed = Callable[[list[str]], np.ndarray]


def _rows(embed: Embed, texts: list[str], rows: list[int]) -> dict[int, np.ndarray]:
    if not rows:
        return {}
    return dict(zip(rows, embed([texts[r] for r in rows]), strict=True))


def compare(
    a: ArticleView,
    b: ArticleView,
    embed: Embed,
    decision: Decision,
    settings: ReuseSettings,
    jaccard: float = 0.0,
    exact: bool = False,
    plan: AlignPlan | None = None,
) -> Link:
    """Align two articles and decide kind and direction (a Link with kind None: no copy).
    ``embed`` is asked only for the sentences the alignment plan needs."""
    plan = plan or plan_alignment(a.sentences, b.sentences, decision)
    pairs = align(
        plan, _rows(embed, a.sentences, plan.need_a), _rows(embed, b.sentences, plan.need_b)
    )
    stats = measure(a, b, pairs, jaccard, exact, settings.quote_share)
    kind = classify(stats, settings)
    if kind == "shared_quotes":
        d = _no_direction(a, b)
    else:
        d = direction(a, b, stats, substitution_rarity(pairs), settings)
    return Link(a.id, b.id, kind, d, stats, pairs)


#: Two reports that quote the same words did not copy each other: their link has no source.
NOT_A_COPY = "both quote the same words: neither copied the other, so there is no direction"


def _no_direction(a: ArticleView, b: ArticleView) -> Direction:
    first, second = sorted((a, b), key=lambda v: (v.published is None, v.published or "", v.id))
    return Direction(first.id, second.id, False, 0.0, [NOT_A_COPY])


#: Article pairs whose alignments are planned together.
PLAN_BATCH = 256


def find_links(
    views: dict[str, ArticleView],
    pairs: Iterable[tuple[str, str]],
    exact: dict[str, str],
    signatures: dict[str, np.ndarray],
    embed: Embed,
    decision: Decision,
    settings: ReuseSettings,
    on_pair: Callable[[], None] | None = None,
) -> list[Link]:
    """The links among candidate ``pairs`` of article ids (from ``storyline.reuse.index``);
    each pair is aligned with its earlier article (canonical order) first."""
    # Planned in time order (of the later article, then the earlier), so that the
    # sentences' cached word profiles (``features._profile``) are read again while they are
    # still held: the cache then needs the sentences of the articles near in time, not of
    # the whole block.
    plans = {}
    timed = []
    for x, y in set(pairs):
        i, j = sorted((x, y), key=lambda a: canonical(views[a].published, a))
        timed.append((canonical(views[j].published, j), canonical(views[i].published, i), x, y))
    # Article pairs are planned PLAN_BATCH at a time: their sentence pairs' features are
    # computed together.
    timed.sort()
    for start in range(0, len(timed), PLAN_BATCH):
        batch = []
        for _, _, x, y in timed[start : start + PLAN_BATCH]:
            i, j = sorted((x, y), key=lambda a: canonical(views[a].published, a))
            batch.append((x, y, i, j))
        made = plan_alignments([(views[i].sentences, views[j].sentences) for *_, i, j in batch],
                               decision)  # fmt: skip
        for (x, y, i, j), plan in zip(batch, made, strict=True):
            plans[x, y] = (i, j, plan)
    ordered = [plans[p] for p in sorted(plans)]
    # Embed only the sentences the plans need, each text once, in one call so the model sees
    # full batches.
    needed: dict[str, None] = {}
    for i, j, plan in ordered:
        needed.update((views[i].sentences[r], None) for r in plan.need_a)
        needed.update((views[j].sentences[r], None) for r in plan.need_b)
    flat = list(needed)
    vectors = embed(flat) if flat else np.zeros((0, 1), dtype=np.float32)
    table = dict(zip(flat, vectors, strict=True))

    def lookup(texts: list[str]) -> np.ndarray:
        return np.stack([table[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)

    links = []
    for i, j, plan in ordered:
        link = compare(
            views[i], views[j], lookup, decision, settings,
            jaccard_estimate(signatures[i], signatures[j]), exact[i] == exact[j], plan,
        )  # fmt: skip
        links.append(link)
        if on_pair:
            on_pair()
    return links


FAMILY_KINDS = ("duplicate", "near_duplicate", "rewrite")


def families(
    links: Iterable[dict[str, Any]], order: dict[str, Any] | None = None, engine: Any = None
) -> dict[str, str]:
    """Copy families: article id -> root id. A family counts as one independent source.

    ``links`` are link records (``Link.to_json`` or stored ones). Duplicates,
    near-duplicates and rewrites join a family (partial reuse and shared quotes do not:
    the rest of such an article is independent reporting). The root is the member no known
    link names as a copy (the original); among several, the first in canonical ``order``.
    Articles in no family are absent. ``order`` ranks articles (any sortable values). The
    families are the connected components of the links (``components``, on ``engine``).
    """
    copies: set[str] = set()
    members: dict[str, None] = {}  # first seen first
    edges: list[tuple[str, str]] = []
    for link in links:
        if link["kind"] not in FAMILY_KINDS:
            continue
        members.setdefault(link["source"])
        members.setdefault(link["copy"])
        edges.append((link["source"], link["copy"]))
        if link["direction"] == "known":
            copies.add(link["copy"])
    label = components(edges, engine)
    groups: dict[str, list[str]] = {}
    for m in members:
        groups.setdefault(label[m], []).append(m)
    out: dict[str, str] = {}
    for group in groups.values():
        originals = [m for m in group if m not in copies] or group
        root = min(originals, key=lambda m: (order or {}).get(m, canonical(None, m)))
        for m in group:
            out[m] = root
    return out


def components(edges: Iterable[tuple[str, str]], engine: Any = None) -> dict[str, str]:
    """The connected components of an undirected graph: each node -> the smallest node of
    its component.

    Hash-to-Min (Rastogi et al., "Finding connected components in map-reduce in logarithmic
    rounds", ICDE 2013): each node holds a cluster, at first itself and its neighbours; in a
    round every node sends its cluster to the cluster's smallest member and that member to
    each other one, and a node's new cluster is the union of what it was sent. When no
    cluster changes, the smallest node of a component holds all of it and every other node
    holds only that one. A round is one ``group_flat_map`` of ``engine`` (in this process, or
    a shuffle on Ray); the clusters come back between rounds to test for the end."""
    from storyline.engine import LocalEngine

    engine = engine or LocalEngine()
    grown: dict[str, set[str]] = {}
    for a, b in edges:
        grown.setdefault(a, {a}).add(b)
        grown.setdefault(b, {b}).add(a)
    clusters = {v: frozenset(c) for v, c in grown.items()}
    while True:
        sent = (message for v, c in clusters.items() for message in _to_min(c))
        after = dict(engine.group_flat_map(_union, sent, "components"))
        if after == clusters:
            return {v: min(c) for v, c in clusters.items()}
        clusters = after


def _to_min(cluster: frozenset[str]) -> Iterator[tuple[str, frozenset[str]]]:
    """Hash-to-Min's messages from a node holding ``cluster``."""
    low = min(cluster)
    yield low, cluster
    only = frozenset((low,))
    for u in cluster:
        if u != low:
            yield u, only


def _union(node: str, received: list[frozenset[str]]) -> Iterator[tuple[str, frozenset[str]]]:
    yield node, frozenset().union(*received)
