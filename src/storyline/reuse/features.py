"""Features of a sentence pair for the "same statement?" decision.

Lexical evidence in the spirit of machine-translation metrics (n-gram precision as in BLEU,
longest common subsequence, character n-grams, content-word overlap), agreement of the
numbers, length, and the cosine of the two sentence embeddings. A small logistic model
trained on the MRPC training pairs weighs them (``storyline.reuse.decision``).
"""

from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher

import numpy as np

from storyline.ingest.clean import stopwords

_TOKEN = re.compile(r"[^\W_]+(?:['’.,][^\W_]+)*", re.U)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

FEATURE_NAMES = (
    "cosine", "cosine_sq", "unigram_f", "bigram_f", "trigram_f", "fourgram_f", "content_f",
    "char3_f", "lcs_ratio", "length_ratio", "numbers_disagree", "numbers_agree", "cosine_x_length",
    "unigram_min_prec", "stem_f", "stem_min_prec", "unmatched_content_max", "unmatched_content_min",
    "negation_differs", "log_length_diff", "capitalised_jaccard",
)  # fmt: skip


def tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def _ngram_f(a: list[str], b: list[str], n: int) -> tuple[float, float]:
    ca = Counter(tuple(a[i : i + n]) for i in range(len(a) - n + 1))
    cb = Counter(tuple(b[i : i + n]) for i in range(len(b) - n + 1))
    if not ca or not cb:
        return 0.0, 0.0
    overlap = sum((ca & cb).values())
    pa, pb = overlap / sum(ca.values()), overlap / sum(cb.values())
    f = 0.0 if overlap == 0 else 2 * pa * pb / (pa + pb)
    return f, min(pa, pb)


def _char_f(a: str, b: str, n: int = 3) -> float:
    a, b = " ".join(a.lower().split()), " ".join(b.lower().split())
    ca = Counter(a[i : i + n] for i in range(len(a) - n + 1))
    cb = Counter(b[i : i + n] for i in range(len(b) - n + 1))
    if not ca or not cb:
        return 0.0
    overlap = sum((ca & cb).values())
    return 2 * overlap / (sum(ca.values()) + sum(cb.values()))


def pair_features(a: str, b: str, cosine: float) -> list[float]:
    """The feature vector of one sentence pair (order of FEATURE_NAMES)."""
    ta, tb = tokens(a), tokens(b)
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
    # Crude stemming by 5-letter prefixes catches inflection ("troops"/"troop", "said"/"says").
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


def feature_matrix(pairs: list[tuple[str, str]], cosines: np.ndarray) -> np.ndarray:
    return np.array(
        [pair_features(a, b, float(c)) for (a, b), c in zip(pairs, cosines, strict=True)],
        dtype=np.float64,
    )
