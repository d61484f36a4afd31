"""The Ray engine: the same stage functions mapped by Ray Data on a real local Ray, giving the
same store as the local engine; a task that fails once is retried without losing or doubling
an article."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from storecheck import same_store
from storyline import Corpus

ray = pytest.importorskip("ray", reason="the ray engine needs storyline[ray]")


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    from storyline.engine import RayEngine

    # Every groupby a shuffle on Ray, and the batch stories' pairwise work spread however
    # few the articles.
    runner = RayEngine(num_cpus=2, shuffle_rows=0, spread_rows=0)
    yield runner
    runner.close()


def test_the_ray_engine_gives_the_local_engines_store_on_the_example(
    engine: Any, example_analyzed: Corpus, example_corpus: Path, tmp_path: Path
) -> None:
    with Corpus(tmp_path / "ray.db") as corpus:
        result = corpus.add([str(example_corpus)], engine=engine)
        assert result.counts["articles_new"] == 32
        same_store(example_analyzed.store, corpus.store)


def test_the_ray_engine_gives_the_local_engines_store_on_the_seeds(
    engine: Any, seeds_analyzed: Corpus, seeds_dir: Path, tmp_path: Path
) -> None:
    with Corpus(tmp_path / "ray.db") as corpus:
        corpus.add([str(seeds_dir)], engine=engine)
        same_store(seeds_analyzed.store, corpus.store)


def test_ray_groupby_finds_the_local_candidate_pairs_and_components(engine: Any) -> None:
    from storyline.engine import LocalEngine
    from storyline.reuse.index import group_pairs
    from storyline.reuse.links import components
    from test_reuse import random_graphs, union_find_components

    rng = np.random.default_rng(7)
    rows = [(f"b{rng.integers(6)}:{rng.integers(40)}", (f"a{rng.integers(300):03d}",
             bool(rng.random() < 0.3))) for _ in range(900)]  # fmt: skip
    local = set(LocalEngine().group_flat_map(group_pairs, rows))
    assert len(local) > 100
    assert set(engine.group_flat_map(group_pairs, rows)) == local
    graphs = random_graphs(11, count=3)
    for edges in graphs:
        assert components(edges, engine) == union_find_components(edges)


@pytest.mark.parametrize(
    "stages",
    [
        # One task of each stage raises once (the candidate search's and the copy families'
        # groupby tasks among them).
        (
            "ingest",
            "clean",
            "segment",
            "minhash",
            "embed",
            "candidates",
            "components",
            "align",
            "stories",
            "digest",
        ),  # fmt: skip
        # The process of a cleaning task, of an alignment slice, of a slice of the stories'
        # pairwise work, of a digest and of a candidate groupby's reduce, and an actor of the
        # embedding pool, die mid-run (``os._exit``: what ``ray.kill`` or a lost node does to
        # a worker).
        ("clean!", "embed!", "align!", "stories!", "digest!", "candidates!"),
    ],
    ids=["tasks-raise", "workers-die"],
)
def test_tasks_that_fail_once_are_retried_and_nothing_is_lost_or_doubled(
    engine: Any,
    example_analyzed: Corpus,
    example_corpus: Path,
    tmp_path: Path,
    stages: tuple[str, ...],
) -> None:
    # Ray's workers read the variable from the runtime environment Ray gives them, so Ray is
    # started again with it.
    marks = tmp_path / "marks"
    marks.mkdir()
    ray.shutdown()
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False,
        runtime_env={"env_vars": {"STORYLINE_RAY_FAULT": f"{','.join(stages)}:{marks}"}},
    )  # fmt: skip
    try:
        with Corpus(tmp_path / "ray.db") as corpus:
            result = corpus.add([str(example_corpus)], engine=engine)
            expected = [f"{s[:-1]}.died" if s.endswith("!") else f"{s}.raised" for s in stages]
            assert sorted(p.name for p in marks.iterdir()) == sorted(expected)
            assert result.counts["articles_new"] == 32
            assert corpus.store.count_articles() == 32
            assert sqlite3.connect(corpus.store.path).execute(
                "PRAGMA integrity_check"
            ).fetchone() == ("ok",)
            same_store(example_analyzed.store, corpus.store)
    finally:
        ray.shutdown()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)


def test_storyline_run_engine_ray_from_the_command_line(
    engine: Any, seeds_analyzed: Corpus, seeds_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from storyline.cli import app

    db, out = tmp_path / "ray.db", tmp_path / "out"
    args = ["run", str(seeds_dir), "--engine", "ray", "--ray-shuffle-rows", "0",
            "--ray-spread-rows", "0"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.json").exists()
    with Corpus(db) as corpus:
        same_store(seeds_analyzed.store, corpus.store)
