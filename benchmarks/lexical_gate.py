"""The lexical gate before the "same statement?" model: what it keeps and what it saves.

``storyline.reuse.lexical`` rules out sentence pairs whose content-word stems overlap less
than ``MIN_OVERLAP`` (shared stems over the smaller sentence's) before anything is embedded.
This prints, for several cuts:

* on the MRPC training file (where the decision model is trained): the share of the pairs
  the decision model accepts, and of the gold paraphrases, that the cut keeps;
* on DUC 2003's clusters (60 stories, 624 articles): the share of cross-article sentence
  pairs within a story that pass (the pair work left) and the share of sentences with at
  least one partner that passes (the embedding work left).

    .venv/bin/python benchmarks/lexical_gate.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
CUTS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def _coefficients(left: list[str], right: list[str]) -> np.ndarray:
    from storyline.reuse.lexical import stems

    out = []
    for a, b in zip(left, right, strict=True):
        sa, sb = stems(a), stems(b)
        out.append(len(sa & sb) / max(1, min(len(sa), len(sb))))
    return np.array(out)


def mrpc(backend: str) -> None:
    from storyline.config import EmbedSettings
    from storyline.eval.mrpc import features, read_mrpc
    from storyline.reuse.decision import load_decision

    path = SHARED / "mrpc" / "msr_paraphrase_train.txt"
    pairs = read_mrpc(path)
    accepted = load_decision().probability(features(pairs, EmbedSettings().model, backend)) >= 0.5
    coef = _coefficients(pairs.left, pairs.right)
    gold = pairs.labels == 1
    print(f"MRPC train: {len(coef)} pairs, {int(accepted.sum())} accepted, {int(gold.sum())} gold")
    print(f"{'cut':>5} {'accepted kept':>14} {'gold kept':>10} {'all kept':>9}")
    for cut in CUTS:
        keep = coef >= cut
        print(
            f"{cut:>5.2f} {keep[accepted].mean():>14.4f} {keep[gold].mean():>10.4f} "
            f"{keep.mean():>9.4f}"
        )
    for q in (0.005, 0.01, 0.02, 0.05):
        print(f"  accepted pairs' overlap, {q:.1%} quantile: {np.quantile(coef[accepted], q):.3f}")


def duc() -> None:
    from storyline.eval.datasets import read_duc
    from storyline.reuse.lexical import overlap, stem_matrix
    from storyline.text.segment import split_sentences

    docs = read_duc(SHARED / "duc2003", clusters="all")
    by_story: dict[str, list[list[str]]] = {}
    for d in docs:
        spans = split_sentences(d.text)
        sents = [d.text[a:b] for a, b in spans if len(d.text[a:b].split()) >= 5]
        by_story.setdefault(d.cluster, []).append(sents)
    pairs_total = sentences_total = 0
    kept = dict.fromkeys(CUTS, 0)
    partnered = dict.fromkeys(CUTS, 0)
    for articles in by_story.values():
        texts = [s for a in articles for s in a]
        owner = np.repeat(np.arange(len(articles)), [len(a) for a in articles])
        m, n = stem_matrix(texts)
        i, j, coef, _ = overlap(m, n, m, n)
        cross = owner[i] != owner[j]
        i, j, coef = i[cross], j[cross], coef[cross]
        sizes = np.bincount(owner)
        pairs_total += int(sizes.sum() ** 2 - (sizes**2).sum())
        sentences_total += len(texts)
        for cut in CUTS:
            keep = coef >= cut
            kept[cut] += int(keep.sum())
            partnered[cut] += len(np.unique(i[keep]))
    print(
        f"\nDUC 2003: {len(by_story)} stories, {sentences_total:,} sentences of >= 5 words, "
        f"{pairs_total:,} ordered cross-article pairs"
    )
    print(f"{'cut':>5} {'pairs kept':>11} {'sentences with a partner':>25}")
    for cut in CUTS:
        print(
            f"{cut:>5.2f} {kept[cut] / pairs_total:>11.4f} {partnered[cut] / sentences_total:>25.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="onnx", help="embedding backend for MRPC cosines")
    parser.add_argument("--skip-mrpc", action="store_true", help="DUC 2003 only")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} not found: the evaluation sets live in ../shared/eval")
    if not args.skip_mrpc:
        mrpc(args.backend)
    duc()


if __name__ == "__main__":
    main()
