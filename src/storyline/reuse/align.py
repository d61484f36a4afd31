"""Sentence alignment between two articles, with the words swapped in each aligned pair.

Candidate sentence pairs are those sharing enough content words whose lexical evidence
leaves "same statement" possible (``storyline.reuse.lexical``); only their sentences are
embedded, and the MRPC-trained decision model scores them with the cosine; a greedy
one-to-one matching keeps the pairs it calls "same statement".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storyline.reuse.decision import Decision
from storyline.reuse.features import tokens
from storyline.reuse.fingerprint import normalize
from storyline.reuse.lexical import MIN_OVERLAP, LexicalScores, allowed_many, lexical_scores
from storyline.text.seqmatch import SequenceMatcher

_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{3,})[\"“”«»]")
_WORDS = re.compile(r"\S+")


@dataclass
class AlignedPair:
    a: int  # sentence index in article A
    b: int  # sentence index in article B
    score: float  # probability of "same statement"
    cosine: float
    verbatim: bool
    quote_share: float  # share of the words inside quotation marks (the smaller of the two)
    substitutions: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self, text_a: str = "", text_b: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {
            "a": self.a, "b": self.b, "score": round(self.score, 4), "cosine": round(self.cosine, 4),
            "verbatim": self.verbatim, "quote_share": round(self.quote_share, 3),
            "substitutions": [{"old": o, "new": n} for o, n in self.substitutions],
        }  # fmt: skip
        if text_a or text_b:
            out["text_a"], out["text_b"] = text_a, text_b
        return out


def quote_share(text: str) -> float:
    words = len(_WORDS.findall(text))
    if not words:
        return 0.0
    inside = sum(len(_WORDS.findall(m.group(1))) for m in _QUOTED.finditer(text))
    return min(1.0, inside / words)


def _clean(word: str) -> str:
    return word.lower().strip(".,;:!?\"“”'’()")


def substitutions(a: str, b: str, max_words: int = 3) -> list[tuple[str, str]]:
    """Words of ``a`` replaced by other words in ``b`` (old → new).

    Two passes: a token diff (order kept), and anchors, which find a swap wherever the
    same word stands before it and the same word after it in both sentences, so a swap
    inside a clause that moved ("Russia has amassed more than" → "Russia has stockpiled
    more than", later in the sentence) is still found. Spans are at most ``max_words``.
    """
    ta, tb = _WORDS.findall(a), _WORDS.findall(b)
    la, lb = [_clean(t) for t in ta], [_clean(t) for t in tb]
    found: dict[tuple[str, str], tuple[int, int]] = {}

    def add(i1: int, i2: int, j1: int, j2: int) -> None:
        if not (0 < i2 - i1 <= max_words and 0 < j2 - j1 <= max_words):
            return
        old, new = " ".join(ta[i1:i2]).strip(".,;:"), " ".join(tb[j1:j2]).strip(".,;:")
        if old.lower() != new.lower() and set(la[i1:i2]).isdisjoint(lb[j1:j2]):
            found.setdefault((old, new), (i1, j1))

    for op, i1, i2, j1, j2 in SequenceMatcher(None, la, lb, autojunk=False).get_opcodes():
        if op == "replace":
            add(i1, i2, j1, j2)
    positions_b: dict[str, list[int]] = {}
    for j, w in enumerate(lb):
        positions_b.setdefault(w, []).append(j)
    for i in range(len(la) - 1):
        for j in positions_b.get(la[i], []):
            # Left anchor at (i, j); look for the nearest right anchor within reach.
            if i + 1 < len(la) and j + 1 < len(lb) and la[i + 1] == lb[j + 1]:
                continue
            best = None
            for k in range(1, max_words + 1):
                for m in range(1, max_words + 1):
                    if (
                        i + 1 + k < len(la)
                        and j + 1 + m < len(lb)
                        and la[i + 1 + k] == lb[j + 1 + m]
                        and (best is None or k + m < best[0] + best[1])
                    ):
                        best = (k, m)
            if best:
                add(i + 1, i + 1 + best[0], j + 1, j + 1 + best[1])
    return [pair for pair, _ in sorted(found.items(), key=lambda kv: kv[1])]


@dataclass
class AlignPlan:
    """The sentence pairs of two articles left after the words have had their say: pairs
    that share enough content words (``storyline.reuse.lexical``) and that the decision model
    would not reject at any cosine. Only their sentences need embedding; a pair of identical
    texts has cosine 1 without it."""

    texts_a: list[str]
    texts_b: list[str]
    i: np.ndarray
    j: np.ndarray
    scores: LexicalScores
    same: np.ndarray
    min_cosine: float

    @property
    def need_a(self) -> list[int]:
        return sorted(set(self.i[~self.same].tolist()))

    @property
    def need_b(self) -> list[int]:
        return sorted(set(self.j[~self.same].tolist()))


def plan_alignment(
    texts_a: list[str],
    texts_b: list[str],
    decision: Decision,
    min_cosine: float = 0.4,
    min_overlap: float = MIN_OVERLAP,
) -> AlignPlan:
    return plan_alignments([(texts_a, texts_b)], decision, min_cosine, min_overlap)[0]


def plan_alignments(
    articles: Sequence[tuple[list[str], list[str]]],
    decision: Decision,
    min_cosine: float = 0.4,
    min_overlap: float = MIN_OVERLAP,
) -> list[AlignPlan]:
    """``plan_alignment`` of many article pairs (the sentences of A, of B), the words of all
    their sentence pairs scored at once (the features cost less per pair in one batch)."""
    gates = [np.nonzero(gate) for gate in allowed_many(articles, min_overlap)]
    flat = [
        (a[x], b[y])
        for (a, b), (i, j) in zip(articles, gates, strict=True)
        for x, y in zip(i.tolist(), j.tolist(), strict=True)
    ]
    every = lexical_scores(flat, decision, min_cosine)
    kept = ~every.rejected(min_cosine)
    plans = []
    start = 0
    for (a, b), (i, j) in zip(articles, gates, strict=True):
        rows = np.arange(start, start + len(i))
        start += len(i)
        keep = kept[rows]
        ii, jj = i[keep].astype(np.int64), j[keep].astype(np.int64)
        same = np.array([a[x] == b[y] for x, y in zip(ii, jj, strict=True)], dtype=bool)
        plans.append(AlignPlan(a, b, ii, jj, every.take(rows[keep]), same, min_cosine))
    return plans


def align(
    plan: AlignPlan, vectors_a: Mapping[int, np.ndarray], vectors_b: Mapping[int, np.ndarray]
) -> list[AlignedPair]:
    """One-to-one aligned sentence pairs between two articles, in order of A's sentences:
    the planned pairs whose cosine reaches the plan's minimum, greedily by the decision
    model's probability. ``vectors_a``/``vectors_b`` hold (at least) the rows the plan needs."""
    if not len(plan.i):
        return []
    cosines = np.array(
        [1.0 if same else float(vectors_a[int(x)] @ vectors_b[int(y)])
         for x, y, same in zip(plan.i, plan.j, plan.same, strict=True)]
    )  # fmt: skip
    probs = plan.scores.probability(cosines)
    probs[cosines < plan.min_cosine] = -1.0
    texts_a, texts_b = plan.texts_a, plan.texts_b
    threshold = 1.0 / (1.0 + np.exp(-plan.scores.threshold))
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for idx in np.argsort(-probs, kind="stable"):
        i, j = int(plan.i[idx]), int(plan.j[idx])
        p = float(probs[idx])
        if p < threshold:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        ta, tb = texts_a[i], texts_b[j]
        verbatim = normalize(ta) == normalize(tb) or (
            SequenceMatcher(None, tokens(ta), tokens(tb), autojunk=False).ratio() >= 0.92
        )
        pairs.append(
            AlignedPair(i, j, p, float(cosines[idx]), verbatim,
                        min(quote_share(ta), quote_share(tb)),
                        [] if normalize(ta) == normalize(tb) else substitutions(ta, tb))
        )  # fmt: skip
    pairs.sort(key=lambda p: (p.a, p.b))
    return pairs
