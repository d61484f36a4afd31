"""Evaluations on public data sets: ``storyline eval TASK FORMAT PATH``.

Each evaluation is a function ``(path, settings) -> dict of scores``, chosen by
``(task, format)`` from ``EVALUATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from storyline.config import Settings

Evaluation = Callable[[Path, Settings], dict[str, Any]]


def _mrpc(path: Path, settings: Settings) -> dict[str, Any]:
    from storyline.eval.mrpc import evaluate

    result, _ = evaluate(path, settings.embed.model, settings.embed.backend)
    return result


def _clough(path: Path, settings: Settings) -> dict[str, Any]:
    from storyline.eval.reuse_eval import evaluate_clough

    return evaluate_clough(path, settings)


def _duc_reuse(path: Path, settings: Settings) -> dict[str, Any]:
    from storyline.eval.reuse_eval import evaluate_duc_reuse

    return evaluate_duc_reuse(path, settings)


def _stories(fmt: str) -> Evaluation:
    def run(path: Path, settings: Settings) -> dict[str, Any]:
        from storyline.eval.stories_eval import evaluate_stories, leave_one_out

        if fmt == "lodo":
            return leave_one_out(path, settings)
        return evaluate_stories(fmt, path, settings)

    return run


def _summaries(fmt: str) -> Evaluation:
    def run(path: Path, settings: Settings) -> dict[str, Any]:
        from storyline.eval.summaries_eval import evaluate_summaries

        return evaluate_summaries(fmt, path, settings)

    return run


EVALUATIONS: dict[tuple[str, str], Evaluation] = {
    ("stories", "duc"): _stories("duc"),
    ("stories", "duc-all"): _stories("duc-all"),
    ("stories", "mixed"): _stories("mixed"),
    ("stories", "multiling"): _stories("multiling"),
    ("stories", "uci"): _stories("uci"),
    ("stories", "lodo"): _stories("lodo"),
    ("reuse", "mrpc"): _mrpc,
    ("reuse", "clough"): _clough,
    ("reuse", "duc"): _duc_reuse,
    ("summaries", "duc"): _summaries("duc"),
    ("summaries", "multiling"): _summaries("multiling"),
}


def run_evaluation(
    task: str, fmt: str, path: str | Path, settings: Settings | None = None
) -> dict[str, Any]:
    try:
        evaluation = EVALUATIONS[(task, fmt)]
    except KeyError:
        known = ", ".join(f"{t} {f}" for t, f in EVALUATIONS)
        raise ValueError(f"no evaluation '{task} {fmt}'; available: {known}") from None
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return {
        "task": task,
        "format": fmt,
        "path": str(path),
        **evaluation(Path(path), settings or Settings()),
    }
