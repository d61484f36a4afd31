"""The local engine on several processes (``--workers``): the stage functions mapped by a pool
of spawned workers give the store of one process, and a worker that dies mid-run is replaced
without losing or doubling an article."""

from __future__ import annotations

import platform
import sqlite3
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from storecheck import same_store
from storyline import Corpus


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    from storyline.engine import PoolEngine

    # The batch stories' pairwise work spread however few the articles (the default keeps it
    # in the driver), so that every kind of map goes through the workers.
    runner = PoolEngine(2, spread_rows=0)
    yield runner
    runner.close()


def test_the_pool_gives_one_processs_store_on_the_example(
    pool: Any, example_analyzed: Corpus, example_corpus: Path, tmp_path: Path
) -> None:
    with Corpus(tmp_path / "pool.db") as corpus:
        result = corpus.add([str(example_corpus)], engine=pool)
        assert result.counts["articles_new"] == 32
        # The batch stories were clustered by a worker while the reuse stage ran.
        assert result.counts["stories_clustered_early"] is True
        same_store(example_analyzed.store, corpus.store)
    assert pool._pool is not None  # the work went to the workers


def test_storyline_run_workers_gives_one_processs_store_on_the_seeds(
    seeds_analyzed: Corpus, seeds_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from storyline.cli import app

    db, out = tmp_path / "pool.db", tmp_path / "out"
    args = ["run", str(seeds_dir), "--workers", "2", "--db", str(db), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "report.json").exists()
    with Corpus(db) as corpus:
        same_store(seeds_analyzed.store, corpus.store)


def test_stories_rebuild_and_watch_take_workers_too(
    seeds_analyzed: Corpus, seeds_dir: Path, tmp_path: Path
) -> None:
    """`storyline watch --workers 2` adds each batch on the pool, and `storyline stories
    rebuild --workers 2` makes the digests again on it: the one process's store either way."""
    from typer.testing import CliRunner

    from storyline.cli import app

    db = tmp_path / "watched.db"
    args = ["watch", str(seeds_dir), "--once", "--workers", "2", "--db", str(db), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with Corpus(db) as corpus:
        same_store(seeds_analyzed.store, corpus.store)
        corpus.store.db.execute("DELETE FROM digests")  # every digest is made again below
        corpus.store.db.commit()
    result = CliRunner().invoke(app, ["stories", "rebuild", "--workers", "2", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with Corpus(db) as corpus:
        assert len(corpus.store.digest_keys()) == len(corpus.stories()) > 0
        same_store(seeds_analyzed.store, corpus.store)


def test_stories_clustered_elsewhere_are_used_only_for_the_same_articles(
    example_analyzed: Corpus,
) -> None:
    """``build_stories`` takes a clustering made elsewhere (a pool worker's, during the reuse
    stage) only if it was made of the articles it reads now; made of them, it gives the
    stories ``build_stories`` makes itself."""
    from storyline.config import Settings
    from storyline.embed import StoredEmbedder, embedder_of
    from storyline.stories.build import Clustered, build_stories, cluster_rows, story_rows

    store, settings = example_analyzed.store, Settings()
    embed = StoredEmbedder(embedder_of(settings.embed), store).encode  # as the pipeline's

    def stories(clustered: Clustered | None = None) -> Any:
        return build_stories(store, settings, None, embed, None, clustered)

    own = stories()
    rows = story_rows(list(store.iter_articles(full=False, parts=False)))
    made = cluster_rows(rows, settings, store, embed)
    assert stories(made) == own
    wrong = Clustered(made.key, {a: 0 for a in made.assignments})  # everything one story
    assert len(stories(wrong)[0]) == 1  # it was used
    assert stories(Clustered("articles since changed", wrong.assignments)) == own
    assert cluster_rows(rows[::-1], settings, store, embed).key == made.key


def test_workers_are_the_local_engines_not_rays(seeds_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from storyline.cli import app

    args = ["run", str(seeds_dir), "--engine", "ray", "--workers", "2", "--db",
            str(tmp_path / "s.db"), "--out", str(tmp_path / "out")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--workers is the local engine's" in result.output
    assert not (tmp_path / "s.db").exists()


def test_workers_that_die_are_replaced_and_nothing_is_lost_or_doubled(
    example_analyzed: Corpus, example_corpus: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    from storyline.engine import PoolEngine

    marks = tmp_path / "marks"
    marks.mkdir()
    # The process of a cleaning chunk, of a sentence split, of an alignment slice, of a slice
    # of the stories' pairwise work and of a digest exits mid-task (what the OOM killer does);
    # spawned workers read the variable from the environment they start with.
    stages = ("clean", "segment", "align", "stories", "digest")
    monkeypatch.setenv("STORYLINE_RAY_FAULT", f"{','.join(s + '!' for s in stages)}:{marks}")
    runner = PoolEngine(2, spread_rows=0)
    try:
        with Corpus(tmp_path / "pool.db") as corpus:
            result = corpus.add([str(example_corpus)], engine=runner)
            assert sorted(p.name for p in marks.iterdir()) == sorted(f"{s}.died" for s in stages)
            assert result.counts["articles_new"] == 32
            # The worker clustering the stories early was the one killed: this process did it.
            assert result.counts["stories_clustered_early"] is False
            assert corpus.store.count_articles() == 32
            assert sqlite3.connect(corpus.store.path).execute(
                "PRAGMA integrity_check"
            ).fetchone() == ("ok",)
            same_store(example_analyzed.store, corpus.store)
    finally:
        runner.close()


def test_a_worker_that_dies_every_time_ends_the_map_with_the_pools_error(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from storyline.engine import PoolEngine

    runner = PoolEngine(2, retries=1)
    try:
        assert list(runner.map(abs, [-3, 1, -2], "clean")) == [3, 1, 2]
        with pytest.raises(BrokenProcessPool):
            list(runner.map(_exit, [1, 2, 3], "clean"))
        # The engine goes on with a new pool afterwards.
        assert list(runner.map(abs, range(-40, 0), "segment")) == list(range(40, 0, -1))
    finally:
        runner.close()


def _exit(x: int) -> int:
    import os

    os._exit(3)


def test_a_long_task_does_not_hold_the_other_workers(tmp_path: Path) -> None:
    """The first task runs until the sixth has run: with one task a worker unfinished at
    once, the second worker must go on through the queue while the first task runs (a pool
    that sends nothing past the task it waits on never gets there: the first task gives up
    after a minute and says so)."""
    from storyline.engine import PoolEngine

    runner = PoolEngine(2, ahead=1)
    try:
        got = list(runner.map(partial(_wait_for, tmp_path), range(8), "digest"))
    finally:
        runner.close()
    assert got == ["saw 5", *range(1, 8)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n}.ran" for n in range(1, 8)]


def _wait_for(marks: Path, n: int) -> str | int:
    import time

    if n == 0:
        for _ in range(600):
            if (marks / "5.ran").exists():
                return "saw 5"
            time.sleep(0.1)
        return "gave up"
    (marks / f"{n}.ran").touch()
    return n


def test_alignment_slices_keep_linked_pairs_together_and_each_pair_once() -> None:
    import random

    from storyline.pipeline import _slices

    rng = random.Random(5)
    for trial in range(200):
        # Groups of articles (stories) whose pairs link only within the group.
        pairs: set[tuple[str, str]] = set()
        for g in range(rng.randint(1, 12)):
            members = [f"g{g:02d}a{k:02d}" for k in range(rng.randint(2, 9))]
            for _ in range(rng.randint(1, 20)):
                a, b = sorted(rng.sample(members, 2))
                pairs.add((a, b))
        ordered = sorted(pairs)
        count = rng.randint(1, 6)
        when = {x: rng.random() for p in ordered for x in p}
        parts = _slices(ordered, count, when)
        assert 1 <= len(parts) <= count
        assert sorted(p for part in parts for p in part) == ordered  # each pair once
        assert all(part == sorted(part) for part in parts)
        share = -(-len(ordered) // count)
        where: dict[str, set[int]] = {}
        for n, part in enumerate(parts):
            for p in part:
                for x in p:
                    where.setdefault(x, set()).add(n)
        # An article is in two slices only where its group was over a slice's share.
        for x, slices in where.items():
            if len(slices) > 1:
                group = [p for p in ordered if p[0][:3] == x[:3]]
                assert len(group) > share, (trial, x)
        # Slices stay within one share of each other (largest pieces first, lightest slice).
        sizes = [len(part) for part in parts]
        assert max(sizes) - min(sizes) <= share


def _hang(marks: Path, n: int) -> int:
    import os
    import time

    (marks / "pid").write_text(str(os.getpid()))
    time.sleep(120)
    (marks / "finished").touch()
    return n


def _started(marks: Path, future: Any) -> int:
    import time

    for _ in range(1200):
        if (marks / "pid").exists() or future.done():
            break
        time.sleep(0.1)
    return int((marks / "pid").read_text())


def _gone(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_stopped_run_stops_the_early_clustering_instead_of_waiting_for_it(
    tmp_path: Path,
) -> None:
    """A run that stops before its stories stage (an error, Ctrl-C) has no use for the batch
    stories a worker is clustering: ``_drop_early`` stops the workers (``PoolEngine.abort``)
    instead of leaving the pool's shutdown to wait the clustering out, and the engine goes on
    with a new pool."""
    from concurrent.futures.process import BrokenProcessPool
    from types import SimpleNamespace

    from storyline.engine import PoolEngine
    from storyline.pipeline import _drop_early

    runner = PoolEngine(2)
    try:
        future = runner.submit(partial(_hang, tmp_path), 0, "stories")
        pid = _started(tmp_path, future)
        ctx = SimpleNamespace(early_stories=future, engine=runner)
        _drop_early(ctx)
        assert ctx.early_stories is None and runner._pool is None
        with pytest.raises(BrokenProcessPool):
            future.result(timeout=60)
        assert _gone(pid)
        assert not (tmp_path / "finished").exists()
        assert list(runner.map(abs, [-3, 1, -2], "clean")) == [3, 1, 2]
        # A clustering that finished is left as it is (nothing to stop).
        done = runner.submit(abs, -4, "stories")
        assert done.result(timeout=120) == [4]
        pool = runner._pool
        _drop_early(SimpleNamespace(early_stories=done, engine=runner))
        assert runner._pool is pool
        # A run that stopped (an error, Ctrl-C) stops every task in flight.
        _drop_early(SimpleNamespace(early_stories=None, engine=runner), stopped=True)
        assert runner._pool is None
    finally:
        runner.close()


def test_a_run_stopped_after_the_reuse_stage_resumes_on_the_same_pool(
    pool: Any, example_analyzed: Corpus, example_corpus: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    """Stopped right after the reuse stage (the batch stories started early in a worker and
    not taken), then run again with the same engine: the store of one process."""
    from storyline import pipeline

    def stop(ctx: Any) -> None:
        assert ctx.early_stories is not None  # the stories were being clustered early
        raise KeyboardInterrupt

    upto = [s for s in pipeline.STAGES if s[0] in ("ingest", "clean", "segment", "reuse")]
    monkeypatch.setattr(pipeline, "STAGES", [*upto, ("stop", stop)])
    with Corpus(tmp_path / "stopped.db") as corpus:
        with pytest.raises(KeyboardInterrupt):
            corpus.add([str(example_corpus)], engine=pool)
        monkeypatch.undo()
        corpus.add([str(example_corpus)], engine=pool)
        same_store(example_analyzed.store, corpus.store)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)
def test_freed_memory_goes_back_to_the_system() -> None:
    """What a stage frees does not stay resident into the next (the run and the pool's workers
    trim the heap): 400 MB of 2 kB objects, one in a hundred kept, the rest freed."""
    import psutil

    from storyline.engine import give_back_memory

    def rss() -> float:
        return psutil.Process().memory_info().rss / 2**20

    blocks = [bytes(2048) + i.to_bytes(4, "little") for i in range(200_000)]
    kept = blocks[::100]
    del blocks
    held = rss()
    give_back_memory()
    assert rss() < held - 250, (held, rss())
    assert len(kept) == 2000


def test_a_workers_shared_embedder_keeps_few_vectors_between_tasks(pool: Any) -> None:
    """A pool worker's process-wide embedder caches at most ``WORKER_CACHE_BYTES`` (its tasks
    cache what they read themselves): 20,000 texts embedded, what stays is under the bound;
    this process's embedder keeps its own, larger bound."""
    from storyline.embed import CACHE_BYTES, get_embedder
    from storyline.engine import WORKER_CACHE_BYTES

    held = list(pool.map(_embed_and_measure, [20_000] * 4, "digest"))
    for nbytes, bound, embedded in held:
        assert embedded == 20_000
        assert bound == WORKER_CACHE_BYTES
        assert 0 < nbytes <= WORKER_CACHE_BYTES
    assert get_embedder("hashing").cache.max_bytes == CACHE_BYTES


def _embed_and_measure(n: int) -> tuple[int, int, int]:
    from storyline.embed import get_embedder

    embedder = get_embedder("hashing")
    vectors = embedder.encode([f"sentence number {i} of a worker's task" for i in range(n)])
    return embedder.cache.nbytes, embedder.cache.max_bytes, len(vectors)


def test_workers_rest_while_the_stories_are_clustered_here(
    example_analyzed: Corpus, example_corpus: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    """Stories clustered in this process (none in a worker) stop the idle workers first; the
    digests start a new pool; the store is the one process's."""
    from storyline import pipeline
    from storyline.engine import PoolEngine

    monkeypatch.setattr(pipeline, "REST_WORKERS_FROM", 0)
    monkeypatch.setattr(pipeline, "_cluster_early", lambda ctx, pending: None)
    runner = PoolEngine(2)
    seen: dict[str, Any] = {}

    def stories(ctx: Any) -> None:
        seen["before"] = runner._pool is not None  # the earlier stages' workers
        pipeline.stage_stories(ctx)
        seen["after"] = runner._pool

    stages = [(n, stories if n == "stories" else s) for n, s in pipeline.STAGES]
    monkeypatch.setattr(pipeline, "STAGES", stages)
    try:
        with Corpus(tmp_path / "rested.db") as corpus:
            corpus.add([str(example_corpus)], engine=runner)
            assert seen == {"before": True, "after": None}
            assert runner._pool is not None  # the digests' workers
            same_store(example_analyzed.store, corpus.store)
    finally:
        runner.close()
