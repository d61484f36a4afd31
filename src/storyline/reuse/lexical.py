"""Cheap sentence-pair candidates: the content words two sentences share.

Aligning two articles and grouping a story's facts both ask, of many sentence pairs, "the
same statement?", and the model that answers needs both sentences embedded. Most pairs
share too few words to be one statement, so they are ruled out first, from sparse sets of
content-word stems (stopwords dropped, the first five letters kept, so "troops"/"troop"
match): a pair goes on only when its **overlap coefficient** — shared stems over the
smaller sentence's — reaches ``MIN_OVERLAP``. Only the sentences of pairs that pass are
embedded.

``MIN_OVERLAP`` comes from the MRPC training file (the set the decision model is trained
on): the cut keeps 99.9 % of the pairs the decision model accepts there, while on DUC 2003's
stories it leaves 3 % of the cross-article sentence pairs (``benchmarks/lexical_gate.py``).

A pair that passes is scored in two steps. The decision model's logit is a quadratic in the
embedding cosine once the lexical features are known (``cosine``, ``cosine_sq`` and
``cosine_x_length`` are its only terms in it), so ``LexicalScores`` holds that quadratic per
pair: its bound over the cosines a candidate may have says which pairs the words alone
reject, whatever the cosine, and only the rest need their sentences embedded; the exact
probability at the cosine follows without computing features again. (The words alone
almost never *accept*: at cosine 0 the model rejects even identical sentences, so every
pair it may accept is embedded and scored exactly.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse

from storyline.ingest.clean import stopwords
from storyline.reuse.decision import Decision
from storyline.reuse.features import (
    FEATURE_NAMES,
    lcs_ratios,
    pair_feature_array,
    tokens,
)

#: Pairs below this overlap coefficient of content-word stems are never one statement.
MIN_OVERLAP = 0.3


#: Every stem seen, numbered in order of first sight (one column space for all sentences).
_STEM_IDS: dict[str, int] = {}


# A sentence's stems as a sorted array of ids: ~150 bytes, so the reuse stage keeps the stems
# of ~100,000 sentences (the articles it compares over a stretch of time) for ~15 MiB, where
# the pair profiles (``features._profile``) fit 40,000. Measured at 1,500 generated articles:
# reading stems through the pair profiles (then 8,000 of 32 KB) recomputed 136,451 of them
# (58.9 s of the stage's 162 s in ``allowed``).
@lru_cache(maxsize=100_000)
def _stem_ids(text: str) -> np.ndarray:
    stop = stopwords()
    found = {t[:5] for t in tokens(text) if t not in stop}
    return np.array(sorted(_STEM_IDS.setdefault(s, len(_STEM_IDS)) for s in found), np.int64)


def stems(text: str) -> frozenset[str]:
    """The content-word stems of a sentence (its words' first five letters, stopwords out)."""
    stop = stopwords()
    return frozenset(t[:5] for t in tokens(text) if t not in stop)


def stem_matrix(texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A binary sentence × stem matrix (columns: the stems of these sentences) and each
    sentence's number of stems. Split the rows of one matrix to compare two sets of
    sentences (their columns must agree)."""
    ids = [_stem_ids(t) for t in texts]
    sizes = np.array([len(x) for x in ids], dtype=np.int64)
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    columns, local = np.unique(flat, return_inverse=True)
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    m = sparse.csr_matrix(
        (np.ones(len(flat), dtype=np.float32), local.astype(np.int64), indptr),
        shape=(len(texts), max(1, len(columns))),
    )
    m.check_format(full_check=True)  # scipy's products trust indices: never hand them bad ones
    return m, sizes.astype(np.float32)


def overlap(
    a: sparse.csr_matrix, na: np.ndarray, b: sparse.csr_matrix, nb: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (rows of ``a``, rows of ``b``) sharing a stem: indices, overlap coefficients and
    a finer score to rank partners by (the cosine of the two stem sets).

    ``a`` and ``b`` must share columns (rows of one ``stem_matrix``)."""
    shared = (a @ b.T).tocoo()
    i, j = shared.row.astype(np.int64), shared.col.astype(np.int64)
    coef = shared.data / np.maximum(1.0, np.minimum(na[i], nb[j]))
    rank = shared.data / np.sqrt(np.maximum(1.0, na[i] * nb[j]))
    return i, j, coef.astype(np.float64), rank.astype(np.float64)


def best_per_row(rows: np.ndarray, other: np.ndarray, rank: np.ndarray, top: int) -> np.ndarray:
    """A mask of each row's ``top`` entries by ``rank`` (ties: the smaller ``other``)."""
    order = np.lexsort((other, -rank, rows))
    ranked_rows = rows[order]
    first = np.searchsorted(ranked_rows, ranked_rows)  # where each row's run starts
    mask = np.zeros(len(rows), dtype=bool)
    mask[order] = (np.arange(len(rows)) - first) < top
    return mask


def allowed(
    texts_a: Sequence[str], texts_b: Sequence[str], min_overlap: float, top: int = 3
) -> np.ndarray:
    """A boolean matrix: which sentence pairs of two articles may be one statement — those
    reaching ``min_overlap`` that are among the ``top`` partners of either sentence."""
    return allowed_many([(texts_a, texts_b)], min_overlap, top)[0]


def allowed_many(
    articles: Sequence[tuple[Sequence[str], Sequence[str]]], min_overlap: float, top: int = 3
) -> list[np.ndarray]:
    """``allowed`` of many article pairs (the sentences of A, of B) in one sparse product:
    each pair's stems are columns of their own (column = pair x stems + stem), so the
    product of all A sentences with all B sentences holds only pairs of one article pair."""
    a_sizes = np.array([len(a) for a, _ in articles], dtype=np.int64)
    b_sizes = np.array([len(b) for _, b in articles], dtype=np.int64)
    texts = [t for a, b in articles for t in (*a, *b)]
    matrix, sizes = stem_matrix(texts)
    width = matrix.shape[1]
    pair_of_row = np.repeat(np.arange(len(articles), dtype=np.int64), a_sizes + b_sizes)
    is_a = np.concatenate(
        [np.repeat([True, False], [na, nb]) for na, nb in zip(a_sizes, b_sizes, strict=True)]
        or [np.zeros(0, dtype=bool)]
    )
    tagged = sparse.csr_matrix(
        (matrix.data, pair_of_row[np.repeat(np.arange(len(texts)), np.diff(matrix.indptr))]
         * width + matrix.indices, matrix.indptr),
        shape=(len(texts), max(1, len(articles) * width)),
    )  # fmt: skip
    tagged.check_format(full_check=True)
    out = [np.zeros((na, nb), dtype=bool) for na, nb in zip(a_sizes, b_sizes, strict=True)]
    if not is_a.any() or is_a.all():
        return out
    a, b = tagged[np.flatnonzero(is_a)], tagged[np.flatnonzero(~is_a)]
    i, j, coef, rank = overlap(a, sizes[is_a], b, sizes[~is_a])
    keep = coef >= min_overlap
    i, j, rank = i[keep], j[keep], rank[keep]
    best = best_per_row(i, j, rank, top) | best_per_row(j, i, rank, top)
    i, j = i[best], j[best]
    a_start = np.concatenate([[0], np.cumsum(a_sizes)[:-1]])
    b_start = np.concatenate([[0], np.cumsum(b_sizes)[:-1]])
    pair = pair_of_row[np.flatnonzero(is_a)][i]
    order = np.argsort(pair, kind="stable")
    pair, i, j = pair[order], i[order], j[order]
    bounds = np.searchsorted(pair, np.arange(len(articles) + 1))
    for p in range(len(articles)):
        lo, hi = bounds[p], bounds[p + 1]
        if hi > lo:
            out[p][i[lo:hi] - a_start[p], j[lo:hi] - b_start[p]] = True
    return out


_COS = FEATURE_NAMES.index("cosine")
_COS_SQ = FEATURE_NAMES.index("cosine_sq")
_COS_LEN = FEATURE_NAMES.index("cosine_x_length")
_LEN = FEATURE_NAMES.index("length_ratio")
_LCS = FEATURE_NAMES.index("lcs_ratio")
_UNIGRAM = FEATURE_NAMES.index("unigram_f")


@dataclass
class LexicalScores:
    """Per pair, the decision model's logit as ``base + lin * c + quad * c**2`` in the cosine c."""

    base: np.ndarray
    lin: np.ndarray
    quad: float
    threshold: float  # the decision threshold, as a logit

    def take(self, rows: np.ndarray) -> LexicalScores:
        """The scores of some pairs (a mask or indices)."""
        return LexicalScores(self.base[rows], self.lin[rows], self.quad, self.threshold)

    def logit(self, cosine: np.ndarray) -> np.ndarray:
        c = np.asarray(cosine, dtype=np.float64)
        return self.base + self.lin * c + self.quad * c * c

    def probability(self, cosine: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(cosine)))

    def bounds(self, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """The smallest and largest logit of each pair over cosines in [lo, hi]."""
        ends = [self.logit(np.full(len(self.base), lo)), self.logit(np.full(len(self.base), hi))]
        if self.quad != 0.0:
            vertex = np.clip(-self.lin / (2.0 * self.quad), lo, hi)
            ends.append(self.logit(vertex))
        stacked = np.stack(ends)
        return stacked.min(axis=0), stacked.max(axis=0)

    def rejected(self, min_cosine: float) -> np.ndarray:
        """Pairs the model rejects at every cosine from ``min_cosine`` to 1."""
        return self.bounds(min_cosine, 1.0)[1] < self.threshold


def lexical_scores(
    pairs: Sequence[tuple[str, str]], decision: Decision, min_cosine: float | None = None
) -> LexicalScores:
    """The decision model's logit of each sentence pair as a function of the cosine alone.

    With ``min_cosine``, the costliest feature (the longest-common-subsequence ratio) is
    computed only for pairs that some ratio in its range (0 to the unigram F-measure) and
    some cosine from ``min_cosine`` up would let the model accept: the others are rejected
    whatever it is, and carry that bound instead of their exact logit (``rejected`` is true
    for them, as it is for exact scores; callers drop them)."""
    feats = pair_feature_array(pairs, np.zeros(len(pairs)), lcs=min_cosine is None).reshape(
        len(pairs), len(FEATURE_NAMES)
    )  # the array itself: as lists and back it was 7 % of a digest's time
    coef = decision.coef / decision.scale
    # Summed feature by feature, not as a matrix product (whose rounding depends on how many
    # rows it is given): a pair's logit is the same whatever batch it is scored in.
    z = (feats - decision.mean) / decision.scale
    base = np.full(len(pairs), decision.intercept, dtype=np.float64)
    for k in range(z.shape[1]):
        base += z[:, k] * decision.coef[k]
    lin = coef[_COS] + coef[_COS_LEN] * feats[:, _LEN]
    t = decision.threshold
    threshold = float(np.log(t / (1.0 - t)))
    quad = float(coef[_COS_SQ])
    if min_cosine is not None and len(pairs):
        upper = np.maximum(0.0, coef[_LCS] * (feats[:, _UNIGRAM] + 1e-9))
        bound = LexicalScores(base + upper, lin, quad, threshold)
        open_ = np.flatnonzero(~bound.rejected(min_cosine))
        exact = lcs_ratios([pairs[int(n)] for n in open_])
        base, without = bound.base.copy(), base
        base[open_] = without[open_] + coef[_LCS] * exact
    return LexicalScores(base, lin, quad, threshold)
