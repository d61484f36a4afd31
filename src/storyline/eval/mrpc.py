"""MRPC (Microsoft Research Paraphrase Corpus): the sentence "same statement?" decision.

Accuracy and F1 by stratified 10-fold cross-validation on the training file, and the
model the package ships (trained on the whole training file).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storyline.embed import get_embedder
from storyline.reuse.decision import Decision, fit
from storyline.reuse.features import feature_matrix


@dataclass
class Pairs:
    left: list[str]
    right: list[str]
    labels: np.ndarray


def read_mrpc(path: str | Path) -> Pairs:
    """The MRPC TSV (UTF-8 with BOM; Quality, #1 ID, #2 ID, #1 String, #2 String)."""
    left, right, labels = [], [], []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) != 5 or row[0] not in ("0", "1"):
                continue  # the header row, if any
            labels.append(int(row[0]))
            left.append(row[3])
            right.append(row[4])
    if not labels:
        raise ValueError(f"{path}: no MRPC rows found (expected 5 tab-separated columns)")
    return Pairs(left, right, np.array(labels))


def features(pairs: Pairs, model: str, backend: str = "torch") -> np.ndarray:
    embedder = get_embedder(model, backend=backend)
    ea = embedder.encode(pairs.left)
    eb = embedder.encode(pairs.right)
    cosines = np.sum(ea * eb, axis=1)
    return feature_matrix(list(zip(pairs.left, pairs.right, strict=True)), cosines)


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(np.sum((pred == 1) & (y == 1)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    return {
        "accuracy": float(np.mean(pred == y)),
        "f1": 2 * precision * recall / max(1e-12, precision + recall),
        "precision": precision,
        "recall": recall,
    }


def cross_validate(x: np.ndarray, y: np.ndarray, folds: int = 10, seed: int = 13) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedKFold

    pred = np.zeros_like(y)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        model = fit(x[train], y[train])
        pred[test] = (model.probability(x[test]) >= 0.5).astype(int)
    result: dict[str, Any] = _scores(y, pred)
    result["folds"] = folds
    result["pairs"] = len(y)
    result["all_positive_accuracy"] = float(np.mean(y == 1))
    return result


def evaluate(
    path: str | Path, model: str, backend: str = "torch"
) -> tuple[dict[str, Any], Decision]:
    pairs = read_mrpc(path)
    x = features(pairs, model, backend)
    result = cross_validate(x, pairs.labels)
    result["model"] = model
    trained = fit(
        x,
        pairs.labels,
        meta={
            "trained_on": "MRPC training file",
            "pairs": len(pairs.labels),
            "embedding_model": model,
            "cv": {k: result[k] for k in ("accuracy", "f1")},
        },
    )
    return result, trained
