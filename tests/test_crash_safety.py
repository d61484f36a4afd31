"""Crash safety: `storyline run` and `storyline add` killed with SIGKILL over and over, at random
points of every stage and at random moments, then resumed. After every kill the store passes
``PRAGMA integrity_check``; at the end no article is lost or doubled and the report equals an
uninterrupted run's, apart from timings and run counters.

Each killed process gets SIGKILL one of two ways: at a random item of a stage
(``STORYLINE_KILL=stage:N``, so every stage is hit), or from outside after a random delay (so
kills also land inside transactions, model loading and report writing; a process that outlives
its delay still dies at the next stage point, so none of them finishes).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from test_pipeline import make_inputs

pytestmark = pytest.mark.slow

FAST = '[embed]\nmodel = "hashing"\n'
#: Stage points in pipeline order, with how many kills each gets and the largest item count
#: a kill may wait for (each resumed run counts its stage's items from 1 again).
PLAN = [
    ("ingest", 4, 0),  # ingest counts every record read, new or seen: N grows kill by kill
    ("clean", 3, 5),
    ("segment", 3, 5),
    ("reuse-index", 1, 1),
    ("reuse", 2, 1),
    ("stories", 2, 1),
    ("digest", 3, 2),
]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "storyline.cli", *args]


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between any two runs: timings, run ids and counters."""
    report = json.loads(json.dumps(report))
    report["provenance"].pop("runs", None)
    report["provenance"].pop("store", None)
    report["summary"].pop("last_run", None)
    for a in report["articles"]:
        for o in a.get("origins", []):
            o.pop("run_id", None)
            o.pop("run", None)
    return report


def _check_store(db: Path, expected_articles: int) -> int:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        n = con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        doubled = con.execute(
            "SELECT COUNT(*) FROM (SELECT path, line, record FROM origins"
            " GROUP BY path, IFNULL(line, -1), IFNULL(record, -1) HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    finally:
        con.close()
    assert n <= expected_articles and doubled == 0
    return int(n)


def test_sigkill_at_random_points_of_every_stage_then_resume(
    tmp_path: Path, example_corpus: Path
) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(example_corpus, inputs)
    make_inputs(inputs / "more")
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    env = {k: v for k, v in os.environ.items() if k not in ("STORYLINE_KILL", "STORYLINE_FAULT")}

    ref = subprocess.run(
        _cli("run", str(inputs), "--db", str(tmp_path / "ref.db"), "--out", str(tmp_path / "ref"),
             "--config", str(config), "--format", "json"),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ref.returncode == 0, ref.stderr
    reference = json.loads((tmp_path / "ref" / "report.json").read_text())
    n_articles = len(reference["articles"])

    db, out = tmp_path / "killed.db", tmp_path / "out"
    rng = random.Random(20261205)
    points: list[str] = []
    for stage, kills, most in PLAN:
        if stage == "ingest":
            points += [f"ingest:{n}" for n in sorted(rng.sample(range(2, n_articles), kills))]
        else:
            points += [f"{stage}:{rng.randint(1, most)}" for _ in range(kills)]
    kills: list[tuple[str, str]] = []
    for i, point in enumerate(points):
        # Every other process is `add` (no reports), the rest `run` (reports written at the end).
        cmd = (
            _cli("run", str(inputs), "--db", str(db), "--out", str(out), "--config", str(config),
                 "--format", "json")
            if i % 2 else _cli("add", str(inputs), "--db", str(db), "--config", str(config))
        )  # fmt: skip
        for how in ("point", "timer"):
            proc = subprocess.Popen(
                cmd,
                env={**env, "STORYLINE_KILL": point},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if how == "timer":
                try:
                    proc.wait(timeout=rng.uniform(0.3, 3.0))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL, (point, how, stderr.decode()[-2000:])
            kills.append((point, how))
            _check_store(db, n_articles)
    assert len(kills) >= 20
    assert {p.split(":")[0] for p, _ in kills} == {s for s, _, _ in PLAN}

    final = subprocess.run(
        _cli("run", str(inputs), "--db", str(db), "--out", str(out), "--config", str(config),
             "--format", "json"),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert _check_store(db, n_articles) == n_articles
    report = json.loads((out / "report.json").read_text())
    assert _comparable(report) == _comparable(reference)
    con = sqlite3.connect(db)
    statuses = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY id")]
    con.close()
    # Every killed run is visible as unfinished; only the last one finished. (A kill from the
    # timer may land before a process got as far as starting its run: on a loaded machine,
    # start-up can take longer than the shortest delay. A kill at a stage point never does.)
    at_points = sum(1 for _, how in kills if how == "point")
    assert statuses[-1] == "done" and set(statuses[:-1]) <= {"running"}
    assert at_points <= len(statuses) - 1 <= len(kills)
