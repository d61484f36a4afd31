"""Kinds of reuse and who copied whom, from documented rules over measured quantities.

Measured for each aligned article pair (A, B):

* ``coverage`` — the share of each article's sentences aligned to the other;
* ``verbatim`` — the share of aligned pairs that are the same words (or nearly);
* ``order`` — the share of aligned pairs in one increasing order in both articles;
* ``run`` — the longest block of consecutive sentences aligned, verbatim or close, to
  consecutive sentences, in sentences and words (quotations left out);
* ``quotes`` — aligned pairs whose words are mostly inside quotation marks;
* ``close`` — aligned pairs that keep the sentence's shape (same length, same word order
  with words swapped): the mark of a rewrite, which independent reporting rarely has.

Kinds, first match wins (thresholds in ``ReuseSettings``):

* ``duplicate``: the same normalised text.
* ``near_duplicate``: the copy's coverage ≥ ``near_coverage`` and verbatim ≥ ``near_verbatim``
  (syndicated copy under other boilerplate, small edits), or MinHash Jaccard ≥ ``near_jaccard``.
* ``rewrite``: the copy's coverage ≥ ``rewrite_coverage``, ≥ ``rewrite_min_pairs`` aligned pairs
  outside quotes, order ≥ ``rewrite_order`` and close ≥ ``rewrite_close`` (spun copy).
* ``partial``: a run of ≥ ``partial_sentences`` sentences and ≥ ``partial_words`` words.
* ``shared_quotes``: the only thing in common is quoted words.
* otherwise no link: independent reports of one event share facts, not text.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from storyline.config import ReuseSettings
from storyline.records import Credit
from storyline.reuse.align import AlignedPair
from storyline.reuse.features import tokens


@dataclass
class ArticleView:
    """What the reuse rules need to know of one article."""

    id: str
    source: str | None
    published: str | None
    sentences: list[str]
    credits: list[Credit] = field(default_factory=list)


@dataclass
class PairStats:
    coverage_a: float
    coverage_b: float
    aligned: int
    verbatim: float
    order: float
    run_sentences: int
    run_words: int
    quote_pairs: int
    close: float
    jaccard: float
    exact: bool

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _lis(values: list[int]) -> int:
    tails: list[int] = []
    for v in values:
        i = bisect.bisect_left(tails, v)
        if i == len(tails):
            tails.append(v)
        else:
            tails[i] = v
    return len(tails)


def _close(a: str, b: str) -> bool:
    """Same shape: similar length and most words (by 5-letter stem) in the same order."""
    from storyline.text.seqmatch import SequenceMatcher

    ta, tb = [t[:5] for t in tokens(a)], [t[:5] for t in tokens(b)]
    if not ta or not tb or min(len(ta), len(tb)) / max(len(ta), len(tb)) < 0.7:
        return False
    return SequenceMatcher(None, ta, tb, autojunk=False).ratio() >= 0.5


def measure(
    a: ArticleView,
    b: ArticleView,
    pairs: list[AlignedPair],
    jaccard: float,
    exact: bool,
    quote_min: float,
) -> PairStats:
    n_a, n_b = max(1, len(a.sentences)), max(1, len(b.sentences))
    plain = [p for p in pairs if p.quote_share < quote_min]
    close = [p for p in plain if p.verbatim or _close(a.sentences[p.a], b.sentences[p.b])]
    run = best_run = best_words = words = 0
    prev: AlignedPair | None = None
    for p in sorted(close, key=lambda p: p.a):
        if prev is not None and p.a == prev.a + 1 and p.b == prev.b + 1:
            run += 1
            words += len(a.sentences[p.a].split())
        else:
            run, words = 1, len(a.sentences[p.a].split())
        if (run, words) > (best_run, best_words):
            best_run, best_words = run, words
        prev = p
    return PairStats(
        coverage_a=len(pairs) / n_a,
        coverage_b=len(pairs) / n_b,
        aligned=len(pairs),
        verbatim=sum(p.verbatim for p in pairs) / max(1, len(pairs)),
        order=_lis([p.b for p in sorted(pairs, key=lambda p: p.a)]) / max(1, len(pairs)),
        run_sentences=best_run,
        run_words=best_words,
        quote_pairs=len(pairs) - len(plain),
        close=len(close) / max(1, len(plain)),
        jaccard=jaccard,
        exact=exact,
    )


def classify(stats: PairStats, s: ReuseSettings) -> str | None:
    """The kind of reuse between two articles, or None for no copy link (see module doc)."""
    copy_coverage = max(stats.coverage_a, stats.coverage_b)
    plain = stats.aligned - stats.quote_pairs
    if stats.exact:
        return "duplicate"
    if stats.jaccard >= s.near_jaccard or (
        copy_coverage >= s.near_coverage and stats.verbatim >= s.near_verbatim
    ):
        return "near_duplicate"
    if (
        copy_coverage >= s.rewrite_coverage
        and plain >= s.rewrite_min_pairs
        and stats.order >= s.rewrite_order
        and stats.close >= s.rewrite_close
    ):
        return "rewrite"
    if stats.run_sentences >= s.partial_sentences and stats.run_words >= s.partial_words:
        return "partial"
    if stats.quote_pairs > 0:
        return "shared_quotes"
    return None


def explain(stats: PairStats, s: ReuseSettings) -> list[str]:
    """For each kind, the measured quantity that fell short of its threshold (why no link)."""
    copy_coverage = max(stats.coverage_a, stats.coverage_b)
    plain = stats.aligned - stats.quote_pairs
    out = []
    if not stats.exact:
        out.append("duplicate: the normalised texts differ")
    if stats.jaccard < s.near_jaccard and not (
        copy_coverage >= s.near_coverage and stats.verbatim >= s.near_verbatim
    ):
        out.append(
            f"near_duplicate: MinHash Jaccard {stats.jaccard:.2f} < {s.near_jaccard}, and coverage "
            f"{copy_coverage:.2f} (needs {s.near_coverage}) with verbatim share {stats.verbatim:.2f} (needs {s.near_verbatim})"
        )
    short = []
    if copy_coverage < s.rewrite_coverage:
        short.append(f"coverage {copy_coverage:.2f} < {s.rewrite_coverage}")
    if plain < s.rewrite_min_pairs:
        short.append(f"{plain} aligned pairs outside quotes < {s.rewrite_min_pairs}")
    if stats.order < s.rewrite_order:
        short.append(f"shared order {stats.order:.2f} < {s.rewrite_order}")
    if stats.close < s.rewrite_close:
        short.append(f"close-shape share {stats.close:.2f} < {s.rewrite_close}")
    if short:
        out.append("rewrite: " + ", ".join(short))
    if stats.run_sentences < s.partial_sentences or stats.run_words < s.partial_words:
        out.append(
            f"partial: longest copied block {stats.run_sentences} sentences / {stats.run_words} words "
            f"(needs {s.partial_sentences} / {s.partial_words})"
        )
    if stats.quote_pairs == 0:
        out.append("shared_quotes: no quotation in common")
    return out


# -- direction --------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]+")


def _norm_outlet(name: str | None) -> str:
    words = _WORD.findall((name or "").lower())
    return " ".join(w for w in words if w not in ("the", "news", "com", "www", "online"))


def _credits_other(view: ArticleView, other: ArticleView) -> list[Credit]:
    """Credits in ``view`` that name ``other``'s outlet, or any outlet when ``other``'s is unknown."""
    own = _norm_outlet(view.source)
    theirs = _norm_outlet(other.source)
    found = []
    for c in view.credits:
        name = _norm_outlet(c.outlet)
        if not name or (own and (name == own or name in own or own in name)):
            continue  # an outlet naming itself (a dateline of its own) is no credit
        if c.kind == "dateline" and not theirs:
            continue  # a dateline tag names the publisher more often than a source
        if not theirs or name == theirs or name in theirs or theirs in name:
            found.append(c)
    return found


@dataclass
class Direction:
    source: str
    copy: str
    known: bool
    confidence: float
    reasons: list[str]


def direction(
    a: ArticleView,
    b: ArticleView,
    stats: PairStats,
    substitution_rarity: float,
    s: ReuseSettings,
) -> Direction:
    """Which article is the source, with a confidence and the reasons.

    Evidence: an explicit credit in one article to the other's outlet (or to any outlet,
    when the other's is unknown); the earlier publication time; containment asymmetry
    (the copy is more fully contained in the source); the substitution pattern
    (``substitution_rarity`` > 0 when B's swapped-in words are rarer than A's originals:
    a spinner swaps common words for rarer ones). When the weighed evidence is below
    ``direction_min``, the direction is unknown and the earlier article is called source.
    """
    evidence: list[tuple[float, str]] = []  # (weight for "A is the source", reason)
    credit_b, credit_a = _credits_other(b, a), _credits_other(a, b)
    if credit_b and not credit_a:
        evidence.append(
            (0.6, f"the copy credits {credit_b[0].outlet}: “{credit_b[0].words.strip()}”")
        )
    elif credit_a and not credit_b:
        evidence.append(
            (-0.6, f"the copy credits {credit_a[0].outlet}: “{credit_a[0].words.strip()}”")
        )
    if a.published and b.published and a.published[:16] != b.published[:16]:
        evidence.append(
            (0.35 if a.published < b.published else -0.35, "the source was published earlier")
        )
    if stats.aligned >= 3 and abs(stats.coverage_a - stats.coverage_b) >= 0.15:
        evidence.append(
            (0.2 if stats.coverage_b > stats.coverage_a else -0.2,
             "the copy is more fully contained in the source than the source in it")
        )  # fmt: skip
    if abs(substitution_rarity) >= s.rarity_margin:
        evidence.append(
            (0.25 if substitution_rarity > 0 else -0.25,
             "the copy swaps common words for rarer ones (a spinner's pattern)")
        )  # fmt: skip
    score = sum(w for w, _ in evidence)
    if abs(score) < s.direction_min:
        first, second = sorted((a, b), key=lambda v: (v.published is None, v.published or "", v.id))
        reasons = [r for _, r in evidence] or ["no evidence of direction"]
        return Direction(
            first.id, second.id, False, round(abs(score), 3), ["undecided: " + "; ".join(reasons)]
        )
    sign = 1.0 if score > 0 else -1.0
    reasons = [r for w, r in evidence if w * sign > 0]
    reasons += [f"against: {r}" for w, r in evidence if w * sign < 0]
    src, cpy = (a, b) if sign > 0 else (b, a)
    return Direction(src.id, cpy.id, True, round(min(1.0, abs(score)), 3), reasons)
