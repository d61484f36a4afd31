"""The sentence-pair features are computed fast and equal, value for value, to the plain
definition that the MRPC decision model was trained on (kept here as the reference)."""

from __future__ import annotations

import importlib
import random
import re
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from storyline.ingest.clean import stopwords
from storyline.reuse.features import pair_features, pair_features_many

_TOKEN = re.compile(r"[^\W_]+(?:['’.,][^\W_]+)*", re.U)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def _ngram_f(a: list[str], b: list[str], n: int) -> tuple[float, float]:
    ca = Counter(tuple(a[i : i + n]) for i in range(len(a) - n + 1))
    cb = Counter(tuple(b[i : i + n]) for i in range(len(b) - n + 1))
    if not ca or not cb:
        return 0.0, 0.0
    overlap = sum((ca & cb).values())
    pa, pb = overlap / sum(ca.values()), overlap / sum(cb.values())
    return (0.0 if overlap == 0 else 2 * pa * pb / (pa + pb)), min(pa, pb)


def _char_f(a: str, b: str, n: int = 3) -> float:
    a, b = " ".join(a.lower().split()), " ".join(b.lower().split())
    ca = Counter(a[i : i + n] for i in range(len(a) - n + 1))
    cb = Counter(b[i : i + n] for i in range(len(b) - n + 1))
    if not ca or not cb:
        return 0.0
    return 2 * sum((ca & cb).values()) / (sum(ca.values()) + sum(cb.values()))


def reference(a: str, b: str, cosine: float) -> list[float]:
    ta, tb = _tokens(a), _tokens(b)
    stop = stopwords()
    f1, p1 = _ngram_f(ta, tb, 1)
    f2, _ = _ngram_f(ta, tb, 2)
    f3, _ = _ngram_f(ta, tb, 3)
    f4, _ = _ngram_f(ta, tb, 4)
    content_f, _ = _ngram_f([t for t in ta if t not in stop], [t for t in tb if t not in stop], 1)
    lcs = SequenceMatcher(None, ta, tb, autojunk=False).ratio() if ta and tb else 0.0
    la, lb = len(ta), len(tb)
    length_ratio = min(la, lb) / max(la, lb) if la and lb else 0.0
    na, nb = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
    disagree = float(len(na ^ nb)) / max(1, len(na | nb)) if (na or nb) else 0.0
    agree = 1.0 if na and na == nb else 0.0
    fs, ps = _ngram_f([t[:5] for t in ta], [t[:5] for t in tb], 1)
    ca, cb = {t for t in ta if t not in stop}, {t for t in tb if t not in stop}
    una, unb = len(ca - cb) / max(1, len(ca)), len(cb - ca) / max(1, len(cb))
    negation = float(("not" in ta or "n't" in a) != ("not" in tb or "n't" in b))
    caps_a = {w for w in a.split() if w[:1].isupper()}
    caps_b = {w for w in b.split() if w[:1].isupper()}
    capitalised = len(caps_a & caps_b) / max(1, len(caps_a | caps_b))
    return [
        cosine, cosine * cosine, f1, f2, f3, f4, content_f, _char_f(a, b), lcs, length_ratio,
        disagree, agree, cosine * length_ratio, p1, fs, ps, max(una, unb), min(una, unb),
        negation, float(np.log1p(abs(la - lb))), capitalised,
    ]  # fmt: skip


def test_fast_features_equal_the_reference(example_corpus: Path) -> None:
    sentences = [
        s.strip()
        for p in sorted(example_corpus.rglob("*.txt"))
        for s in re.split(r"(?<=[.!?”])\s+", p.read_text(encoding="utf-8"))
        if s.strip()
    ]
    sentences += ["", "...", "Not so.", "It isn't 4,000 or 5.5%.", "a b", "x", "The the the"]
    rng = random.Random(7)
    pairs = [(rng.choice(sentences), rng.choice(sentences)) for _ in range(3000)]
    pairs += [(s, s) for s in sentences[:100]] + [(s.upper(), s) for s in sentences[:50]]
    cosines = [rng.uniform(-0.2, 1.0) for _ in pairs]
    expected = [reference(a, b, c) for (a, b), c in zip(pairs, cosines, strict=True)]
    assert pair_features_many(pairs, cosines) == expected
    assert pair_features(*pairs[0], cosines[0]) == expected[0]


def _example_sentences(where: Path) -> list[str]:
    files = [where] if where.is_file() else sorted(where.rglob("*.txt"))
    return [
        s.strip()
        for p in files
        for s in re.split(r"(?<=[.!?”])\s+", p.read_text(encoding="utf-8"))
        if len(s.split()) >= 3
    ]


def test_lexical_scores_are_the_decision_model_at_any_cosine(example_corpus: Path) -> None:
    from storyline.reuse.decision import load_decision
    from storyline.reuse.lexical import lexical_scores

    sentences = _example_sentences(example_corpus)
    rng = random.Random(3)
    pairs = [(rng.choice(sentences), rng.choice(sentences)) for _ in range(400)]
    pairs += [(s, s.replace("said", "stated")) for s in sentences[:50]]
    pairs += [(s, s) for s in sentences[:20]]
    decision = load_decision()
    lex = lexical_scores(pairs, decision)
    for c in (-0.1, 0.0, 0.4, 0.55, 0.8, 1.0):
        exact = decision.probability(np.array(pair_features_many(pairs, [c] * len(pairs))))
        assert np.allclose(lex.probability(np.full(len(pairs), c)), exact, rtol=0, atol=1e-12)
    # What the words alone reject stays rejected at every cosine from 0.4 up.
    rejected = lex.rejected(0.4)
    assert 0 < rejected.sum() < len(pairs)
    for c in np.linspace(0.4, 1.0, 13):
        assert (lex.probability(np.full(len(pairs), c))[rejected] < decision.threshold).all()
    # Given the cosine's floor, the subsequence ratio is computed only where it may matter:
    # the same pairs are rejected, and the others keep their exact scores.
    fast = lexical_scores(pairs, decision, 0.4)
    assert (fast.rejected(0.4) == rejected).all()
    assert np.allclose(fast.base[~rejected], lex.base[~rejected], rtol=0, atol=1e-12)
    assert np.array_equal(fast.lin, lex.lin)


def test_cydifflib_matches_like_difflib(example_corpus: Path) -> None:
    import difflib

    from storyline.text.seqmatch import SequenceMatcher as Fast

    words = [_tokens(s) for s in _example_sentences(example_corpus)]
    rng = random.Random(5)
    pairs = [(rng.choice(words), rng.choice(words)) for _ in range(500)]
    pairs += [(w, [*w[:3], "swapped", *w[4:]]) for w in words[:100]] + [([], ["a"]), (["a"], [])]
    for a, b in pairs:
        slow, fast = difflib.SequenceMatcher(None, a, b, False), Fast(None, a, b, autojunk=False)
        assert fast.ratio() == slow.ratio()
        assert fast.get_opcodes() == slow.get_opcodes()


def test_the_gate_is_shared_content_words_over_the_smaller_sentence() -> None:
    from storyline.reuse.lexical import allowed

    a = ["Troops massed at the border on Monday.", "Rain is expected."]
    b = ["The troop build-up at the border worries allies.", "It may rain."]
    gate = allowed(a, b, 0.5)
    # "troop(s)" and "border" are 2 of the first's 4 stems (troop, massed, border, monday);
    # "rain" is all of "It may rain." ("it", "may" are stopwords).
    assert gate.tolist() == [[True, False], [False, True]]
    assert allowed(a, [], 0.3).shape == (2, 0)


def test_the_gate_equals_the_overlap_of_each_pairs_stem_sets(seeds_dir: Path) -> None:
    """The stem matrix (stems cached apart from the pair profiles, as numbered ids) counts
    the stems ``pair_features`` reads, and the gate equals computing every pair's overlap
    coefficient from the two stem sets."""
    from storyline.reuse.lexical import MIN_OVERLAP, allowed, stem_matrix, stems

    texts = [s for p in sorted(seeds_dir.iterdir())[:2] for s in _example_sentences(p)]
    half = len(texts) // 2
    a, b = texts[:half], texts[half:]
    matrix, sizes = stem_matrix(texts)
    assert sizes.tolist() == [len(stems(t)) for t in texts]
    assert (matrix @ matrix.T).diagonal().tolist() == sizes.tolist()
    gate = allowed(a, b, MIN_OVERLAP, top=len(texts))  # every partner: the cut alone
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            sx, sy = stems(x), stems(y)
            shared = len(sx & sy)
            want = shared > 0 and shared / max(1, min(len(sx), len(sy))) >= MIN_OVERLAP
            assert gate[i, j] == want, (x, y)


def _gate_reference(a: list[str], b: list[str], cut: float, top: int) -> np.ndarray:
    """Pairs reaching the cut that are among the ``top`` partners (by the cosine of the stem
    sets; ties: the earlier) of either sentence, pair by pair with Python sets."""
    from storyline.reuse.lexical import stems

    score = {}
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            sx, sy = stems(x), stems(y)
            shared = len(sx & sy)
            if shared and shared / max(1, min(len(sx), len(sy))) >= cut:
                score[i, j] = np.float32(shared) / np.sqrt(np.float32(max(1, len(sx) * len(sy))))
    out = np.zeros((len(a), len(b)), dtype=bool)
    for i in range(len(a)):
        for _, j in sorted((-score[i, j], j) for j in range(len(b)) if (i, j) in score)[:top]:
            out[i, j] = True
    for j in range(len(b)):
        for _, i in sorted((-score[i, j], i) for i in range(len(a)) if (i, j) in score)[:top]:
            out[i, j] = True
    return out


def test_gates_of_many_article_pairs_at_once_equal_each_pairs_own(seeds_dir: Path) -> None:
    """``allowed_many`` scores every article pair in one product: each pair's gate is the
    one its own sentences give (checked against a plain reference), empty articles too."""
    from storyline.reuse.lexical import MIN_OVERLAP, allowed_many

    articles = [_example_sentences(p) for p in sorted(seeds_dir.iterdir())]
    pairs = [(a, b) for a in articles for b in articles] + [([], articles[0]), (articles[1], [])]
    gates = allowed_many(pairs, MIN_OVERLAP)
    assert sum(int(g.sum()) for g in gates) > 0
    for (a, b), gate in zip(pairs, gates, strict=True):
        assert gate.tolist() == _gate_reference(a, b, MIN_OVERLAP, 3).tolist()


def test_fact_edges_equal_scoring_every_candidate_with_its_cosine(seeds_dir: Path) -> None:
    """The cascade (words first, the model only where they leave it open) accepts exactly the
    candidate pairs that scoring each with its embedding cosine accepts."""
    from storyline.digest.facts import _candidates, _edges
    from storyline.digest.units import Unit
    from storyline.embed import get_embedder
    from storyline.reuse.decision import load_decision

    units = []
    for path in sorted(seeds_dir.iterdir()):
        for s in _example_sentences(path):
            units.append(Unit(s, path.name, len(units), len(units), [path.name]))
    embed = get_embedder().encode
    decision = load_decision()
    edges = _edges(units, embed, decision, 0.55, top=8)
    candidates, _, _ = _candidates(units, 8, 0.3)
    vectors = np.asarray(embed([u.text for u in units]))
    cos = np.array([float(vectors[i] @ vectors[j]) for i, j in candidates])
    feats = np.array(
        pair_features_many([(units[i].text, units[j].text) for i, j in candidates], cos)
    )
    probs = decision.probability(feats)
    expected = {
        pair for pair, c, p in zip(candidates, cos, probs, strict=True)
        if c >= 0.55 and p >= decision.threshold
    }  # fmt: skip
    assert len(expected) > 10
    assert set(edges) == expected
    embedded = sum(u.vector is not None for u in units)
    assert embedded < len(units)  # the words decided some sentences' every pair


def _story_units(articles: list[Path]) -> list[Any]:
    from storyline.digest.units import Unit

    units = []
    for path in articles:
        for k, text in enumerate(_example_sentences(path)):
            units.append(Unit(text, path.name, k, len(units), [path.name]))
    return units


def _long(units: list[Any]) -> int:
    return sum(u.words >= 5 for u in units)


@pytest.mark.parametrize(
    ("rows_at_once", "top", "keep_top"), [(1024, 8, 64), (7, 8, 64), (7, 2, 2), (5, 3, 3)]
)
def test_fact_partners_resumed_equal_those_searched_among_all(
    example_corpus: Path, monkeypatch: pytest.MonkeyPatch, rows_at_once: int, top: int,
    keep_top: int,
) -> None:  # fmt: skip
    """A story that gained articles (at its end or between its old ones) searches partners
    for its new sentences only, and finds the same candidate pairs and partners as a search
    among all, whatever its ``top`` now; a story that lost an article, or whose partners
    were kept to another depth, searches all again. (A shallow depth makes new sentences
    displace old partners.)"""
    facts = importlib.import_module("storyline.digest.facts")  # the module, not its function

    monkeypatch.setattr(facts, "_ROWS_AT_ONCE", rows_at_once)
    monkeypatch.setattr(facts, "_KEEP_TOP", keep_top)
    files = sorted(example_corpus.rglob("*.txt"))
    assert len(files) >= 8
    every = _story_units(files)
    full, whole, searched = facts._candidates(every, top, 0.3)
    assert len(full) > 50 and searched == _long(every)
    for old in (files[: len(files) // 2], files[::3]):
        _, prior, _ = facts._candidates(_story_units(old), min(top, 2), 0.3)
        pairs, made, searched = facts._candidates(every, top, 0.3, [prior])
        assert pairs == full
        for name in ("units", "rows", "others", "ranks"):
            assert np.array_equal(getattr(made, name), getattr(whole, name)), name
        new = [u for u in every if u.article not in {f.name for f in old}]
        assert searched == _long(new) < _long(every)
    # Not resumable: an article of the prior is gone, or the prior chose another number.
    _, prior, _ = facts._candidates(_story_units(files[:4]), top, 0.3)
    fewer = _story_units(files[1:])
    assert facts._candidates(fewer, top, 0.3, [prior])[2] == _long(fewer)
    assert facts._candidates(every, max(top, keep_top) + 1, 0.3, [prior])[2] == _long(every)


_PIECES = ("the", "The", "troops", "troop", "said", "not", "isn't", "4,000", "5.5%", "Rain",
           "rain", "a", "b", "the the", "U.S.", "Mr.", "—", "“quoted”", "x", "2019", "Port")  # fmt: skip


def test_features_of_random_texts_equal_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeated words and n-grams (multiset overlaps), numbers, capitals, negation and empty
    texts, drawn at random and scored all at once (and 7 pairs at a time): every value equals
    the reference's."""
    import storyline.reuse.features

    rng = random.Random(3)
    texts = ["", " "] + [
        " ".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 14))) for _ in range(400)
    ]
    pairs = [(rng.choice(texts), rng.choice(texts)) for _ in range(4000)]
    cosines = [rng.uniform(-0.2, 1.0) for _ in pairs]
    expected = [reference(a, b, c) for (a, b), c in zip(pairs, cosines, strict=True)]
    assert pair_features_many(pairs, cosines) == expected
    monkeypatch.setattr(storyline.reuse.features, "_CHUNK", 7)
    assert pair_features_many(pairs, cosines) == expected
