"""Clustering scores: extended BCubed (Amigó et al. 2009), pairwise F1 and ARI."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any


def bcubed(pred: dict[str, str], gold: dict[str, set[str]]) -> dict[str, float]:
    """Extended BCubed precision, recall and F1 (an item may have several gold clusters).

    For items i, j sharing a predicted cluster, precision credits min(|C(i)∩C(j)|, |L(i)∩L(j)|)
    / |C(i)∩C(j)| with C the predicted and L the gold cluster sets; with one predicted cluster
    per item |C(i)∩C(j)| = 1, so the credit is 1 when they share any gold cluster.
    """
    items = [i for i in pred if i in gold]
    by_pred: dict[str, list[str]] = defaultdict(list)
    by_gold: dict[str, list[str]] = defaultdict(list)
    for i in items:
        by_pred[pred[i]].append(i)
        for g in gold[i]:
            by_gold[g].append(i)
    precision = recall = 0.0
    for i in items:
        same_pred = by_pred[pred[i]]
        precision += sum(min(1, len(gold[i] & gold[j])) for j in same_pred) / len(same_pred)
        related = {j for g in gold[i] for j in by_gold[g]}
        recall += sum(
            min(1 if pred[i] == pred[j] else 0, len(gold[i] & gold[j])) / len(gold[i] & gold[j])
            for j in related
        ) / len(related)
    n = max(1, len(items))
    p, r = precision / n, recall / n
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(1e-12, p + r)}


def pairwise(pred: dict[str, str], gold: dict[str, set[str]]) -> dict[str, float]:
    items = sorted(i for i in pred if i in gold)
    tp = fp = fn = 0
    by_pred: dict[str, list[str]] = defaultdict(list)
    for i in items:
        by_pred[pred[i]].append(i)
    pred_pairs = {
        tuple(sorted(p)) for members in by_pred.values() for p in combinations(members, 2)
    }
    by_gold: dict[str, list[str]] = defaultdict(list)
    for i in items:
        for g in gold[i]:
            by_gold[g].append(i)
    gold_pairs = {
        tuple(sorted(p)) for members in by_gold.values() for p in combinations(members, 2)
    }
    tp = len(pred_pairs & gold_pairs)
    fp = len(pred_pairs - gold_pairs)
    fn = len(gold_pairs - pred_pairs)
    p = tp / max(1, tp + fp)
    r = tp / max(1, tp + fn)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(1e-12, p + r)}


def ari(pred: dict[str, str], gold: dict[str, set[str]]) -> float:
    """Adjusted Rand index, each item taking its first (sorted) gold cluster."""
    from sklearn.metrics import adjusted_rand_score

    items = sorted(i for i in pred if i in gold)
    return float(adjusted_rand_score([sorted(gold[i])[0] for i in items], [pred[i] for i in items]))


def scores(pred: dict[str, str], gold: dict[str, set[str]]) -> dict[str, Any]:
    b = bcubed(pred, gold)
    pw = pairwise(pred, gold)
    return {
        "bcubed_precision": round(b["precision"], 4),
        "bcubed_recall": round(b["recall"], 4),
        "bcubed_f1": round(b["f1"], 4),
        "pairwise_f1": round(pw["f1"], 4),
        "ari": round(ari(pred, gold), 4),
        "items": sum(1 for i in pred if i in gold),
        "predicted_stories": len(set(pred.values())),
        "gold_stories": len({g for i in pred if i in gold for g in gold[i]}),
    }
