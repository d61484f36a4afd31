"""A small logistic model over named features: the "same statement?" decision (reuse) and
the "same story?" decision (stories) are both ``Decision`` objects.

The shipped weights (``mrpc_model.json``) were trained on the MRPC training file only,
with ``storyline eval reuse mrpc PATH --write-model``; nothing else was tuned on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from storyline.reuse.features import FEATURE_NAMES


@dataclass(frozen=True)
class Decision:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5
    meta: dict[str, Any] | None = None

    def probability(self, features: np.ndarray) -> np.ndarray:
        x = (np.atleast_2d(features) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))

    def to_json(self, names: tuple[str, ...] = FEATURE_NAMES) -> dict[str, Any]:
        return {
            "features": list(names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "meta": self.meta or {},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], names: tuple[str, ...] = FEATURE_NAMES) -> Decision:
        if list(data["features"]) != list(names):
            raise ValueError(
                "the decision model was trained on other features; retrain it with "
                "`storyline eval reuse mrpc PATH --write-model`"
            )
        return cls(
            np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]),
            float(data["intercept"]), float(data.get("threshold", 0.5)), data.get("meta"),
        )  # fmt: skip


def fit(
    x: np.ndarray,
    y: np.ndarray,
    c: float = 1.0,
    meta: dict[str, Any] | None = None,
    balanced: bool = False,
) -> Decision:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / scale, y)
    return Decision(mean, scale, model.coef_[0], float(model.intercept_[0]), 0.5, meta)


@lru_cache(maxsize=4)
def load_decision(path: str | None = None) -> Decision:
    """The shipped MRPC-trained model, or one from ``path``."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("storyline.reuse").joinpath("mrpc_model.json").read_text("utf-8")
    return Decision.from_json(json.loads(text))
