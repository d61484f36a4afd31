"""The local engine against the Ray engine on one machine: seconds per stage, peak memory of
the driver and of Ray's workers, and whether the two stores agree.

The articles are ``pipeline_volume``'s invented stories (400-800 words, duplicates, wire
copies and spun rewrites planted). Each engine runs in a fresh subprocess on a fresh store;
the Ray one starts a local Ray on ``--cpus`` cores (its start-up is reported apart: on a
cluster it is paid once, not per run). Worker memory is the peak RSS sampled every 100 ms
over Ray's worker processes (children of this process's raylet).

    .venv/bin/python benchmarks/engines.py --sizes 1000 --model hashing
    .venv/bin/python benchmarks/engines.py --sizes 1000,10000
    .venv/bin/python benchmarks/engines.py --sizes 10000 --model hashing+rules --engines ray
    .venv/bin/python benchmarks/engines.py --overhead      # Ray Data's own cost per map/groupby
    .venv/bin/python benchmarks/engines.py --store S.db --add DIR1,DIR2 --engines ray,local
    .venv/bin/python benchmarks/engines.py --rebuild S.db --model hashing+rules  # stories only

``--rebuild`` times the batch stories of a kept store (``storyline stories rebuild`` without
writing them) on each engine: the Ray engine spreads their pairwise work over its workers.
``--cluster S.db --sizes 2500,5000`` times the batch clustering alone on random samples of
the store's articles, the Ray engine made to spread it at every size: where spreading pays
(``RayEngine(spread_rows=...)``).

    .venv/bin/python benchmarks/engines.py --cluster S.db --sizes 2500,5000,10000 --model hashing+rules
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from pipeline_volume import STAGES, _settings, generate, write


class WorkerPeaks:
    """Peak RSS of this process's descendants (Ray's raylet, workers and actors), sampled."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.peak_one = 0.0
        self.peak_all = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        import psutil

        while not self.done.wait(0.1):
            total = 0.0
            for p in self.me.children(recursive=True):
                try:
                    mib = p.memory_info().rss / 2**20
                    line = " ".join(p.cmdline())
                except psutil.Error:
                    continue
                if line.startswith("ray::") or "default_worker" in line:
                    self.peak_one = max(self.peak_one, mib)
                total += mib
            self.peak_all = max(self.peak_all, total)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


class DriverTime:
    """The driver's own CPU seconds per stage (the pipeline names its stage through the
    progress interface): what stays serial however many workers there are — the store's
    writes, its queries, the stories' clustering, and handing work out and taking it back."""

    def __init__(self) -> None:
        self.stage = ""
        self.mark = time.process_time()
        self.cpu: dict[str, float] = {}

    def start(self, stage: str, total: int | None) -> None:
        self._close()
        self.stage = stage.split(":")[0]
        if stage:  # a line per bar, so that a long run shows where it is
            mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"[engines] {time.strftime('%H:%M:%S')} {stage} ({total if total else '?'}),"
                  f" driver peak so far {mib:,.0f} MiB", file=sys.stderr, flush=True)  # fmt: skip

    def _close(self) -> None:
        now = time.process_time()
        if self.stage:
            self.cpu[self.stage] = self.cpu.get(self.stage, 0.0) + now - self.mark
        self.mark = now

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


def child(engine: str, folder: str, db: str, model: str, cpus: int, out: str) -> None:
    from storyline.corpus import Corpus
    from storyline.engine import make_engine

    settings = _settings(model)
    peaks = WorkerPeaks()
    t = time.perf_counter()
    runner = make_engine(engine, num_cpus=cpus) if engine == "ray" else make_engine(engine)
    started = time.perf_counter() - t
    stored = Path(db).exists()  # an add into a kept store: no digest of the whole store
    with Corpus(db, settings) as corpus:
        t = time.perf_counter()
        driver = DriverTime()
        run = corpus.add([folder], progress=driver, engine=runner)
        seconds = time.perf_counter() - t
        driver.start("", None)
        n = int(run.counts.get("articles_new", 0))
        digest = hashlib.blake2b(digest_size=8)
        queries = (  # what the engines make (not when: added_at, first_run)
            "SELECT id, url, source, title, published, clean, clean_sig, stage FROM articles"
            " ORDER BY id",
            "SELECT * FROM sentences ORDER BY 1, 2",
            "SELECT * FROM links ORDER BY 1, 2",
        )
        for query in () if stored else queries:
            for row in corpus.store.db.execute(query):
                digest.update(repr(tuple(row)).encode())
        for st in [] if stored else sorted(corpus.store.stories(), key=lambda s: s["id"]):
            digest.update(repr((st["id"], sorted(st["articles"]))).encode())
        size = corpus.store.count_articles()
    runner.close()
    peaks.stop()
    Path(out).write_text(
        json.dumps(
            {
                "start_seconds": started,
                "seconds": seconds,
                "timings": run.timings,
                "driver_cpu": driver.cpu,
                "articles": n,
                "store_articles": size,
                "driver_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "worker_peak_mib": peaks.peak_one,
                "workers_total_peak_mib": peaks.peak_all,
                "store_digest": "-" if stored else digest.hexdigest(),
            }
        )
    )


def rebuild_child(engine: str, db: str, model: str, cpus: int, out: str) -> None:
    from storyline.embed import StoredEmbedder, embedder_of
    from storyline.engine import make_engine
    from storyline.store import Store
    from storyline.stories.build import build_stories

    settings = _settings(model)
    peaks = WorkerPeaks()
    runner = make_engine(engine, num_cpus=cpus) if engine == "ray" else make_engine(engine)
    store = Store(db)
    embed = StoredEmbedder(embedder_of(settings.embed), store)
    how: dict[str, Any] = {}
    t, cpu = time.perf_counter(), time.process_time()
    stories, _ = build_stories(store, settings, how, embed.encode, runner)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    runner.close()
    peaks.stop()
    digest = hashlib.blake2b(digest_size=8)
    for st in sorted(stories, key=lambda s: s["id"]):
        digest.update(repr((st["id"], sorted(st["articles"]))).encode())
    Path(out).write_text(json.dumps({
        "seconds": seconds, "driver_cpu": cpu, "stories": len(stories),
        "articles": sum(len(st["articles"]) for st in stories), "method": how.get("method"),
        "driver_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mib": peaks.peak_one, "digest": digest.hexdigest(),
    }))  # fmt: skip


def cluster_child(engine: str, db: str, model: str, cpus: int, size: int, out: str) -> None:
    import random

    from storyline.embed import StoredEmbedder, embedder_of
    from storyline.engine import LocalEngine, RayEngine
    from storyline.entities import StoredExtractor, get_extractor
    from storyline.store import Store
    from storyline.stories.batch import batch_stories
    from storyline.stories.build import spread_on
    from storyline.stories.model import load_story_model, to_story_docs

    settings = _settings(model)
    store = Store(db)
    articles = list(store.iter_articles(full=False, parts=False))
    pick = random.Random(7).sample(articles, min(size, len(articles)))
    rows = [(a.id, a.published, a.title or "", a.clean or "") for a in pick]
    extractor = StoredExtractor(get_extractor(settings.stories.entities), store)
    docs = to_story_docs(rows, extractor, StoredEmbedder(embedder_of(settings.embed), store).encode)
    runner = RayEngine(num_cpus=cpus, spread_rows=0) if engine == "ray" else LocalEngine()
    how: dict[str, Any] = {}
    t = time.perf_counter()
    got = batch_stories(docs, load_story_model(), settings.stories, how, spread_on(runner, size))
    seconds = time.perf_counter() - t
    runner.close()
    digest = hashlib.blake2b(repr(sorted(got.items())).encode(), digest_size=8).hexdigest()
    Path(out).write_text(json.dumps({"seconds": seconds, "articles": len(docs),
                                     "stories": len(set(got.values())), "digest": digest}))  # fmt: skip


def cluster(db: str, sizes: list[int], model: str, cpus: int) -> None:
    print(f"batch clustering of samples of {db}; model {model}; Ray on {cpus} cores, spread")
    print(f"{'articles':>8} {'local s':>8} {'ray s':>8} {'stories':>7} same")
    for size in sizes:
        got = {}
        for engine in ("local", "ray"):
            with tempfile.NamedTemporaryFile(suffix=".json") as fh:
                subprocess.run([sys.executable, __file__, "--cluster-child", engine, db, model,
                                str(cpus), str(size), fh.name], check=True)  # fmt: skip
                got[engine] = json.loads(Path(fh.name).read_text())
        same = got["local"]["digest"] == got["ray"]["digest"]
        print(f"{got['local']['articles']:>8,} {got['local']['seconds']:8.1f} "
              f"{got['ray']['seconds']:8.1f} {got['local']['stories']:>7,} "
              f"{'yes' if same else 'NO'}", flush=True)  # fmt: skip


def rebuild(db: str, engines: list[str], model: str, cpus: int) -> None:
    print(f"batch stories of {db}; model {model}; Ray on {cpus} cores of this machine")
    print(f"{'engine':>6} {'articles':>8} {'stories':>7} {'method':>8} {'s':>7} "
          f"{'driver CPU s':>12} {'driver MiB':>10} {'worker MiB':>10} stories")  # fmt: skip
    digests = set()
    for engine in engines:
        with tempfile.NamedTemporaryFile(suffix=".json") as fh:
            subprocess.run([sys.executable, __file__, "--rebuild-child", engine, db, model,
                            str(cpus), fh.name], check=True)  # fmt: skip
            r = json.loads(Path(fh.name).read_text())
        digests.add(r["digest"])
        print(f"{engine:>6} {r['articles']:>8,} {r['stories']:>7,} {r['method']:>8} "
              f"{r['seconds']:7.1f} {r['driver_cpu']:12.1f} {r['driver_peak_mib']:10,.0f} "
              f"{r['worker_peak_mib']:10,.0f} {r['digest']}", flush=True)  # fmt: skip
    if len(engines) > 1:
        print(f"stories {'equal' if len(digests) == 1 else 'DIFFER'}")


def _same(x: Any) -> Any:
    return x


def _one_group(key: Any, values: list[Any]) -> list[Any]:
    return [len(values)]


def overhead(cpus: int) -> None:
    """What Ray Data itself costs: a map and a groupby that do nothing, by number of items
    (the per-stage scheduling overhead under every row of the main table)."""
    from storyline.engine import LocalEngine, RayEngine

    t = time.perf_counter()
    ray = RayEngine(num_cpus=cpus)
    print(f"Ray start-up {time.perf_counter() - t:.1f} s on {cpus} cores")
    print(f"{'items':>8} {'op':>8} {'local s':>8} {'ray s':>8} {'ray ms/item':>11}")
    for n in (10, 1000, 10000, 100000):
        for op in ("map", "groupby"):
            times = []
            for engine in (LocalEngine(), ray):
                t = time.perf_counter()
                if op == "map":
                    list(engine.map(_same, range(n)))
                else:
                    list(
                        engine.group_flat_map(
                            _one_group, ((k % (n // 10 + 1), k) for k in range(n))
                        )
                    )
                times.append(time.perf_counter() - t)
            print(f"{n:>8,} {op:>8} {times[0]:8.3f} {times[1]:8.2f} {1000 * times[1] / n:11.3f}")
    ray.close()


def _spawn(*args: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        subprocess.run([sys.executable, __file__, "--child", *args, fh.name], check=True)
        return json.loads(Path(fh.name).read_text())


def _row(engine: str, r: dict[str, Any]) -> None:
    cells = " ".join(f"{r['timings'].get(s, 0.0):8.1f}" for s in STAGES)
    print(
        f"{r['articles']:>8,} {engine:>6} {cells} {r['seconds']:8.1f} "
        f"{r['articles'] / r['seconds']:7.1f} {r['start_seconds']:7.1f} "
        f"{r['driver_peak_mib']:10,.0f} {r['worker_peak_mib']:10,.0f} "
        f"{r['workers_total_peak_mib']:11,.0f} {r['store_digest']}",
        flush=True,
    )
    cpu = " ".join(f"{r['driver_cpu'].get(s, 0.0):8.1f}" for s in STAGES)
    print(f"{'':>8} {'driver':>6} {cpu}   (the driver's own CPU seconds)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000", help="comma-separated article counts")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="embedding model (or hashing)")
    parser.add_argument("--cpus", type=int, default=2, help="cores for the local Ray")
    parser.add_argument("--engines", default="local,ray", help="which engines, in order")
    parser.add_argument("--overhead", action="store_true", help="only Ray Data's own cost")
    parser.add_argument("--store", help="add into this kept store instead (one add per engine)")
    parser.add_argument(
        "--add", help="with --store: a folder of articles per engine, comma-separated"
    )
    parser.add_argument("--rebuild", help="only the batch stories of this kept store")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--rebuild-child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--cluster", help="only the batch clustering of samples of this store")
    parser.add_argument("--cluster-child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.overhead:
        overhead(args.cpus)
        return
    if args.rebuild_child:
        engine, db, model, cpus, out = args.rebuild_child
        rebuild_child(engine, db, model, int(cpus), out)
        return
    if args.rebuild:
        rebuild(args.rebuild, args.engines.split(","), args.model, args.cpus)
        return
    if args.cluster_child:
        engine, db, model, cpus, size, out = args.cluster_child
        cluster_child(engine, db, model, int(cpus), int(size), out)
        return
    if args.cluster:
        cluster(args.cluster, [int(x) for x in args.sizes.split(",")], args.model, args.cpus)
        return
    if args.child:
        engine, folder, db, model, cpus, out = args.child
        child(engine, folder, db, model, int(cpus), out)
        return
    print(f"model {args.model}; Ray on {args.cpus} cores of this machine")
    head = " ".join(f"{s:>8}" for s in STAGES)
    print(f"{'articles':>8} {'engine':>6} {head} {'total s':>8} {'art/s':>7} "
          f"{'start s':>7} {'driver MiB':>10} {'worker MiB':>10} {'all workers':>11} store")  # fmt: skip
    engines = args.engines.split(",")
    if args.store:  # adds into a kept store, one set of articles per engine
        for engine, folder in zip(engines, args.add.split(","), strict=True):
            _row(engine, _spawn(engine, folder, args.store, args.model, str(args.cpus)))
        return
    for n in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "articles"
            write(generate(n), folder)
            digests = {}
            for engine in engines:
                r = _spawn(engine, str(folder), str(Path(tmp) / f"{engine}.db"), args.model,
                           str(args.cpus))  # fmt: skip
                digests[engine] = r["store_digest"]
                _row(engine, r)
            if len(digests) > 1:
                same = len(set(digests.values())) == 1
                print(f"{'':>8} stores {'equal' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
