"""Extractive summaries: budget, one unit per fact group, originals over copies, methods."""

from __future__ import annotations

import pytest

from storyline.digest.summary import DEFAULT_METHOD, METHODS, summarize
from storyline.digest.units import Unit

FACTS = [
    "The central bank raised its main interest rate by half a point on Tuesday.",
    "Inflation reached seven percent in March, the highest level in two decades.",
    "The bank's governor said further increases would follow if prices kept rising.",
    "Markets fell sharply after the announcement, with bank shares leading the losses.",
    "Economists had expected a smaller increase of a quarter point this month.",
    "The opposition accused the government of losing control of public spending.",
    "Mortgage holders will see their monthly payments rise from next month.",
    "The currency strengthened against the dollar in late trading on Tuesday.",
]


def story() -> list[Unit]:
    """Three articles: an original, a copy of it (same facts, same groups) and a third source."""
    units = []
    for i, text in enumerate(FACTS):
        units.append(Unit(text, "a1", i, i, ["a1", "c1"], 1, False, "2024-03-01T10:00:00", None, 8))
        units.append(
            Unit(
                text.replace("Tuesday", "Tuesday evening"),
                "c1", i, i, ["a1", "c1"], 1, True, "2024-03-01T11:00:00", None, 8,
            )
        )  # fmt: skip
    for i, text in enumerate(FACTS[:4]):
        reworded = "According to officials, " + text[0].lower() + text[1:]
        units.append(
            Unit(reworded, "b1", i, 100 + i, ["b1"], 1, False, "2024-03-01T12:00:00", None, 4)
        )
    return units


@pytest.mark.parametrize("method", sorted(METHODS))
def test_budget_is_respected(method: str) -> None:
    for words in (15, 30, 60):
        chosen = summarize(story(), words, method)
        assert sum(u.words for u in chosen) <= words
        assert chosen, f"{method} chose nothing for {words} words"


@pytest.mark.parametrize("method", sorted(METHODS))
def test_fill_lets_only_the_last_unit_overflow(method: str) -> None:
    chosen = METHODS[method](story(), 30, True)  # in the order chosen: the last may overflow
    assert sum(u.words for u in chosen) >= 30
    assert sum(u.words for u in chosen[:-1]) < 30


def test_best_method_states_each_fact_once_in_the_original_wording() -> None:
    chosen = summarize(story(), 200, DEFAULT_METHOD)
    groups = [u.group for u in chosen]
    assert len(groups) == len(set(groups))
    assert not any(u.is_copy for u in chosen)


def test_reading_order() -> None:
    chosen = summarize(story(), 200, DEFAULT_METHOD)
    keys = [(u.published or "", u.article, u.index) for u in chosen]
    assert keys == sorted(keys)


def test_a_copy_is_chosen_when_it_is_the_only_wording() -> None:
    only = [
        Unit(FACTS[0], "c1", 0, 0, ["c1"], 1, True, None, None, 2),
        Unit(FACTS[1], "c1", 1, 1, ["c1"], 1, True, None, None, 2),
    ]
    assert summarize(only, 100, DEFAULT_METHOD)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_deterministic(method: str) -> None:
    first = [(u.article, u.index) for u in summarize(story(), 40, method)]
    again = [(u.article, u.index) for u in summarize(list(reversed(story())), 40, method)]
    assert first == [(u.article, u.index) for u in summarize(story(), 40, method)]
    assert sorted(first) == sorted(again)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_empty_story(method: str) -> None:
    assert summarize([], 100, method) == []


def test_unknown_method_names_the_choices() -> None:
    with pytest.raises(ValueError, match="lexrank"):
        summarize(story(), 100, "textrankish")


def test_official_rouge_on_a_known_pair() -> None:
    """ROUGE-1.5.5 itself (its Perl deps come with `make setup`: missing, this fails)."""
    from storyline.eval.rouge import rouge

    scores = rouge([["Police killed the gunman."]], [["The gunman killed the policeman."]], 100)
    assert scores["ROUGE-1"].recall == pytest.approx(0.6)
    assert scores["ROUGE-2"].recall == pytest.approx(0.5)
    assert scores["ROUGE-1"].recall_ci is not None


def test_rouge_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from storyline.eval import rouge as module

    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    with pytest.raises(module.RougeUnavailable, match="perl is not installed"):
        module.rouge([["a b c"]], [["a b c"]])


def _greedy_one_by_one(units: list[Unit], words: int, fill: bool) -> list[Unit]:
    """``submodular`` as first written: each candidate's gain computed on its own."""
    import math

    import numpy as np

    from storyline.digest import summary as s

    n = len(units)
    sim = s.similarity(units)
    prior = np.array([s._prior(u) for u in units])
    weight = np.array([0.5 if u.is_copy else 1.0 for u in units]) * prior
    saturation = s.ALPHA_A / n * (sim * weight[None, :]).sum(axis=1)
    cover = np.zeros(n)
    reward = (sim * weight[:, None]).sum(axis=0) / n * prior
    parts = s._partition(sim, round(s.CLUSTER_SHARE * n))
    part_mass = np.zeros(int(parts.max()) + 1)

    def gain(j: int) -> float:
        new = np.minimum(cover + sim[:, j], saturation) - np.minimum(cover, saturation)
        k = parts[j]
        diversity = math.sqrt(part_mass[k] + reward[j]) - math.sqrt(part_mass[k])
        return float((weight * new).sum()) + s.LAMBDA * diversity

    candidates = [j for j in s.representatives(units) if units[j].words >= s.MIN_WORDS]
    chosen: list[int] = []
    used = 0
    while candidates and used < words:
        if not fill:
            candidates = [j for j in candidates if used + units[j].words <= words]
            if not candidates:
                break
        j = min(
            candidates,
            key=lambda j: (
                -round(gain(j) / units[j].words ** s.COST_POWER, 9),
                *s._place(units[j]),
            ),
        )
        candidates.remove(j)
        if used + units[j].words > words and not fill:
            continue
        chosen.append(j)
        used += units[j].words
        cover += sim[:, j]
        part_mass[parts[j]] += reward[j]
    return [units[j] for j in chosen]


@pytest.mark.parametrize(("words", "fill"), [(100, False), (400, False), (250, True)])
def test_submodular_gains_of_all_candidates_at_once_equal_one_by_one(
    words: int, fill: bool
) -> None:
    """The greedy scores every candidate in one matrix step; it picks what scoring each on
    its own picks, on a story of 600 sentences (more candidates than one step takes)."""
    import random

    from storyline.digest.summary import submodular

    rng = random.Random(2)
    vocab = [f"w{i}" for i in range(150)] + [w.lower() for f in FACTS for w in f.split()]
    units = []
    for i in range(600):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(4, 30)))
        article = f"a{i % 40}"
        units.append(Unit(text, article, i // 40, rng.randrange(300), [article], 1 + i % 3,
                          i % 7 == 0, f"2024-03-{1 + i % 9:02d}", None, 15))  # fmt: skip
    assert submodular(units, words, fill) == _greedy_one_by_one(units, words, fill)


def _many_units(n: int, seed: int = 3) -> list[Unit]:
    import random

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(120)] + [w.lower() for f in FACTS for w in f.split()]
    out = []
    for i in range(n):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(5, 25)))
        article = f"a{i % 30}"
        out.append(Unit(text, article, i // 30, i, [article], 1 + i % 4, i % 5 == 0,
                        f"2024-03-{1 + i % 9:02d}", None, n // 30))  # fmt: skip
    return out


def test_gram_in_blocks_equals_the_whole_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past GRAM_BLOCK rows the similarities are made a block of rows at a time (OpenBLAS's
    threaded syrk, which numpy uses for ``x @ x.T``, segfaults on large ones); the values
    are the whole product's, and up to the block they are that product itself."""
    import numpy as np

    from storyline.digest import summary

    x = np.random.default_rng(1).random((300, 40))
    assert np.array_equal(summary.gram(x), x @ x.T)
    monkeypatch.setattr(summary, "GRAM_BLOCK", 64)
    blocked = summary.gram(x)
    assert blocked.shape == (300, 300)
    assert np.allclose(blocked, x @ x.T, rtol=1e-12, atol=1e-12)
    assert np.allclose(summary.gram(x.astype(np.float32)), (x @ x.T).astype(np.float32), rtol=1e-5)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_large_story_is_summarised_from_its_most_corroborated_and_lead_units(
    method: str,
) -> None:
    """Over ``max_units`` units the methods see only those the prior ranks first (in their
    order): the summary is the one made from those alone, and under the cap nothing
    changes."""
    from storyline.digest.summary import _prior, within

    units = _many_units(400)
    kept = within(units, 120)
    assert len(kept) == 120
    assert [units.index(u) for u in kept] == sorted(units.index(u) for u in kept)  # their order
    floor = min(_prior(u) for u in kept)
    assert all(_prior(u) <= floor for u in units if u not in kept)
    assert any(_prior(u) < floor for u in units if u not in kept)  # the cap left some out
    chosen = summarize(units, 80, method, max_units=120)
    assert chosen and all(u in kept for u in chosen)
    assert chosen == summarize(kept, 80, method, max_units=0)
    assert within(units, 0) is units and within(units, 400) is units
    assert summarize(units, 80, method, max_units=0) == summarize(units, 80, method, max_units=400)
