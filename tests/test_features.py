"""The sentence-pair features are computed fast and equal, value for value, to the plain
definition that the MRPC decision model was trained on (kept here as the reference)."""

from __future__ import annotations

import random
import re
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np

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
