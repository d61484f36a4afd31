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

import numpy as np
from scipy import sparse

from storyline.reuse.decision import Decision
from storyline.reuse.features import FEATURE_NAMES, _profile, lcs_ratios, pair_features_many

#: Pairs below this overlap coefficient of content-word stems are never one statement.
MIN_OVERLAP = 0.3


def stems(text: str) -> frozenset[str]:
    """The content-word stems of a sentence (cached with its other pair features)."""
    return _profile(text).stem_set


def stem_matrix(
    texts: Sequence[str], vocab: dict[str, int] | None = None
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A binary sentence × stem matrix and each sentence's number of stems. ``vocab`` maps
    stems to columns and grows with new ones (pass one dict for matrices to be multiplied)."""
    vocab = {} if vocab is None else vocab
    indptr = [0]
    indices: list[int] = []
    for t in texts:
        for s in stems(t):
            indices.append(vocab.setdefault(s, len(vocab)))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    m = sparse.csr_matrix(
        (data, np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64)),
        shape=(len(texts), max(1, len(vocab))),
    )
    return m, np.diff(m.indptr).astype(np.float32)


def overlap(
    a: sparse.csr_matrix, na: np.ndarray, b: sparse.csr_matrix, nb: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (rows of ``a``, rows of ``b``) sharing a stem: indices, overlap coefficients and
    a finer score to rank partners by (the cosine of the two stem sets).

    ``a`` and ``b`` must share columns (built with one ``vocab``; pad the narrower)."""
    width = max(a.shape[1], b.shape[1])
    if a.shape[1] < width:
        a = sparse.csr_matrix((a.data, a.indices, a.indptr), shape=(a.shape[0], width))
    if b.shape[1] < width:
        b = sparse.csr_matrix((b.data, b.indices, b.indptr), shape=(b.shape[0], width))
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
    vocab: dict[str, int] = {}
    a, na = stem_matrix(texts_a, vocab)
    b, nb = stem_matrix(texts_b, vocab)
    out = np.zeros((len(texts_a), len(texts_b)), dtype=bool)
    if len(texts_a) and len(texts_b):
        i, j, coef, rank = overlap(a, na, b, nb)
        keep = coef >= min_overlap
        i, j, rank = i[keep], j[keep], rank[keep]
        best = best_per_row(i, j, rank, top) | best_per_row(j, i, rank, top)
        out[i[best], j[best]] = True
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
    feats = np.array(
        pair_features_many(pairs, np.zeros(len(pairs)), lcs=min_cosine is None), dtype=np.float64
    ).reshape(len(pairs), len(FEATURE_NAMES))
    coef = decision.coef / decision.scale
    base = ((feats - decision.mean) / decision.scale) @ decision.coef + decision.intercept
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
