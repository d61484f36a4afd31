"""Batch stories: exact by components, shared neighbours, the cut by silhouette, fallbacks,
the learned weights."""

from __future__ import annotations

import itertools
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
    docs = [
        StoryDoc(k, 0.0, "", "", Counter(), np.array(x, dtype=np.float32)) for k, x in v.items()
    ]
    sim = Similarity(docs, 0.0)  # the embeddings alone
    shared = SharedNeighbours(sim, k=1, weight=0.5).shared(np.arange(4))
    # a's neighbourhood is {a, b}, b's {b, a}: all shared; a and c share nothing.
    assert shared[0, 1] == 1.0 and shared[0, 2] == 0.0 and shared[2, 3] == 1.0
    mixed = SharedNeighbours(sim, k=1, weight=0.5).rows(np.arange(4))
    plain = sim.rows(np.arange(4))
    assert np.allclose(mixed, 0.5 * plain + 0.5 * shared)


def _nodes(tree: np.ndarray, ids: list[str]) -> set[frozenset[str]]:
    """Every node of a tree as the set of its articles."""
    members = [frozenset([i]) for i in ids]
    for a, b, _, _ in tree:
        members.append(members[int(a)] | members[int(b)])
    return set(members)


def _labels_of(cut: batch.TreeCut, nodes: list[int]) -> np.ndarray:
    labels = np.zeros(cut.n, dtype=np.int64)
    for k, u in enumerate(nodes):
        labels[cut.seq[cut.start[u] : cut.start[u] + cut.count[u]]] = k
    return labels


def test_the_silhouettes_kept_as_stories_split_match_scikit_learn() -> None:
    from sklearn.metrics import silhouette_score

    docs, _ = _docs()
    ids = [d.id for d in docs]
    sim = Similarity(docs, 0.5)
    y = sim.yardstick(np.arange(len(docs))).astype(np.float64)
    distance = np.clip(1 - y, 0, None)
    np.fill_diagonal(distance, 0)

    def sk(nodes: list[int]) -> float:
        if len(nodes) < 2:
            return 0.0
        return float(silhouette_score(distance, _labels_of(cut, nodes), metric="precomputed"))

    trees, _ = batch.forest(sim, len(docs), 0.999, max_block=100)
    cut = batch.TreeCut(sim, trees, [], BatchParams())
    state = batch._Silhouettes(cut, sample=10_000)
    stories = list(cut.roots)
    state.open(stories)
    assert state.stories() == 1 and state.mean() == 0.0  # no other story: every one scores 0
    # Try every split from the top down: each is kept exactly when scikit-learn says it raises
    # the mean silhouette, and the mean kept is scikit-learn's.
    queue, kept, refused = list(stories), 0, 0
    while queue:
        v = queue.pop(0)
        if cut.left[v] < 0:
            continue
        parts = [int(cut.left[v]), int(cut.right[v])]
        after = [u for u in stories if u != v] + parts
        if len(after) == cut.n:
            continue  # scikit-learn wants fewer stories than articles
        took = state.split(v, parts)
        assert took == (sk(after) > sk(stories) + 1e-9)
        if not took:
            refused += 1
            continue
        kept += 1
        stories = after
        queue.extend(parts)
        assert abs(state.mean() - sk(stories)) < 1e-6
        want = _partition(dict(zip(ids, _labels_of(cut, stories).tolist(), strict=True)))
        assert _partition(dict(zip(ids, state.labels().tolist(), strict=True))) == want
    assert kept >= 2 and refused >= 1
    # On a sample, an estimate over the sampled articles only.
    sampled = batch._Silhouettes(cut, sample=9)
    sampled.open(stories)
    assert abs(sampled.mean() - state.mean()) < 0.2


def test_stories_are_chosen_where_they_stand_furthest_apart() -> None:
    docs, gold = _docs()
    params = BatchParams()
    report: dict[str, object] = {}
    got = cluster(docs, params, _never, report)
    assert report["fallback"] is False and report["cut"] is None
    silhouette = report["silhouette"]
    assert isinstance(silhouette, float) and silhouette >= params.min_silhouette
    assert scores({k: str(v) for k, v in got.items()}, gold)["bcubed_f1"] > 0.9
    # Every story is a node of the tree over the whole corpus.
    assert _partition(got) <= _nodes(_whole_tree(docs, params), [d.id for d in docs])


def _many_small(seed: int, topics: int = 40) -> tuple[list[StoryDoc], dict[str, set[str]]]:
    """Many small invented stories (one to six articles) over one shared vocabulary: the shape
    of a large store, where one pass from the top down left glued stories behind."""
    rng = np.random.default_rng(seed)
    pool = [f"w{k}" for k in range(60)]
    docs, gold = [], {}
    for t in range(topics):
        own = [f"t{t}x{k}" for k in range(6)]
        axis = rng.normal(size=16)
        for k in range(int(rng.integers(1, 7))):
            body = " ".join(rng.choice(own, 6).tolist() + rng.choice(pool, 14).tolist())
            v = axis + rng.normal(scale=1.0, size=16)
            d = StoryDoc(f"{t}-{k}", float(t), f"t{t}", body, Counter(), v / np.linalg.norm(v))
            docs.append(d)
            gold[d.id] = {str(t)}
    return docs, gold


def test_no_story_chosen_has_a_split_that_would_raise_the_silhouette() -> None:
    """A split refused early (judged against coarse neighbours) is tried again after the
    others split, until no chosen story has a split that raises the mean silhouette: the
    stories are a local optimum of the moves ``choose`` makes, whatever order it took them in.
    (One pass from the top down left such splits behind in each of these corpora.)"""
    for seed in range(3):
        docs, gold = _many_small(seed)
        params = BatchParams()
        _, cut = batch._tree_cut(docs, params)
        labels, _ = cut.choose()
        assert labels is not None
        nodes = []
        for label in np.unique(labels):
            members = set(np.flatnonzero(labels == label).tolist())
            nodes.append(
                next(u for u in range(len(cut.start))
                     if cut.count[u] == len(members) and set(cut.members(u).tolist()) == members)
            )  # fmt: skip
        state = batch._Silhouettes(cut, max(params.sample, params.sample_cells // cut.n))
        state.open(nodes)
        assert not any(
            state.split(v, parts) for v in nodes if cut._splits(v) for parts in cut.splits(v)
        )
        got = {d.id: str(k) for d, k in zip(docs, labels.tolist(), strict=True)}
        assert scores(got, gold)["bcubed_f1"] > 0.84


def test_the_best_stories_in_the_trees_are_found_when_the_gold_is_a_cut_of_them() -> None:
    docs, gold = _docs(per=9)
    params = BatchParams(band=(0.3, 0.95))  # a wide band: deep nodes may be stories too
    _, cut = batch._tree_cut(docs, params)
    ids = [d.id for d in docs]
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):  # gold stories: tree nodes, each split (or not) at random
        labels = np.zeros(len(docs), dtype=np.int64)
        stack = cut.starts()
        k = 0
        while stack:
            v = stack.pop()
            if cut.left[v] >= 0 and cut.height[v] > params.band[0] and rng.random() < 0.7:
                stack += [int(cut.left[v]), int(cut.right[v])]
            else:
                labels[cut.members(v)] = k
                k += 1
        want = dict(zip(ids, labels.tolist(), strict=True))
        seen.add(k)
        best = batch.best_in_trees(docs, params, {k: str(v) for k, v in want.items()})
        assert _partition(best) == _partition(want)
    assert len(seen) >= 4  # gold of several sizes
    # For any gold the stories are nodes of the trees, and at least as good as those chosen.
    best = batch.best_in_trees(docs, params, {k: min(v) for k, v in gold.items()})
    assert _partition(best) <= _nodes(_whole_tree(docs, params), ids)
    chosen = cluster(docs, params, _never)
    assert (
        scores({k: str(v) for k, v in best.items()}, gold)["bcubed_f1"]
        >= scores({k: str(v) for k, v in chosen.items()}, gold)["bcubed_f1"]
    )


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


def test_a_component_too_large_for_one_tree_is_joined_back_exactly() -> None:
    docs, _ = _docs()  # 21 articles in three topics of 7: one component at loose cuts
    params = BatchParams(band=(0.6, 0.99), max_block=10)
    shared = SharedNeighbours(
        Similarity(docs, params.text_weight), params.neighbours, params.neighbour_weight,
        params.neighbour_floor,
    )  # fmt: skip
    pieces, too_large = batch.fitting(shared, len(docs), params.band_cuts(), params.max_block)
    assert not too_large and len(pieces) > 1 and all(len(c) <= 10 for c, _, _ in pieces)
    trees, _ = batch.forest(shared, len(docs), 1.0, 10, [c for c, _, _ in pieces])
    levels = [level for _, level, _ in pieces]
    loosest = max(params.band_cuts())
    joined, top = batch._rejoined(shared, pieces, trees, levels, loosest, params.max_block)
    assert len(joined) == 1 and top == [loosest]
    comp, tree = joined[0]
    whole = _whole_tree(docs, params)
    ids = [d.id for d in docs]
    for cut in params.band_cuts():
        got = fcluster(tree, cut, criterion="distance")
        want = fcluster(whole, cut, criterion="distance")
        assert _partition(dict(zip([ids[i] for i in comp], got.tolist(), strict=True))) == (
            _partition(dict(zip(ids, want.tolist(), strict=True)))
        )
    # And through ``cluster``: nothing given up, every story a node of the whole tree.
    report: dict[str, object] = {}
    got_all = cluster(docs, params, _never, report)
    assert report["loosest_cut"] == loosest and report["largest_component"] == 21
    assert _partition(got_all) <= _nodes(whole, ids)


def test_parts_with_too_many_stories_to_join_keep_their_own_cuts() -> None:
    docs, _ = _docs()  # 21 articles in three topics of 7
    params = BatchParams(band=(0.6, 0.99), max_block=10)
    shared = SharedNeighbours(Similarity(docs, 0.4), 5, 0.5, 0.2)
    pieces, _ = batch.fitting(shared, len(docs), params.band_cuts(), params.max_block)
    trees, _ = batch.forest(shared, len(docs), 1.0, 10, [c for c, _, _ in pieces])
    levels = [level for _, level, _ in pieces]
    # Joining the parts back would take more stories than max_block at their cuts.
    kept, kept_levels = batch._rejoined(shared, pieces, trees, levels, 0.975, max_block=2)
    assert kept == trees and kept_levels == levels and max(levels) < 0.975
    comp = np.arange(len(docs))
    parts = [(c, tree, level) for (c, tree), level in zip(trees, levels, strict=True)]
    assert batch.rejoin(shared, comp, parts, max_block=2) is None
    # Every story of theirs is still a node of the tree over the whole corpus.
    labels = np.zeros(len(docs), dtype=np.int64)
    nxt = 0
    for tree, level in zip(trees, levels, strict=True):
        nxt = batch.cut_forest([tree], level, labels, nxt)
    got = {d.id: int(x) for d, x in zip(docs, labels.tolist(), strict=True)}
    assert _partition(got) <= _nodes(_whole_tree(docs, params), [d.id for d in docs])


def test_only_a_component_too_large_gives_up_its_loosest_cuts() -> None:
    # Three linked topics (21 articles, one component at loose cuts) beside two far topics
    # that share no word and no embedding dimension with them (10 articles, their own
    # component at every cut).
    docs, _ = _docs()
    far_words = {"comet": "orbit telescope tail nucleus", "reef": "coral bleaching divers fish"}
    rng = np.random.default_rng(4)
    for t, words in far_words.items():
        axis = np.zeros(16)
        axis[rng.choice(16, 3, replace=False)] = 1.0
        for k in range(5):
            body = " ".join(rng.choice(words.split(), 8).tolist())
            v = np.concatenate([np.zeros(16), axis + rng.normal(scale=0.3, size=16)])
            docs.append(StoryDoc(f"{t}-{k}", float(k), "", body, Counter(), v / np.linalg.norm(v)))
    docs = [
        StoryDoc(d.id, d.time, d.title, d.body, d.entities, np.concatenate([d.embedding, np.zeros(16)]))
        if d.embedding is not None and len(d.embedding) == 16 else d
        for d in docs
    ]  # fmt: skip
    params = BatchParams(band=(0.6, 0.99), max_block=12)
    sim = SharedNeighbours(Similarity(docs, 0.5), params.neighbours, 0.5, params.neighbour_floor)
    pieces, too_large = batch.fitting(sim, len(docs), params.band_cuts(), params.max_block)
    assert not too_large
    level = {docs[int(i)].id.split("-")[0]: cut for comp, cut, _ in pieces for i in comp}
    loosest = max(params.band_cuts())
    assert loosest <= params.band[1]  # no cut looser than the band
    assert level["comet"] == level["reef"] == loosest  # the far topics keep the loosest cut
    assert all(level[t] < loosest for t in WORDS)
    assert all(len(comp) <= 12 for comp, _, _ in pieces)
    assert sorted(int(i) for comp, _, _ in pieces for i in comp) == list(range(len(docs)))
    # Each keeps the number of its component at the loosest cut: the far topics share one.
    top = {docs[int(i)].id.split("-")[0]: t for comp, _, t in pieces for i in comp}
    assert top["comet"] == top["reef"] and len({top[t] for t in WORDS}) == 1


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


def test_the_mix_is_judged_by_each_sets_best_cut() -> None:
    # Two sets. Mix A reaches 0.95 and 0.85, each set at a cut of its own; mix B scores 0.9
    # and 0.88 at every cut, so it has the better mean at any one cut. A's trees hold the
    # stories better, and the cut read off each corpus at run time can find them.
    a, b = (0.3, 0.1), (0.5, 0.0)
    table: batch.Table = {}
    for k in (0, 1):
        for mix in batch.MIXES:
            for c in batch.CUTS:
                table[(k, *mix, c)] = 0.5
        for c in batch.TEXT_CUTS:
            table[(k, *batch.TEXT_ONLY, c)] = 0.9 if c == 0.85 else 0.5
        for c in batch.CUTS:
            table[(k, *b, c)] = (0.9, 0.88)[k]
    table[(0, *a, 0.7)], table[(1, *a, 0.8)] = 0.95, 0.85
    chosen = batch.choose(table, [0, 1])
    assert (chosen.text_weight, chosen.entity_weight) == a
    assert chosen.cut == 0.7  # A's best mean at one cut: (0.95 + 0.5) / 2
    assert chosen.text_cut == 0.85
    # Choosing on the second set alone uses its scores only: there B's 0.88 beats A's 0.85.
    one = batch.choose(table, [1])
    assert (one.text_weight, one.entity_weight) == b


def test_fit_scores_every_mix_and_cut_and_ships_its_choice() -> None:
    sets = [_docs(seed=1), _docs(seed=2)]

    def f1(pred: dict[str, str], gold: dict[str, set[str]]) -> float:
        return scores(pred, gold)["bcubed_f1"]

    params, table = batch.fit(sets, f1)
    want = {(k, *mix, c) for k in (0, 1) for mix in batch.MIXES for c in batch.CUTS}
    want |= {(k, *batch.TEXT_ONLY, c) for k in (0, 1) for c in batch.TEXT_CUTS}
    assert set(table) == want and all(0.0 <= v <= 1.0 for v in table.values())
    assert params == batch.choose(table, [0, 1])
    assert max(table[(0, params.text_weight, params.entity_weight, c)] for c in batch.CUTS) > 0.9
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


def test_the_clock_counts_the_articles_published_in_between() -> None:
    got = batch.clock([30.0, 10.0, None, 20.0, 20.0])
    # Ranks over the four dated (ties share their mean), undated NaN.
    assert np.allclose(got[[0, 1, 3, 4]], [3 / 4, 0.0, 1.5 / 4, 1.5 / 4])
    assert np.isnan(got[2])


def test_time_scales_the_similarity_and_leaves_undated_articles_alone() -> None:
    text = "river levee sandbags crest evacuation"
    docs = [
        StoryDoc("a", 0.0, "", text),
        StoryDoc("b", 1.0, "", text),
        *[StoryDoc(f"x{k}", 2.0 + k, "", f"filler words number {k}") for k in range(8)],
        StoryDoc("c", 100.0, "", text),
        StoryDoc("d", None, "", text),
    ]
    plain = Similarity(docs, 1.0).rows(np.arange(len(docs)))
    timed = Similarity(docs, 1.0, time_weight=0.4, time_scale=0.035).rows(np.arange(len(docs)))
    a, b, c, d = 0, 1, 10, 11
    assert plain[a, b] == plain[a, c] > 0.99
    # Eleven dated: neighbours on the clock are 1/11 apart, the two ends 10/11.
    near, far = 1 / 11, 10 / 11
    assert np.isclose(timed[a, b], plain[a, b] * (0.6 + 0.4 * np.exp(-near / 0.035)), atol=1e-5)
    assert np.isclose(timed[a, c], plain[a, c] * (0.6 + 0.4 * np.exp(-far / 0.035)), atol=1e-5)
    assert timed[a, b] > timed[a, c]
    assert np.isclose(timed[a, d], plain[a, d]) and np.isclose(timed[c, d], plain[c, d])
    # The silhouette's yardstick leaves time out.
    assert np.allclose(
        Similarity(docs, 1.0, time_weight=0.4).yardstick(np.arange(3)),
        Similarity(docs, 1.0).yardstick(np.arange(3)),
    )


def test_time_is_taken_only_where_it_helps_the_sets_it_is_learned_on() -> None:
    base = BatchParams()
    # Time helps set 0 and costs set 1 more: left out. Helps both: the best of TIMES.
    helps = {0: 0.02, 1: -0.05}
    chosen = batch.choose_time(
        base, [0, 1], lambda k, p: 0.8 + (helps[k] if p.time_weight > 0 else 0.0)
    )
    assert chosen.time_weight == 0.0
    best = batch.TIMES[4]
    chosen = batch.choose_time(
        base, [0, 1], lambda k, p: 0.8 + 0.01 * ((p.time_weight, p.time_scale) == best)
    )
    assert (chosen.time_weight, chosen.time_scale) == best
    assert BatchParams.from_meta({"batch": chosen.to_meta()}) == chosen


def test_replayed_adds_follow_the_pipelines_rebuild_rule() -> None:
    from dataclasses import replace as with_

    from storyline.config import Settings
    from storyline.eval.stories_eval import replay_adds
    from storyline.stories.batch import batch_stories
    from storyline.stories.model import load_story_model
    from storyline.stories.stream import place

    docs, _ = _docs()
    day = 86400.0
    # Seven days, three articles a day (one of each topic), in canonical order.
    docs = sorted(
        (with_(d, time=day * int(d.id.split("-")[1])) for d in docs), key=lambda d: (d.time, d.id)
    )
    model = load_story_model(None)
    settings = Settings()
    # Rebuilt every day: the last day's batch, over everything.
    settings.stories.rebuild_share = 0.0
    assert _partition(replay_adds(docs, model, settings)) == _partition(
        batch_stories(docs, model, settings.stories)
    )
    # Never rebuilt: the first day in batch, then each day placed by the stream.
    settings.stories.rebuild_share = 2.0
    got = replay_adds(docs, model, settings)
    first = docs[:3]
    stories = [[d for d in first if batch_stories(first, model, settings.stories)[d.id] == s]
               for s in sorted(set(batch_stories(first, model, settings.stories).values()))]  # fmt: skip
    for k in range(1, 7):
        chunk = docs[3 * k : 3 * k + 3]
        labels = place(model, settings.stories, stories, chunk)[0].assignments
        seen = docs[: 3 * k + 3]
        stories = [[d for d in seen if labels[d.id] == s] for s in dict.fromkeys(
            labels[d.id] for d in seen)]  # fmt: skip
    assert _partition(got) == {frozenset(d.id for d in s) for s in stories}
    assert set(got) == {d.id for d in docs}


def test_the_wikinews_dateline_is_read_as_the_date() -> None:
    from storyline.eval.datasets import _dateline

    assert _dateline(["", "Saturday, January 8, 2005"]) == "2005-01-08"
    assert _dateline(["December 29, 2004"]) == "2004-12-29"
    assert _dateline(["Countries affected by the tsunami", ""]) is None


def _slices_here(fn, shared, tasks):  # type: ignore[no-untyped-def]
    """A ``Spread`` map that hands each task to ``fn`` through a pickle round trip, as Ray
    does, and records the tasks."""
    import pickle

    _slices_here.tasks += len(tasks)  # type: ignore[attr-defined]
    shared = pickle.loads(pickle.dumps(shared))
    return (pickle.loads(pickle.dumps(fn(shared, pickle.loads(pickle.dumps(t))))) for t in tasks)


def test_the_pairwise_work_spread_in_slices_gives_the_same_trees_and_stories() -> None:
    # Several topics over 63 articles, with time: one process against the rows cut into
    # slices of blocks of 4 (neighbours, components at every cut, the trees' distances in
    # pieces of a component, the silhouettes' yardstick), as a cluster of workers runs them.
    docs, _ = _docs(seed=5, per=21)
    docs = [StoryDoc(d.id, float(k % 17), d.title, d.body, d.entities, d.embedding)
            for k, d in enumerate(docs)]  # fmt: skip
    params = BatchParams(time_weight=0.3, band=(0.6, 0.99))
    _slices_here.tasks = 0  # type: ignore[attr-defined]
    spread = batch.Spread(_slices_here, parts=3, block=4)
    assert spread.spans(63) == [(0, 24), (24, 48), (48, 63)]
    one = batch._tree_cut(docs, params)[1]
    many = batch._tree_cut(docs, params, spread)[1]
    tasks = _slices_here.tasks  # type: ignore[attr-defined]
    assert tasks >= 9  # three slices each of neighbours and components, the trees' pieces
    assert len(one.trees) == len(many.trees) > 0
    for (c1, t1), (c2, t2) in zip(one.trees, many.trees, strict=True):
        assert np.array_equal(c1, c2)
        assert (t1 is None and t2 is None) or np.array_equal(t1, t2)
    labels_one, s_one = one.choose()
    labels_many, s_many = many.choose()
    assert labels_one is not None and len(set(labels_one.tolist())) > 2
    assert s_one == s_many and np.array_equal(labels_one, labels_many)
    assert _slices_here.tasks == tasks + 3  # type: ignore[attr-defined]  # the yardstick's
    report_one: dict[str, object] = {}
    report_many: dict[str, object] = {}
    assert cluster(docs, params, _never, report_one) == cluster(
        docs, params, _never, report_many, spread
    )
    assert report_one == report_many


def test_a_large_component_is_cut_into_pieces_of_about_equal_pairs() -> None:
    pieces, cost = batch._pieces([100, 2, 1, 10], parts=4)
    big = [(a, b) for j, a, b in pieces if j == 0]
    assert big[0][0] == 0 and big[-1][1] == 100 and len(big) == 4
    assert all(b1 == a2 for (_, b1), (a2, _) in itertools.pairwise(big))
    share = [c for (j, _, _), c in zip(pieces, cost, strict=True) if j == 0]
    assert sum(share) == 100 * 99 / 2 and max(share) < 1.3 * min(share)
    assert [(j, a, b) for j, a, b in pieces if j > 0] == [(1, 0, 2), (2, 0, 1), (3, 0, 10)]


def test_kept_cosines_are_those_each_block_works_out(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``Similarity.keep`` works every pair's TF-IDF cosine out once; the blocks read from it
    are bit for bit those worked out block by block (rows and columns in any order, across
    ``keep``'s own blocks of 1,024 rows), a copy sent to a worker leaves it behind, and the
    stories are the same with it or without it."""
    import pickle

    rng = np.random.default_rng(11)
    vocab = [f"w{k}" for k in range(400)]
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    docs = [
        StoryDoc(f"d{k}", float(k), f"t{k % 7}", " ".join(rng.choice(vocab, 30, p=weights)),
                 Counter(), rng.normal(size=8))
        for k in range(1300)
    ]  # fmt: skip
    fresh, kept = Similarity(docs, 0.4), Similarity(docs, 0.4)
    assert not kept.keep(len(docs) ** 2 * 4 - 1) and kept.kept is None  # over the budget
    assert kept.keep(len(docs) ** 2 * 4) and kept.kept is not None
    for _ in range(5):
        rows = rng.choice(len(docs), 200, replace=False)
        cols = rng.choice(len(docs), 300, replace=False)
        assert np.array_equal(kept.rows(rows, cols), fresh.rows(rows, cols))
        assert np.array_equal(kept.rows(rows), fresh.rows(rows))
        assert np.array_equal(kept.yardstick(rows), fresh.yardstick(rows))
    assert pickle.loads(pickle.dumps(kept)).kept is None

    small, _ = _docs()
    params = BatchParams(text_weight=0.5, neighbours=3)
    with_kept = cluster(small, params, _never)
    monkeypatch.setattr(batch, "KEEP_BYTES", 0)
    assert cluster(small, params, _never) == with_kept
