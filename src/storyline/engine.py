"""Where the pipeline's work runs: in this process, or on a Ray cluster.

The stages (``storyline.pipeline``) read from the store, hand the pure per-item work — read a
file, clean an article, split it into sentences, MinHash a block of articles, embed sentences —
to ``ctx.engine``, and write what comes back to the store in the order it was asked for. The
local engine is Python's own ``map``; the Ray engine maps the same functions with Ray Data
(order preserved, failed tasks retried) and embeds in a pool of actors, each loading the model
once (a GPU each when the cluster has them). Work over groups of rows — the LSH candidate
pairs (rows grouped by band key) and the rounds of the copy families' connected components —
goes through ``group_flat_map``: a dict here, a Ray Data groupby (a shuffle across the
cluster) there, the same per-group function either way. On an engine of several workers the
alignment of a block's candidate pairs is cut into slices and each story's digest is a task,
each taking what it needs of the store with it; the batch stories' pairwise work goes out in
slices through ``map_shared`` (the similarity put once where every task reads it). The store
(SQLite, written by the driver only) and the stories' stream clustering stay on the driver:
one code path, so both engines give the same store.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

ENGINES = ("local", "ray")


class LocalEngine:
    """Everything in this process, lazily: memory stays what one item needs."""

    name = "local"
    workers = 1  # slices of work worth cutting for it

    def map(self, fn: Callable[[T], R], items: Iterable[T], stage: str = "") -> Iterator[R]:
        return map(fn, items)

    def flat_map(
        self, fn: Callable[[T], Iterable[R]], items: Iterable[T], stage: str = ""
    ) -> Iterator[R]:
        return itertools.chain.from_iterable(map(fn, items))

    def group_flat_map(
        self,
        fn: Callable[[Any, list[T]], Iterable[R]],
        rows: Iterable[tuple[Any, T]],
        stage: str = "",
    ) -> Iterator[R]:
        """``fn(key, values)`` for each group of ``(key, value)`` rows sharing a key, its
        outputs chained (groups in the order their keys first came)."""
        groups: dict[Any, list[T]] = {}
        for key, value in rows:
            groups.setdefault(key, []).append(value)
        return itertools.chain.from_iterable(fn(k, v) for k, v in groups.items())

    def map_shared(
        self, fn: Callable[[Any, T], R], shared: Any, items: Iterable[T], stage: str = ""
    ) -> Iterator[R]:
        """``fn(shared, item)`` for each item, in order: ``shared`` is what every item reads
        (the stories' similarity)."""
        return (fn(shared, item) for item in items)

    def embed_ahead(self, embedder: Any, texts: Callable[[], list[str]], cfg: Any) -> int:
        """Nothing ahead of time here: the stages embed what they need as they go."""
        return 0

    def close(self) -> None:
        pass


#: ``spread_rows`` that never spreads the batch stories: in this process they keep every
#: pair's cosine once worked out, which beat two workers working the blocks out each (the
#: clustering of 10,000 generated articles: 40.9 s here, 49.4 s spread over two workers).
NEVER = 1 << 62


class PoolEngine(LocalEngine):
    """The local engine on ``workers`` processes of this machine: the stage functions Ray maps
    (clean, sentences, MinHash, alignment slices, one digest per story, the batch stories'
    pairwise slices) go to a pool of worker processes, the rest stays in this process as on
    the local engine; results come back in order, so the store is the local engine's (a test
    compares them on the example corpus and the seeds).

    Workers are spawned (a fresh interpreter: no model thread or SQLite handle of this process
    is copied into them) when a map first needs them, and each runs the embedding model on
    ``threads`` cores (its share of the machine) when it has to embed. Items go in chunks of
    ``chunk`` for the per-article stages (a few milliseconds of work each) and at most
    ``ahead`` chunks per worker are unfinished (and a few times as many held, finished, for
    the results before them), so a map reads its items as the workers take them, as the local
    engine's does. The batch stories' pairwise work stays here unless
    ``spread_rows`` says from how many articles to spread it (``NEVER`` by default). A task
    that raises raises here, as it would in this process; a worker that dies is replaced and
    its work sent again (``_ordered``)."""

    #: Alignment slices take the stored vectors and embed the rest themselves (on Ray every
    #: sentence is embedded ahead, by the actor pool).
    embeds_in_workers = True
    #: One alignment slice per worker: an article near a cut between two slices is embedded in
    #: both (500 generated articles: 10.6 % of the sentences embedded twice with one slice a
    #: worker, 21.7 % with two), and two gave no better balance (3,000: reuse 34.3 s, one 33.7 s).
    slices_per_worker = 1

    #: Per-article stages whose items are small: sent ``chunk`` at a time.
    SMALL_ITEMS = frozenset({"templates", "clean", "segment"})

    def __init__(
        self,
        workers: int,
        chunk: int = 16,
        ahead: int = 4,
        spread_rows: int = NEVER,
        retries: int = 2,
    ) -> None:
        self.workers = max(1, workers)
        self.retries = retries
        self.chunk = chunk
        self.ahead = ahead
        self.spread_rows = spread_rows
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._pool: Any = None

    def _executor(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_pool_worker,
                initargs=(self.threads,),
            )
        return self._pool

    def _ordered(
        self, fn: Callable[[list[Any]], list[Any]], chunks: Iterable[list[Any]]
    ) -> Iterator[Any]:
        """``fn`` of each chunk in the pool, the items of its results yielded in order. At most
        ``ahead`` chunks a worker are unfinished at once; those that finish while an earlier
        one still runs are held (up to four times as many), so one long task (a large story's
        digest) does not leave the other workers idle. A worker that dies (killed, out of
        memory, a crash in a C library) breaks the pool: a new one is started and every chunk
        not finished is sent again, each at most ``retries`` times, so nothing is lost or
        doubled."""
        from collections import deque
        from concurrent.futures import FIRST_COMPLETED, Future, wait
        from concurrent.futures.process import BrokenProcessPool

        window: deque[list[Any]] = deque()  # [chunk, future, times sent again]
        running = self.ahead * self.workers
        held = 4 * running

        def send(entry: list[Any]) -> None:
            try:
                entry[1] = self._executor().submit(fn, entry[0])
            except BrokenProcessPool as e:  # broke since the last look: mended below
                entry[1] = Future()
                entry[1].set_exception(e)

        def finished(f: Any) -> bool:
            return bool(f.done() and not f.cancelled() and f.exception() is None)

        def mend() -> None:
            broken = [
                e[1].exception() for e in window
                if e[1].done() and not e[1].cancelled()
                and isinstance(e[1].exception(), BrokenProcessPool)
            ]  # fmt: skip
            if not broken:
                return
            self.close()  # the next map starts a new pool too
            again = [e for e in window if not finished(e[1])]
            if any(e[2] >= self.retries for e in again):
                raise broken[0]
            log.warning("a worker process died; starting the pool again and sending"
                        " %d chunk(s) again", len(again))  # fmt: skip
            for entry in again:  # what finished before the pool broke is kept
                entry[2] += 1
                send(entry)

        def drain(most_running: int, most_held: int) -> Iterator[Any]:
            while window:
                mend()
                if window[0][1].done():
                    yield from window.popleft()[1].result()  # a task's error raises here
                    continue
                unfinished = [e[1] for e in window if not e[1].done()]
                if len(unfinished) < most_running and len(window) < most_held:
                    return
                wait(unfinished, return_when=FIRST_COMPLETED)

        for chunk in chunks:
            entry = [chunk, None, 0]
            send(entry)
            window.append(entry)
            yield from drain(running, held)
        yield from drain(1, 1)

    def _chunks(self, items: Iterable[T], stage: str) -> Iterator[list[T]]:
        size = self.chunk if stage in self.SMALL_ITEMS else 1
        it = iter(items)
        while chunk := list(itertools.islice(it, size)):
            yield chunk

    def map(self, fn: Callable[[T], R], items: Iterable[T], stage: str = "") -> Iterator[R]:
        return self._ordered(partial(_map_chunk, fn, stage), self._chunks(items, stage))

    def flat_map(
        self, fn: Callable[[T], Iterable[R]], items: Iterable[T], stage: str = ""
    ) -> Iterator[R]:
        return itertools.chain.from_iterable(self.map(partial(_as_list, fn), items, stage))

    def map_shared(
        self, fn: Callable[[Any, T], R], shared: Any, items: Iterable[T], stage: str = ""
    ) -> Iterator[R]:
        """``fn(shared, item)`` for each item, in order, one task an item: ``shared`` is
        pickled once to a file that each worker reads once (and keeps while the map lasts)."""
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="storyline-shared-", delete=False) as fh:
            pickle.dump(shared, fh, protocol=pickle.HIGHEST_PROTOCOL)
            path = fh.name
        try:
            yield from self._ordered(
                partial(_map_chunk, partial(_with_shared, fn, path), stage), ([x] for x in items)
            )
        finally:
            os.unlink(path)

    def submit(self, fn: Callable[[T], R], item: T, stage: str = "") -> Any:
        """``fn(item)`` in a worker, started now and apart from any map: a future of it. For
        long work that can run while this process works alone (the batch stories during the
        reuse stage). A worker that dies fails the future (the caller does the work itself)."""
        return self._executor().submit(_map_chunk, fn, stage, [item])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def rest(self) -> None:
        """Stop the workers while this process works alone (what they hold between tasks,
        the modules and models they loaded, goes back to the system); the next map or
        ``submit`` starts them again. Waits for work already sent."""
        self.close()

    def abort(self) -> None:
        """Stop the workers now, their tasks unfinished (a run that stopped: what ``close``
        would wait for, the batch stories clustered early, nobody will read); the next map
        starts a new pool."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # The executor keeps its processes in a private dict (3.14's terminate_workers is
        # the public way); read it before shutdown, which forgets them.
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(timeout=10)


def _pool_worker(threads: int) -> None:
    """A pool worker starts: the models it may load run on its share of the cores. Ctrl-C
    is the main process's to handle (``storyline watch`` finishes its batch on the first
    one): a worker that took it too would die with its task."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["STORYLINE_WORKER_THREADS"] = str(threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)  # read by what loads later (torch)
    # numpy's BLAS is loaded already (this module imports numpy); threadpoolctl comes with
    # scikit-learn, a dependency.
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    from storyline.embed import set_process_cache

    set_process_cache(WORKER_CACHE_BYTES)


#: The vectors a pool worker's shared embedders keep between tasks (``set_process_cache``).
WORKER_CACHE_BYTES = 16 * 1024 * 1024


def _map_chunk(fn: Callable[[Any], Any], stage: str, chunk: list[Any]) -> list[Any]:
    started = time.monotonic()
    out = []
    for x in chunk:
        _fault_once(stage, x)
        out.append(fn(x))
    global _TRIMMED
    now = time.monotonic()
    if now - started >= 2.0:
        # A long task (an alignment slice) leaves cycles among what it built, and a worker
        # idle after it allocates nothing that would start the collector.
        gc.collect()
    if now - _TRIMMED >= 1.0:  # at most once a second: a trim walks the heap
        give_back_memory()
        _TRIMMED = time.monotonic()
    return out


_TRIMMED = 0.0  # when this worker last gave its free memory back
_TRIM: Any = None


def give_back_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``). Python frees
    a stage's objects, but the heap they filled stays resident: after the stream stories of
    40,000 articles this process held 1,035 MiB with the stories dropped, 445 after a trim.
    A no-op without glibc."""
    global _TRIM
    if _TRIM is None:
        try:
            import ctypes

            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


def _as_list(fn: Callable[[Any], Iterable[Any]], item: Any) -> list[Any]:
    return list(fn(item))


_SHARED_IN_WORKER: dict[str, Any] = {}


def _with_shared(fn: Callable[[Any, Any], Any], path: str, item: Any) -> Any:
    if path not in _SHARED_IN_WORKER:
        _SHARED_IN_WORKER.clear()  # one map's shared object at a time
        with open(path, "rb") as fh:
            _SHARED_IN_WORKER[path] = pickle.load(fh)
    return fn(_SHARED_IN_WORKER[path], item)


class RayEngine:
    """Ray Data over a local Ray (``address`` None: started here, ``num_cpus`` cores) or an
    existing cluster (``address`` "auto" or ``HOST:PORT``).

    Each map is a Ray Data dataset of the items, in order (``preserve_order``); a map that
    raises is retried up to ``retries`` times (Ray Data's ``max_map_retries``; a worker that
    dies Ray retries by itself), so a flaky worker neither loses nor doubles an item.
    Embeddings run in ``actors`` actors (``num_gpus`` each), sentences batched by
    ``batch_size``; groups of at least ``shuffle_rows`` rows are grouped by a shuffle, and
    the pairwise work of batch stories over ``spread_rows`` articles or more is spread.
    Every node needs storyline installed (``pip install 'storyline[ray]'``):
    the tasks import it."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        actors: int | None = None,
        num_gpus: float = 0.0,
        batch_size: int = 256,
        retries: int = 3,
        shuffle_rows: int = 1_000_000,
        spread_rows: int = 6_000,
    ) -> None:
        if not log.isEnabledFor(logging.DEBUG):  # Ray Data's plans and progress: -vv shows them
            os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
        import ray
        import ray.data

        self.started = not ray.is_initialized()
        if self.started:
            ray.init(
                address=address or None,
                num_cpus=None if address else num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        # A map that raises is tried again, in a task or in an actor, up to ``retries`` times
        # (a task whose worker dies Ray tries again by itself).
        context.max_map_retries = retries
        context.retried_map_errors = True
        context.actor_task_retry_on_errors = True
        resources = ray.cluster_resources()
        slots = resources.get("GPU", 0.0) / num_gpus if num_gpus else resources.get("CPU", 1.0)
        self.actors = actors or max(1, int(slots))
        self.workers = max(1, int(resources.get("CPU", 1.0)))
        self.num_gpus = num_gpus
        self.batch_size = batch_size
        self.retries = retries
        self.shuffle_rows = shuffle_rows
        self.spread_rows = spread_rows

    def map(self, fn: Callable[[T], R], items: Iterable[T], stage: str = "") -> Iterator[R]:
        import ray.data

        rows = [{"x": item} for item in items]
        if not rows:
            return iter(())
        call = _Call(fn, stage)
        ds = ray.data.from_items(rows).map(call)
        return (row["y"] for row in ds.iter_rows())

    def flat_map(
        self, fn: Callable[[T], Iterable[R]], items: Iterable[T], stage: str = ""
    ) -> Iterator[R]:
        import ray.data

        rows = [{"x": item} for item in items]
        if not rows:
            return iter(())
        call = _FlatCall(fn, stage)
        # One file per block: a large file's records stream out of its own task.
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        return (row["y"] for row in ds.flat_map(call).iter_rows())

    def group_flat_map(
        self,
        fn: Callable[[Any, list[T]], Iterable[R]],
        rows: Iterable[tuple[Any, T]],
        stage: str = "",
    ) -> Iterator[R]:
        """``fn(key, values)`` for each group of rows sharing a key, as a Ray Data groupby: the
        rows are shuffled by key across the cluster and each group is one call in a task
        (order of the outputs not kept: callers treat them as a set). Keys are one type (str
        or int); values and outputs travel pickled. Fewer rows than ``shuffle_rows`` are
        grouped here, as the local engine does: a shuffle costs Ray Data seconds whatever
        its size (``benchmarks/engines.py --overhead``), a dict of a million rows less."""
        import ray.data

        rows = list(rows)
        if len(rows) < self.shuffle_rows:
            return LocalEngine().group_flat_map(fn, rows, stage)
        items = [{"k": key, "x": pickle.dumps(value)} for key, value in rows]
        if not items:
            return iter(())
        # Partitions: a few per worker, more as the rows grow (Ray Data's default is 200).
        parts = min(200, max(2 * self.workers, len(items) // 20000))
        ds = ray.data.from_items(items).groupby("k", num_partitions=parts)
        call = partial(_group_call, fn, stage, self.retries)
        out = ds.map_groups(call, batch_format="numpy")
        return (pickle.loads(row["y"]) for row in out.iter_rows())

    def map_shared(
        self, fn: Callable[[Any, T], R], shared: Any, items: Iterable[T], stage: str = ""
    ) -> Iterator[R]:
        """``fn(shared, item)`` for each item, in order, one task an item: ``shared`` is put
        in the object store once (numpy arrays in it are read there without a copy) and each
        task gets it from there; items and outputs travel pickled."""
        import ray
        import ray.data

        rows = [{"x": pickle.dumps(item)} for item in items]
        if not rows:
            return iter(())
        call = _SharedCall(fn, ray.put(shared), stage)  # the reference lives as long as call
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map(call)
        return (pickle.loads(row["y"]) for row in ds.iter_rows())

    def embed_ahead(self, embedder: Any, texts: Callable[[], list[str]], cfg: Any) -> int:
        """Embed the ``texts()`` the store does not hold yet in the actor pool (``[embed]``
        settings ``cfg``), and store them as ``StoredEmbedder`` would (float16, by model name
        and text hash), where the stages will find them. Returns how many."""
        import ray.data

        from storyline.embed import text_key

        wanted = texts()
        by_key = {text_key(t): t for t in wanted}
        keys = list(by_key)
        stored = embedder.store.load_embeddings(embedder.name, keys)
        todo = [k for k in keys if k not in stored]
        if not todo:
            return 0
        # Longest first, so each batch holds sentences of like length (less padding).
        todo.sort(key=lambda k: -len(by_key[k]))
        ds = ray.data.from_items([{"key": k, "text": by_key[k]} for k in todo])
        # The settings travel with the class (no constructor arguments in the object store).
        actor = type("EmbedActor", (_EmbedActor,), {"cfg": cfg})
        vectors = ds.map_batches(
            actor,
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_gpus=self.num_gpus or None,
        )
        done = 0
        batch: list[tuple[str, np.ndarray]] = []
        for row in vectors.iter_rows():
            batch.append((row["key"], np.asarray(row["vector"], dtype=np.float16)))
            if len(batch) >= 4096:
                embedder.store.save_embeddings(embedder.name, batch)
                done += len(batch)
                batch = []
        if batch:
            embedder.store.save_embeddings(embedder.name, batch)
            done += len(batch)
        embedder.embedded += done
        return done

    def close(self) -> None:
        import ray

        if self.started and ray.is_initialized():
            ray.shutdown()


class _Call:
    def __init__(self, fn: Callable[[Any], Any], stage: str) -> None:
        self.fn, self.stage = fn, stage

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        _fault_once(self.stage, row["x"])
        return {"y": self.fn(row["x"])}


class _FlatCall:
    def __init__(self, fn: Callable[[Any], Iterable[Any]], stage: str) -> None:
        self.fn, self.stage = fn, stage

    def __call__(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        _fault_once(self.stage, row["x"])
        return [{"y": y} for y in self.fn(row["x"])]


class _SharedCall:
    def __init__(self, fn: Callable[[Any, Any], Any], ref: Any, stage: str) -> None:
        self.fn, self.ref, self.stage = fn, ref, stage

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        import ray

        item = pickle.loads(row["x"])
        _fault_once(self.stage, item)
        return {"y": pickle.dumps(self.fn(ray.get(self.ref), item))}


def _group_call(
    fn: Callable[[Any, list[Any]], Iterable[Any]],
    stage: str,
    retries: int,
    batch: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """One group of ``group_flat_map`` in a Ray task: its values unpickled, ``fn``'s outputs
    pickled. Ray Data does not retry a shuffle's reduce on an error raised in it (only a
    task whose worker died), so a group that raises is tried again here, ``retries`` times."""
    key = batch["k"][0]
    key = key.item() if isinstance(key, np.generic) else key
    values = [pickle.loads(x) for x in batch["x"]]
    for attempt in range(retries + 1):
        try:
            _fault_once(stage, key)
            found = [pickle.dumps(y) for y in fn(key, values)]
            break
        except Exception:
            if attempt == retries:
                raise
            log.warning("a %s group raised; trying it again", stage, exc_info=True)
    out = np.empty(len(found), dtype=object)
    out[:] = found
    return {"y": out}


class _EmbedActor:
    """One model per actor, loaded once: the ``[embed]`` settings' embedder (``cfg``, set on a
    subclass by ``embed_ahead``)."""

    cfg: Any = None

    def __init__(self) -> None:
        from storyline.config import Settings
        from storyline.embed import embedder_of

        self.embedder = embedder_of(self.cfg if self.cfg is not None else Settings().embed)
        fit_threads(self.embedder)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        _fault_once("embed", str(batch["key"][0]))
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"key": batch["key"], "vector": vectors.astype(np.float32)}


def fit_threads(embedder: Any) -> None:
    """In a Ray worker or a ``PoolEngine``'s: the model of ``embedder`` (a ``CachedEmbedder``)
    runs as many threads as the task, actor or worker was given cores, not all the node's
    (the workers of one node would oversubscribe it). Elsewhere: nothing."""
    cores = int(os.environ.get("STORYLINE_WORKER_THREADS", "0"))  # a pool worker's share
    if not cores:
        try:
            import ray
        except ImportError:
            return
        if not ray.is_initialized():
            return
        cores = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
    inner = getattr(embedder, "inner", None)
    if inner is not None and hasattr(inner, "threads") and not inner.threads:
        inner.threads = cores
    elif type(inner).__name__ == "SentenceTransformerEmbedder":
        import torch

        torch.set_num_threads(cores)


def _fault_once(stage: str, item: Any) -> None:
    """Testing hook: with ``STORYLINE_RAY_FAULT=STAGE[,STAGE…]:DIR``, the first task of each
    stage named to reach here raises once (a marker file in DIR remembers it, across workers);
    a stage named ``STAGE!`` instead kills the worker process running it (an actor of the
    embedding pool, a task's worker, a ``PoolEngine`` worker), as a node, ``ray.kill`` or the
    kernel's OOM killer would. The engine must do it again without losing or doubling the
    item."""
    stages, _, folder = os.environ.get("STORYLINE_RAY_FAULT", "").partition(":")
    named = stages.split(",")
    die = f"{stage}!" in named
    if not folder or not (die or stage in named):
        return
    marker = Path(folder) / f"{stage}.{'died' if die else 'raised'}"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    if die:
        os._exit(1)
    raise RuntimeError(f"injected fault in a {stage} task ({str(item)[:60]!r})")


def make_engine(
    name: str = "local", address: str | None = None, workers: int = 1, **options: Any
) -> Any:
    """An engine by name. ``workers`` (local): processes of this machine, 0 for one per core;
    one is this process alone."""
    if name == "local":
        n = workers or os.cpu_count() or 1
        return PoolEngine(n, **options) if n > 1 else LocalEngine()
    if name == "ray":
        try:
            return RayEngine(address, **options)
        except ImportError as exc:
            raise ValueError("the ray engine needs Ray Data: pip install 'storyline[ray]'") from exc
    raise ValueError(f"unknown engine {name!r}; choose {', '.join(ENGINES)}")
