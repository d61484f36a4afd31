"""Features of a sentence pair for the "same statement?" decision.

Lexical evidence in the spirit of machine-translation metrics (n-gram precision as in BLEU,
longest common subsequence, character n-grams, content-word overlap), agreement of the
numbers, length, and the cosine of the two sentence embeddings. A small logistic model
trained on the MRPC training pairs weighs them (``storyline.reuse.decision``).

Every feature but the cosine and the longest common subsequence is an overlap of two
multisets. Each sentence's items are hashed once into sorted 64-bit keys (cached by text), and
the overlaps of a whole batch of pairs come from one merge of their keys, so the reuse stage
and the digest pay numpy's cost per batch, not Python's per pair (``pair_feature_array``).
Measured at 3,000 generated articles: reuse 212 s -> 130 s and digest 158 s -> 102 s with
the stem cache and the windowed term lookup of the same change (``benchmarks/pipeline_volume.py``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache

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


# The overlaps a pair's features need, one column each: of token 1- to 4-grams, content words
# (as a set, and their repeats), 5-letter stems, character trigrams, numbers and capitalised
# words. Multisets are sets of (item, k) for k up to the item's count, so the size of the
# multisets' intersection (the sum of the smaller counts) is that of two sets.
_G1, _G2, _G3, _G4, _CONTENT, _CONTENT_REPEATS, _STEMS, _CHAR3, _NUMBERS, _CAPS = range(10)
_FAMILIES = 10


class _Profile:
    """What ``pair_features`` needs of one sentence, computed once per text: the sorted keys
    of its items (a 64-bit hash of family, count and item) with each key's family, and the
    sizes the features divide by."""

    __slots__ = ("families", "keys", "negated", "sizes")

    def __init__(self, text: str, stop: frozenset[str]) -> None:
        ta = tokens(text)
        norm = " ".join(text.lower().split())
        items = [
            list(map(hash, ta)),
            *(list(map(hash, zip(*(ta[k:] for k in range(n)), strict=False))) for n in (2, 3, 4)),
            [hash(t) for t in ta if t not in stop],
            [hash(t[:5]) for t in ta],
            list(map(hash, zip(norm, norm[1:], norm[2:], strict=False))),
            list(map(hash, set(_NUMBER.findall(text)))),
            list(map(hash, {w for w in text.split() if w[:1].isupper()})),
        ]  # in the order _G1, _G2, _G3, _G4, _CONTENT, _STEMS, _CHAR3, _NUMBERS, _CAPS
        self.keys, self.families, self.sizes = _keys(items)
        self.negated = "not" in ta or "n't" in text


_ITEM_FAMILIES = np.array([_G1, _G2, _G3, _G4, _CONTENT, _STEMS, _CHAR3, _NUMBERS, _CAPS])
_FAMILY_SALT = np.uint64(0x9E3779B97F4A7C15)
_COUNT_SALT = np.uint64(0xC2B2AE3D27D4EB4F)


def _keys(items: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted keys of a sentence's multisets (``items``: the hashes of each family's items,
    in ``_ITEM_FAMILIES`` order), each key's family, and per family its number of items (a
    multiset's size: _G1 is the number of tokens; content words, repeats counted, are
    _CONTENT + _CONTENT_REPEATS). One key per (family, item, k) for k below the item's count,
    mixed by splitmix64's finaliser and kept to 62 bits, so that keys are column numbers of a
    sparse matrix (``_overlaps``); content words' keys with k >= 1 are the family
    _CONTENT_REPEATS. Two items of one sentence that share a key count once in overlaps, as
    two that share a hash always did."""
    h = np.fromiter(itertools.chain.from_iterable(items), dtype=np.int64).view(np.uint64)
    family = np.repeat(_ITEM_FAMILIES, [len(x) for x in items])
    order = np.lexsort((h, family))
    h, family = h[order], family[order]
    at = np.arange(len(h))
    new = np.ones(len(h), dtype=bool)
    new[1:] = (h[1:] != h[:-1]) | (family[1:] != family[:-1])
    k = (at - np.maximum.accumulate(np.where(new, at, 0))).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = h + family.astype(np.uint64) * _FAMILY_SALT + k * _COUNT_SALT
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    family[(family == _CONTENT) & (k > 0)] = _CONTENT_REPEATS
    sizes = np.bincount(family, minlength=_FAMILIES)
    keys, first = np.unique((x >> np.uint64(2)).view(np.int64), return_index=True)
    return keys, family[first].astype(np.int8), sizes


#: The sparse matrices' width: every key is below it (62 bits).
_KEY_SPACE = 1 << 62


# About 2.5 KB a sentence (as Python sets of n-gram tuples it was 32 KB, and 8,000 were kept).
@lru_cache(maxsize=40_000)
def _profile(text: str) -> _Profile:
    return _Profile(text, stopwords())


@lru_cache(maxsize=8_000)
def _tokens(text: str) -> list[str]:
    return tokens(text)


def _overlaps(profiles: list[_Profile], ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """Per pair (``profiles[ia[k]]``, ``profiles[ib[k]]``) and family, the number of keys both
    sentences hold (pairs × families).

    Each sentence is a row of a sparse matrix whose columns are its keys (sorted and distinct:
    scipy's canonical form), its values the keys' families (plus one); the element-wise
    product of the rows ``ia`` with the rows ``ib`` of a matrix of ones (scipy merges two sorted
    index lists per row, in C++) holds each pair's shared keys, valued by family. A third of
    the time of numbering the keys and merging them in numpy (``benchmarks/features_speed.py``)."""
    from scipy import sparse

    indptr = np.zeros(len(profiles) + 1, dtype=np.int64)
    np.cumsum([len(p.keys) for p in profiles], out=indptr[1:])
    keys = np.concatenate([p.keys for p in profiles])
    families = np.concatenate([p.families for p in profiles]).astype(np.int8) + np.int8(1)
    shape = (len(profiles), _KEY_SPACE)
    valued = sparse.csr_matrix((families, keys, indptr), shape=shape)
    ones = sparse.csr_matrix((np.ones(len(keys), dtype=np.int8), keys, indptr), shape=shape)
    for m in (valued, ones):
        m.check_format(full_check=True)  # scipy's products trust indices: never hand them bad ones
        m.has_canonical_format = True  # each row's keys are sorted and distinct (``_keys``)
    both = valued[ia].multiply(ones[ib]).tocsr()
    pair = np.repeat(np.arange(len(ia), dtype=np.int64), np.diff(both.indptr))
    counts = np.bincount(
        pair * _FAMILIES + both.data.astype(np.int64) - 1, minlength=len(ia) * _FAMILIES
    )
    return counts.reshape(len(ia), _FAMILIES)


def _f(shared: np.ndarray, na: np.ndarray, nb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F-measure and the smaller precision of multiset overlaps ``shared`` of sizes ``na`` and
    ``nb`` (both 0 where either multiset is empty), as ``2 * pa * pb / (pa + pb)``."""
    ok = (na > 0) & (nb > 0)
    da, db = np.where(ok, na, 1).astype(np.float64), np.where(ok, nb, 1).astype(np.float64)
    pa, pb = shared / da, shared / db
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(shared > 0, 2 * pa * pb / (pa + pb), 0.0)
    return np.where(ok, f, 0.0), np.where(ok, np.minimum(pa, pb), 0.0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / max(1, den)`` of integer counts."""
    return num / np.maximum(1, den).astype(np.float64)


def _log1p(values: np.ndarray) -> np.ndarray:
    """``float(np.log1p(v))`` of each small integer, computed once per distinct value."""
    distinct, at = np.unique(values, return_inverse=True)
    return np.array([float(np.log1p(v)) for v in distinct.tolist()], dtype=np.float64)[at]


def pair_feature_array(
    pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | np.ndarray, lcs: bool = True
) -> np.ndarray:
    """The feature vectors of many sentence pairs (pairs × FEATURE_NAMES), for all pairs at
    once: each sentence's items are hashed once (cached by text) and the overlaps of every
    pair come from one sorted search. Equal value for value to computing each pair with
    Python sets (tested against such a reference), short of two different items of one
    sentence pair sharing a 64-bit hash. With ``lcs=False`` the longest-common-subsequence
    ratio is left at 0 (``lcs_ratios`` gives it for the pairs that need it: it is the
    costliest feature, and never more than ``unigram_f``)."""
    out = np.zeros((len(pairs), len(FEATURE_NAMES)), dtype=np.float64)
    for start in range(0, len(pairs), _CHUNK):
        part = pairs[start : start + _CHUNK]
        out[start : start + len(part)] = _feature_rows(part, cosines[start : start + len(part)])
    if lcs and len(pairs):
        out[:, FEATURE_NAMES.index("lcs_ratio")] = lcs_ratios(pairs)
    return out


#: Pairs whose features are computed together (their keys: ~200 per sentence, 8 bytes each).
_CHUNK = 20_000


def _feature_rows(
    pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | np.ndarray
) -> np.ndarray:
    index: dict[str, int] = {}
    ia = np.array([index.setdefault(a, len(index)) for a, _ in pairs], dtype=np.int64)
    ib = np.array([index.setdefault(b, len(index)) for _, b in pairs], dtype=np.int64)
    profiles = [_profile(t) for t in index]
    shared = _overlaps(profiles, ia, ib)
    sizes = np.array([p.sizes for p in profiles], dtype=np.int64).reshape(-1, _FAMILIES)
    sa, sb = sizes[ia], sizes[ib]
    negated = np.array([p.negated for p in profiles], dtype=bool)
    cos = np.asarray(cosines, dtype=np.float64)
    la, lb = sa[:, _G1], sb[:, _G1]
    f1, p1 = _f(shared[:, _G1], la, lb)
    f2, _ = _f(shared[:, _G2], sa[:, _G2], sb[:, _G2])
    f3, _ = _f(shared[:, _G3], sa[:, _G3], sb[:, _G3])
    f4, _ = _f(shared[:, _G4], sa[:, _G4], sb[:, _G4])
    content_f, _ = _f(
        shared[:, _CONTENT] + shared[:, _CONTENT_REPEATS],
        sa[:, _CONTENT] + sa[:, _CONTENT_REPEATS],
        sb[:, _CONTENT] + sb[:, _CONTENT_REPEATS],
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        length_ratio = np.where(
            (la > 0) & (lb > 0), np.minimum(la, lb) / np.maximum(la, lb).astype(np.float64), 0.0
        )
        both3 = (sa[:, _CHAR3] > 0) & (sb[:, _CHAR3] > 0)
        char3 = np.where(
            both3, 2 * shared[:, _CHAR3] / (sa[:, _CHAR3] + sb[:, _CHAR3]).astype(np.float64), 0.0
        )
    na, nb, n_shared = sa[:, _NUMBERS], sb[:, _NUMBERS], shared[:, _NUMBERS]
    disagree = np.where(
        (na > 0) | (nb > 0), _ratio(na + nb - 2 * n_shared, na + nb - n_shared), 0.0
    )
    agree = ((na > 0) & (n_shared == na) & (n_shared == nb)).astype(np.float64)
    # Crude stemming by 5-letter prefixes catches inflection ("troops"/"troop", "said"/"says").
    fs, ps = _f(shared[:, _STEMS], la, lb)
    ca, cb, c_shared = sa[:, _CONTENT], sb[:, _CONTENT], shared[:, _CONTENT]
    una, unb = _ratio(ca - c_shared, ca), _ratio(cb - c_shared, cb)
    negation = (negated[ia] != negated[ib]).astype(np.float64)
    caps_a, caps_b, caps_shared = sa[:, _CAPS], sb[:, _CAPS], shared[:, _CAPS]
    capitalised = _ratio(caps_shared, caps_a + caps_b - caps_shared)
    columns = [
        cos, cos * cos, f1, f2, f3, f4, content_f, char3,
        np.zeros(len(pairs)), length_ratio, disagree, agree,
        cos * length_ratio, p1, fs, ps, np.maximum(una, unb), np.minimum(una, unb), negation,
        _log1p(np.abs(la - lb)), capitalised,
    ]  # fmt: skip
    return np.stack(columns, axis=1)


def pair_features(a: str, b: str, cosine: float) -> list[float]:
    """The feature vector of one sentence pair (order of FEATURE_NAMES)."""
    return pair_features_many([(a, b)], [cosine])[0]


def pair_features_many(
    pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | np.ndarray, lcs: bool = True
) -> list[list[float]]:
    """``pair_feature_array`` as lists of floats."""
    return pair_feature_array(pairs, cosines, lcs).tolist()


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
        tb = _tokens(b)
        if not tb:
            continue
        matcher.set_seq2(tb)
        for n in rows:
            ta = _tokens(pairs[n][0])
            if ta:
                matcher.set_seq1(ta)
                out[n] = matcher.ratio()
    return out


def feature_matrix(pairs: list[tuple[str, str]], cosines: np.ndarray) -> np.ndarray:
    return pair_feature_array(pairs, cosines)
