"""Batch stories by average linkage: exact by components, fallback, the learned weight and cut."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from storyline.stories import batch
from storyline.stories.batch import BatchParams, Similarity, cluster
from storyline.stories.metrics import scores
from storyline.stories.stream import StoryDoc

WORDS = {
    "flood": "river levee sandbags crest evacuation rain water dike pumps",
    "strike": "drivers union pay picket buses shifts contract talks walkout",
    "vote": "ballots turnout candidates polling mayor campaign count seats",
}


def _docs(seed: int = 3, per: int = 7) -> tuple[list[StoryDoc], dict[str, set[str]]]:
    """Three invented topics; each article draws words from its topic and a shared pool, and
    its embedding is its topic's direction plus noise."""
    rng = np.random.default_rng(seed)
    shared = "city council officials residents said monday week people".split()
    axes = {t: rng.normal(size=16) for t in WORDS}
    docs, gold = [], {}
    for t, words in WORDS.items():
        vocab = words.split()
        for k in range(per):
            body = " ".join(rng.choice(vocab, 12).tolist() + rng.choice(shared, 10).tolist())
            v = axes[t] + rng.normal(scale=0.9, size=16)
            d = StoryDoc(f"{t}-{k}", float(k), f"{t} {k}", body, Counter(), v / np.linalg.norm(v))
            docs.append(d)
            gold[d.id] = {t}
    return docs, gold


def _partition(labels: dict[str, int]) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for doc, label in labels.items():
        groups.setdefault(label, set()).add(doc)
    return {frozenset(g) for g in groups.values()}


def _never(_: list[StoryDoc]) -> dict[str, int]:
    raise AssertionError("the stream fallback was not expected here")


def test_components_give_the_same_stories_as_one_tree() -> None:
    docs, _ = _docs()
    for cut in (0.6, 0.75, 0.85, 0.95):
        params = BatchParams(text_weight=0.5, entity_weight=0.0, cut=cut)
        got = cluster(docs, params, _never)
        sim = Similarity(docs, 0.5).rows(np.arange(len(docs))).astype(np.float64)
        tree = linkage(np.clip(1 - sim[np.triu_indices(len(docs), 1)], 0, None), "average")
        whole = fcluster(tree, cut, criterion="distance")
        assert _partition(got) == _partition(
            {d.id: int(x) for d, x in zip(docs, whole, strict=True)}
        )


def test_the_topics_come_out_as_stories() -> None:
    docs, gold = _docs()
    got = cluster(docs, BatchParams(), _never)
    assert scores({k: str(v) for k, v in got.items()}, gold)["bcubed_f1"] > 0.9


def test_a_component_too_large_goes_to_the_stream() -> None:
    docs, _ = _docs(per=4)
    seen: list[list[str]] = []

    def stream(part: list[StoryDoc]) -> dict[str, int]:
        seen.append([d.id for d in part])
        return {d.id: 7 if d.id.startswith("flood") else 9 for d in part}

    got = cluster(docs, BatchParams(cut=0.99, max_block=3), stream)
    assert seen and all(len(part) > 3 for part in seen)
    assert set(got) == {d.id for d in docs}  # every article has a story
    # The stream's numbers are renumbered past the trees' and never collide with them.
    floods = {got[d.id] for d in docs if d.id.startswith("flood")}
    assert len(floods) == 1


def test_without_embeddings_tfidf_alone_is_cut_at_its_own_distance() -> None:
    docs, gold = _docs()
    bare = [StoryDoc(d.id, d.time, d.title, d.body, d.entities, None) for d in docs]
    sim = Similarity(bare, 0.5)
    assert sim.w == 1.0  # no embeddings: TF-IDF alone, whatever the weight
    matrix = sim.rows(np.arange(len(bare))).astype(np.float64)
    tree = linkage(np.clip(1 - matrix[np.triu_indices(len(bare), 1)], 0, None), "average")
    whole = fcluster(tree, 0.7, criterion="distance")
    got = cluster(bare, BatchParams(cut=0.99, text_cut=0.7), _never)
    assert _partition(got) == _partition({d.id: int(x) for d, x in zip(bare, whole, strict=True)})
    assert scores({k: str(v) for k, v in got.items()}, gold)["bcubed_f1"] > 0.8


def test_fit_chooses_the_grid_point_with_the_best_mean_score() -> None:
    sets = [_docs(seed=1), _docs(seed=2)]

    def f1(pred: dict[str, str], gold: dict[str, set[str]]) -> float:
        return scores(pred, gold)["bcubed_f1"]

    params, table = batch.fit(sets, f1)
    points = [(t, e, c) for t, e in batch.MIXES for c in batch.CUTS]
    best = max(sum(table[(k, *p)] for k in (0, 1)) for p in points)
    chosen = (params.text_weight, params.entity_weight, params.cut)
    assert sum(table[(k, *chosen)] for k in (0, 1)) == best
    # Choosing on one set alone uses that set's scores only.
    one = batch.choose(table, [0])
    assert table[(0, one.text_weight, one.entity_weight, one.cut)] == max(
        table[(0, *p)] for p in points
    )
    assert BatchParams.from_meta({"batch": params.to_meta()}) == params


def test_names_weigh_in_when_asked() -> None:
    docs, _ = _docs()
    named = [
        StoryDoc(d.id, d.time, d.title, d.body, Counter({d.id.split("-")[0] + " leader": 2}),
                 d.embedding)
        for d in docs
    ]  # fmt: skip
    rows = np.arange(len(named))
    plain = Similarity(named, 0.5, 0.0).rows(rows)
    with_names = Similarity(named, 0.4, 0.3).rows(rows)
    same = np.array([[a.id[:4] == b.id[:4] for b in named] for a in named])
    # Articles sharing their topic's one name grow closer; the others lose the names' share.
    assert (with_names - plain)[same].mean() > 0 > (with_names - plain)[~same].mean()
