"""Load on `storyline serve`: requests/s and p50/p99 latency per page, on a large store.

Starts `storyline serve` on 127.0.0.1 (a free port, nothing else is reached) over a store,
then sends each page and API endpoint a fixed number of requests from a few concurrent
clients (a closed loop: each client sends its next request when the last is answered), and
prints a table. Every run is bounded: ``--requests`` per endpoint and ``--max-seconds`` in all.

The store is given with ``--store``; with ``--articles N`` and a store that does not exist
yet, it is built first by ``storyline run`` over N articles of ``pipeline_volume``'s generator
with the hashing embedder and rule entities (the pages' cost depends on the store's rows, not
on which model made them; building 10,000 articles takes about 40 minutes on 2 cores).

    .venv/bin/python benchmarks/serve_load.py --store /tmp/s10k.db --articles 10000

The load generator is httpx in threads, in its own process. locust was considered: 2.47
pulls gevent and pytest 9 into the environment (the test stack pins pytest 8), and on 2 cores
its workers would take the same CPU as the server under test; a closed loop of a few threads
measures the server's latency with the least load of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAST = '[embed]\nmodel = "hashing"\n[digest]\nentities = "rules"\n'


def build(store: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from pipeline_volume import generate, write

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        write(generate(n), folder)
        config = Path(tmp) / "fast.toml"
        config.write_text(FAST)
        print(f"building a store of {n} articles at {store} (hashing embedder, rule entities)")
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "storyline.cli", "run", str(folder), "--db", str(store),
             "--out", str(Path(tmp) / "out"), "--config", str(config), "--format", "json"],
            check=True,
        )  # fmt: skip
        print(f"built in {time.perf_counter() - t:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(store: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storyline.cli", "serve", "--db", str(store), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("storyline serve did not start")


def targets(http: Any, rng: random.Random) -> dict[str, list[str]]:
    """The URLs each endpoint is sent: real ids and words drawn from the store."""
    return plan_for(http.get("/api/stories", params={"limit": 500}).json()["stories"], rng)


def plan_for(stories: list[dict[str, Any]], rng: random.Random) -> dict[str, list[str]]:
    """The URLs of each endpoint, drawn from these stories (``/api/stories``)."""
    picked = rng.sample(stories, min(50, len(stories)))
    biggest = max(stories, key=lambda s: s["article_count"])
    story_ids = [s["id"] for s in [biggest, *picked]]
    article_ids = [a for s in picked for a in s["articles"][:2]][:100]
    words = [w for s in picked for w in s["headline"].split() if len(w) > 4][:60] or ["the"]
    return {
        "stories page  /": ["/"],
        "story page    /stories/ID": [f"/stories/{i}" for i in story_ids],
        "article page  /articles/ID": [f"/articles/{i}" for i in article_ids],
        "search page   /?q=WORD": [f"/?q={w}" for w in words],
        "API stories   /api/stories": ["/api/stories?limit=50"],
        "API story     /api/stories/ID": [f"/api/stories/{i}" for i in story_ids],
        "API article   /api/articles/ID": [f"/api/articles/{i}" for i in article_ids],
        "API search    /api/search?q=": [f"/api/search?q={w}" for w in words],
    }


def hammer(url: str, paths: list[str], requests: int, clients: int, budget: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + budget

    def client(k: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(k, requests, clients):
                if time.monotonic() > stop_at:
                    return
                t = time.perf_counter()
                r = http.get(paths[i % len(paths)])
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    errors += r.status_code != 200

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * (q[49] if q else latencies[0]),
        "p99_ms": 1000 * (q[98] if q else latencies[-1]),
        "max_ms": 1000 * latencies[-1],
    }


#: The locustfile's names of serve_load's endpoints, in the order of ``targets``.
LOCUST_NAMES = ("stories", "story", "article", "search", "api-stories", "api-story",
                "api-article", "api-search")  # fmt: skip


def locust(binary: str, url: str, name: str, clients: int, seconds: float) -> dict[str, Any]:
    """The same endpoint's load sent by locust (``benchmarks/locustfile.py``) for about as
    long as serve_load's own took: its requests/s and p50/p99 from locust's CSV."""
    import csv

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [binary, "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
             "-u", str(clients), "-r", str(clients), "-t", f"{max(5, round(seconds))}s",
             "--host", url, "--csv", f"{tmp}/load", "--only-summary"],
            check=True, capture_output=True, env={**os.environ, "STORYLINE_ENDPOINT": name},
        )  # fmt: skip
        with open(f"{tmp}/load_stats.csv", newline="") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == name)
    return {
        "requests": int(row["Request Count"]),
        "errors": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "max_ms": float(row["Max Response Time"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=0, help="build the store if missing")
    parser.add_argument("--requests", type=int, default=200, help="per endpoint")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=600, help="the whole load, at most")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--locust", metavar="BIN", help="also send each endpoint's load with this"
                        " locust (benchmarks/locustfile.py), for as long, and print both")  # fmt: skip
    args = parser.parse_args()
    if not args.store.exists():
        if not args.articles:
            sys.exit(f"{args.store} does not exist: pass --articles N to build it")
        build(args.store, args.articles)
    import httpx
    import psutil

    proc, url = serve(args.store)
    rng = random.Random(5)
    rows: dict[str, dict] = {}
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            plan = targets(http, rng)
            for paths in plan.values():  # warm: templates compiled, pages cached by SQLite
                http.get(paths[0])
        budget = args.max_seconds / len(plan)
        for (name, paths), short in zip(plan.items(), LOCUST_NAMES, strict=True):
            t = time.perf_counter()
            rows[name] = hammer(url, paths, args.requests, args.clients, budget)
            if args.locust:
                took = time.perf_counter() - t
                rows[f"{name} (locust)"] = locust(args.locust, url, short, args.clients, took)
        rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.terminate()
        proc.wait(10)
    size = args.store.stat().st_size / 2**20
    if args.json:
        print(json.dumps({"store": str(args.store), "store_mib": size, "server_rss_mib": rss,
                          "clients": args.clients, "endpoints": rows}, indent=2))  # fmt: skip
        return
    print(f"\nstore {args.store} ({size:.0f} MiB), {args.clients} clients, "
          f"server RSS {rss:.0f} MiB, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'endpoint':43} {'reqs':>5} {'err':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7}")  # fmt: skip
    for name, r in rows.items():
        print(f"{name:43} {r['requests']:5d} {r['errors']:4d} {r['rps']:7.1f} {r['p50_ms']:7.1f} "
              f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
