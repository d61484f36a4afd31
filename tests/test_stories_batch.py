"""Batch stories: exact by components, shared neighbours, the cut by silhouette, fallbacks,
the learned weights."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from storyline.stories import batch
from storyline.stories.batch import BatchParams, SharedNeighbours, Similarity, cluster
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


def _whole_tree(docs: list[StoryDoc], params: BatchParams) -> np.ndarray:
    """The average-linkage tree over the whole corpus, on the full matrix at once."""
    sim = SharedNeighbours(
        Similarity(docs, params.text_weight, params.entity_weight),
        params.neighbours, params.neighbour_weight, params.neighbour_floor,
    )  # fmt: skip
    matrix = sim.rows(np.arange(len(docs))).astype(np.float64)
    return linkage(np.clip(1 - matrix[np.triu_indices(len(docs), 1)], 0, None), "average")


def test_components_give_the_same_stories_as_one_tree() -> None:
    docs, _ = _docs()
    for cut in (0.6, 0.75, 0.85, 0.95):
        # A band of one cut: that cut is taken (or the fallback, which is the same cut).
        params = BatchParams(text_weight=0.5, entity_weight=0.0, cut=cut, band=(cut, cut))
        got = cluster(docs, params, _never)
        whole = fcluster(_whole_tree(docs, params), cut, criterion="distance")
        assert _partition(got) == _partition(
            {d.id: int(x) for d, x in zip(docs, whole, strict=True)}
        )


def test_shared_neighbours_count_what_two_neighbourhoods_share() -> None:
    # Two tight pairs far apart: each article's one neighbour is its partner.
    v = {"a": [1, 0, 0], "b": [0.96, 0.28, 0], "c": [0, 0, 1], "d": [0, 0.28, 0.96]}
    docs = [StoryDoc(k, 0.0, "", "", Counter(), np.array(x, dtype=np.float32)) for k, x in v.items()]
    sim = Similarity(docs, 0.0)  # the embeddings alone
    shared = SharedNeighbours(sim, k=1, weight=0.5).shared(np.arange(4))
    # a's neighbourhood is {a, b}, b's {b, a}: all shared; a and c share nothing.
    assert shared[0, 1] == 1.0 and shared[0, 2] == 0.0 and shared[2, 3] == 1.0
    mixed = SharedNeighbours(sim, k=1, weight=0.5).rows(np.arange(4))
    plain = sim.rows(np.arange(4))
    assert np.allclose(mixed, 0.5 * plain + 0.5 * shared)


def test_the_silhouette_matches_scikit_learn() -> None:
    from sklearn.metrics import silhouette_score

    docs, _ = _docs()
    sim = Similarity(docs, 0.5)
    y = sim.yardstick(np.arange(len(docs))).astype(np.float64)
    distance = np.clip(1 - y, 0, None)
    np.fill_diagonal(distance, 0)
    topic = np.array([["flood", "strike", "vote"].index(d.id.split("-")[0]) for d in docs])
    halves = np.array([i % 2 for i in range(len(docs))])
    singles = topic * 2 + (np.arange(len(docs)) == 0)  # one article alone in its story
    labelings = [topic, halves, singles]
    got = batch.silhouettes(sim, labelings, sample=10_000)
    want = [silhouette_score(distance, lab, metric="precomputed") for lab in labelings]
    assert np.allclose(got, want, atol=1e-5)
    assert got[0] > got[1]  # the topics stand further apart than an arbitrary split
    # On a sample, an estimate over the sampled articles only.
    assert abs(batch.silhouettes(sim, [topic], sample=9)[0] - got[0]) < 0.2


def test_the_cut_is_where_the_stories_stand_furthest_apart() -> None:
    docs, gold = _docs()
    report: dict[str, object] = {}
    got = cluster(docs, BatchParams(), _never, report)
    assert report["fallback"] is False and report["cut"] in BatchParams().band_cuts()
    assert scores({k: str(v) for k, v in got.items()}, gold)["bcubed_f1"] > 0.9


def test_one_story_is_left_whole() -> None:
    # Seven articles of one topic: no cut in the band splits it, or none splits it clearly.
    docs, _ = _docs()
    one = [d for d in docs if d.id.startswith("flood")]
    got = cluster(one, BatchParams(), _never)
    assert len(set(got.values())) == 1


def test_a_component_too_large_goes_to_the_stream() -> None:
    docs, _ = _docs(per=4)
    seen: list[list[str]] = []

    def stream(part: list[StoryDoc]) -> dict[str, int]:
        seen.append([d.id for d in part])
        return {d.id: 7 if d.id.startswith("flood") else 9 for d in part}

    got = cluster(docs, BatchParams(cut=0.99, band=(0.99, 0.99), max_block=3), stream)
    assert seen and all(len(part) > 3 for part in seen)
    assert set(got) == {d.id for d in docs}  # every article has a story
    # The stream's numbers are renumbered past the trees' and never collide with them.
    floods = {got[d.id] for d in docs if d.id.startswith("flood")}
    assert len(floods) == 1


def test_a_corpus_too_connected_gives_up_its_loosest_cuts() -> None:
    docs, _ = _docs()  # 21 articles in three topics of 7
    params = BatchParams(band=(0.6, 0.99), max_block=10)
    report: dict[str, object] = {}
    got = cluster(docs, params, _never, report)  # nothing is left to the stream
    loosest = report["loosest_cut"]
    assert isinstance(loosest, float) and loosest < 0.99 and report["sent_to_stream"] == 0
    assert report["largest_component"] <= 10 and report["cut"] <= loosest
    # Exact below the cut given up: the same stories as one tree over the whole corpus.
    whole = fcluster(_whole_tree(docs, params), report["cut"], criterion="distance")
    assert _partition(got) == _partition(
        {d.id: int(x) for d, x in zip(docs, whole, strict=True)}
    )


def test_without_embeddings_tfidf_alone_is_cut_at_its_own_distance() -> None:
    docs, gold = _docs()
    bare = [StoryDoc(d.id, d.time, d.title, d.body, d.entities, None) for d in docs]
    sim = Similarity(bare, 0.5)
    assert sim.w == 1.0  # no embeddings: TF-IDF alone, whatever the weight
    # min_silhouette above any silhouette: the fallback, TF-IDF alone's own cut, is taken.
    params = BatchParams(cut=0.99, text_cut=0.7, min_silhouette=1.01)
    whole = fcluster(_whole_tree(bare, params), 0.7, criterion="distance")
    got = cluster(bare, params, _never)
    assert _partition(got) == _partition({d.id: int(x) for d, x in zip(bare, whole, strict=True)})
    assert scores({k: str(v) for k, v in got.items()}, gold)["bcubed_f1"] > 0.8


def test_fit_chooses_the_mix_with_the_best_mean_score() -> None:
    sets = [_docs(seed=1), _docs(seed=2)]

    def f1(pred: dict[str, str], gold: dict[str, set[str]]) -> float:
        return scores(pred, gold)["bcubed_f1"]

    params, table = batch.fit(sets, f1)

    def mean(t: float, e: float, c: float, use: tuple[int, ...] = (0, 1)) -> float:
        got = [table[(k, t, e, batch.AUTO)] for k in use]
        return sum(
            table[(k, t, e, c)] if np.isnan(g) else g for k, g in zip(use, got, strict=True)
        ) / len(use)

    fallback = {mix: max(batch.CUTS, key=lambda c, mix=mix: mean(*mix, c)) for mix in batch.MIXES}
    best = max(mean(*mix, fallback[mix]) for mix in batch.MIXES)
    chosen = (params.text_weight, params.entity_weight)
    assert mean(*chosen, params.cut) == best and params.cut == fallback[chosen]
    # Choosing on one set alone uses that set's scores only.
    one = batch.choose(table, [0])
    assert mean(one.text_weight, one.entity_weight, one.cut, (0,)) == max(
        mean(*mix, max(batch.CUTS, key=lambda c, mix=mix: mean(*mix, c, (0,))), (0,))
        for mix in batch.MIXES
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
