"""Features of a sentence pair for the "same statement?" decision.

Lexical evidence in the spirit of machine-translation metrics (n-gram precision as in BLEU,
longest common subsequence, character n-grams, content-word overlap), agreement of the
numbers, length, and the cosine of the two sentence embeddings. A small logistic model
trained on the MRPC training pairs weighs them (``storyline.reuse.decision``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from storyline.ingest.clean import stopwords
from storyline.text.seqmatch import SequenceMatcher

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


class _Bag:
    """A multiset as the set of its items and the counts of the items that repeat, so that
    the overlap of two (the sum of the smaller counts) is one set intersection plus the few
    repeats: ``sum(min(a[k], b[k]))`` over shared k is the number of shared items plus, for
    items repeated in both, ``min(a[k], b[k]) - 1``."""

    __slots__ = ("items", "repeats", "size")

    def __init__(self, counts: Counter[Any]) -> None:
        self.items = frozenset(counts)
        self.repeats = {k: c for k, c in counts.items() if c > 1}
        self.size = sum(counts.values())

    def __bool__(self) -> bool:
        return bool(self.items)


def _grams(items: list[Any], n: int) -> _Bag:
    return _Bag(Counter(tuple(items[i : i + n]) for i in range(len(items) - n + 1)))


class _Profile:
    """What ``pair_features`` needs of one sentence, computed once per text: its tokens,
    n-gram counts, content words, stems, character trigrams, numbers and capitalised words."""

    __slots__ = ("a", "caps", "char3", "content", "content_set", "grams", "n_char3", "negated",
                 "numbers", "stem_set", "stems", "tokens")  # fmt: skip

    def __init__(self, text: str, stop: frozenset[str]) -> None:
        ta = tokens(text)
        self.a = text
        self.tokens = ta
        self.grams = [_grams(ta, n) for n in (1, 2, 3, 4)]
        self.content = _grams([t for t in ta if t not in stop], 1)
        self.stems = _grams([t[:5] for t in ta], 1)
        norm = " ".join(text.lower().split())
        self.char3 = _Bag(Counter(norm[i : i + 3] for i in range(len(norm) - 2)))
        self.n_char3 = max(0, len(norm) - 2)
        self.numbers = set(_NUMBER.findall(text))
        self.content_set = {t for t in ta if t not in stop}
        self.stem_set = frozenset(t[:5] for t in self.content_set)
        self.negated = "not" in ta or "n't" in text
        self.caps = {w for w in text.split() if w[:1].isupper()}


# About 32 KB a sentence: 8,000 hold the sentences of the articles near in time that the
# reuse stage plans together (it plans in time order), ~250 MiB. Measured at 1,000 generated
# articles: 20,000 entries 42.5 s of reuse and 1,226 MiB peak, 8,000 48.9 s and 827 MiB.
@lru_cache(maxsize=8_000)
def _profile(text: str) -> _Profile:
    return _Profile(text, stopwords())


def _overlap(a: _Bag, b: _Bag) -> int:
    """The size of the multisets' intersection (``sum((ca & cb).values())``)."""
    shared = len(a.items & b.items)
    if a.repeats and b.repeats:
        shared += sum(min(a.repeats[k], b.repeats[k]) - 1 for k in a.repeats.keys() & b.repeats)
    return shared


def _f(ca: _Bag, cb: _Bag, na: int, nb: int) -> tuple[float, float]:
    """F-measure and the smaller precision of two n-gram multisets of sizes ``na``, ``nb``."""
    if not ca or not cb:
        return 0.0, 0.0
    overlap = _overlap(ca, cb)
    pa, pb = overlap / na, overlap / nb
    f = 0.0 if overlap == 0 else 2 * pa * pb / (pa + pb)
    return f, min(pa, pb)


def _features(pa: _Profile, pb: _Profile, cosine: float, lcs: float) -> list[float]:
    ta, tb = pa.tokens, pb.tokens
    la, lb = len(ta), len(tb)
    f1, p1 = _f(pa.grams[0], pb.grams[0], la, lb)
    f2, _ = _f(pa.grams[1], pb.grams[1], la - 1, lb - 1)
    f3, _ = _f(pa.grams[2], pb.grams[2], la - 2, lb - 2)
    f4, _ = _f(pa.grams[3], pb.grams[3], la - 3, lb - 3)
    content_f, _ = _f(pa.content, pb.content, pa.content.size, pb.content.size)
    length_ratio = min(la, lb) / max(la, lb) if la and lb else 0.0
    na, nb = pa.numbers, pb.numbers
    disagree = float(len(na ^ nb)) / max(1, len(na | nb)) if (na or nb) else 0.0
    agree = 1.0 if na and na == nb else 0.0
    # Crude stemming by 5-letter prefixes catches inflection ("troops"/"troop", "said"/"says").
    fs, ps = _f(pa.stems, pb.stems, la, lb)
    ca, cb = pa.content_set, pb.content_set
    una, unb = len(ca - cb) / max(1, len(ca)), len(cb - ca) / max(1, len(cb))
    negation = float(pa.negated != pb.negated)
    capitalised = len(pa.caps & pb.caps) / max(1, len(pa.caps | pb.caps))
    char3 = (
        2 * _overlap(pa.char3, pb.char3) / (pa.n_char3 + pb.n_char3)
        if pa.char3 and pb.char3
        else 0.0
    )
    return [
        cosine, cosine * cosine, f1, f2, f3, f4, content_f, char3, lcs, length_ratio,
        disagree, agree, cosine * length_ratio, p1, fs, ps, max(una, unb), min(una, unb),
        negation, float(np.log1p(abs(la - lb))), capitalised,
    ]  # fmt: skip


def pair_features(a: str, b: str, cosine: float) -> list[float]:
    """The feature vector of one sentence pair (order of FEATURE_NAMES)."""
    return pair_features_many([(a, b)], [cosine])[0]


def pair_features_many(
    pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | np.ndarray, lcs: bool = True
) -> list[list[float]]:
    """``pair_features`` of many pairs, equal value for value. Each sentence is read once
    (its tokens and n-grams are cached by text), and the longest-common-subsequence ratio
    reuses one matcher per second sentence, which is where difflib spends its set-up.
    With ``lcs=False`` that ratio is left at 0 (``lcs_ratios`` gives it for the pairs that
    need it: it is the costliest feature, and never more than ``unigram_f``)."""
    out: list[list[float]] = [[] for _ in pairs]
    ratios = lcs_ratios(pairs) if lcs else np.zeros(len(pairs))
    for n, (a, b) in enumerate(pairs):
        out[n] = _features(_profile(a), _profile(b), float(cosines[n]), float(ratios[n]))
    return out


def lcs_ratios(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """difflib's ratio of each pair's token sequences (0 when one is empty), one matcher per
    second sentence. The matched tokens are a sub-multiset of the shared tokens, so the ratio
    is at most the unigram F-measure."""
    out = np.zeros(len(pairs), dtype=np.float64)
    by_b: dict[str, list[int]] = {}
    for n, (_, b) in enumerate(pairs):
        by_b.setdefault(b, []).append(n)
    matcher = SequenceMatcher(None, autojunk=False)
    for b, rows in by_b.items():
        pb = _profile(b)
        if not pb.tokens:
            continue
        matcher.set_seq2(pb.tokens)
        for n in rows:
            pa = _profile(pairs[n][0])
            if pa.tokens:
                matcher.set_seq1(pa.tokens)
                out[n] = matcher.ratio()
    return out


def feature_matrix(pairs: list[tuple[str, str]], cosines: np.ndarray) -> np.ndarray:
    return np.array(pair_features_many(pairs, cosines), dtype=np.float64)
