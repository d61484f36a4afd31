"""The stories stage's stream batch mode on a stored corpus: time, memory, and a fingerprint
of the stories, to set one version of the code beside another.

A corpus over ``max_articles`` (30,000) is clustered by the stream's batch mode
(``StreamClusterer.batch``: the stream, then its merge and split passes); this script runs
that on the articles of an existing store (for instance one ``benchmarks/pipeline_volume.py
--keep DIR`` left), read as the stories stage reads them (light articles, names by the rule
extractor, lead embeddings by ``--model``, ``hashing`` by default so that the clusterer's own
cost is what is measured). Each ``--limit`` runs in a fresh subprocess and prints the
seconds of the docs (names and embeddings) and of the batch, the peak RSS before and after
the batch, the stories, and a hash of the assignments: two versions that print the same hash
made the same stories. ``--url-truth`` scores them (BCubed) against the stories of
``pipeline_volume.py``'s generator, the first path segment of each article's URL.

    .venv/bin/python benchmarks/stories_store.py --store S.db --limit 10000,30000
    PYTHONPATH=/tmp/other/src .venv/bin/python benchmarks/stories_store.py --store S.db
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from typing import Any


def measure(store_path: str, limit: int, model: str, url_truth: bool) -> dict[str, Any]:
    import psutil

    from storyline.config import Settings
    from storyline.embed import embedder_of
    from storyline.entities import StoredExtractor, get_extractor
    from storyline.store import Store
    from storyline.stories.model import load_story_model, to_story_docs
    from storyline.stories.stream import StreamClusterer

    settings = Settings()
    settings.embed.model = model
    store = Store(store_path)
    t = time.perf_counter()
    rows, urls = [], {}
    for a in store.iter_articles(full=False, parts=False):
        rows.append((a.id, a.published, a.title or "", a.clean or ""))
        urls[a.id] = a.url or ""
        if limit and len(rows) >= limit:
            break
    embed = embedder_of(settings.embed).encode if settings.stories.embeddings else None
    extractor = StoredExtractor(get_extractor(settings.stories.entities), store)
    docs = to_story_docs(rows, extractor, embed)
    docs_seconds = time.perf_counter() - t
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss = psutil.Process().memory_info().rss / 2**20
    t = time.perf_counter()
    clusterer = StreamClusterer.from_settings(load_story_model(None), settings.stories)
    got = clusterer.batch(docs)
    scored: dict[str, Any] = {}
    if url_truth:  # pipeline_volume's articles: the story is the URL's first path segment
        from storyline.stories.metrics import bcubed

        scored = bcubed(got, {a: {urls[a].split("/")[3]} for a in got})
        scored["generated"] = len({urls[a].split("/")[3] for a in got})
    return {
        **scored,
        "articles": len(docs), "docs_seconds": docs_seconds,
        "batch_seconds": time.perf_counter() - t, "rss_before_mib": rss,
        "peak_before_mib": before,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "stories": len(set(got.values())),
        "hash": hashlib.sha1(repr(sorted(got.items())).encode()).hexdigest()[:12],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="a storyline store (SQLite file)")
    parser.add_argument("--limit", default="0", help="comma-separated article counts (0: all)")
    parser.add_argument("--model", default="hashing", help="sentence model of the leads")
    parser.add_argument(
        "--url-truth", action="store_true",
        help="score against each URL's first path segment (pipeline_volume.py's stories)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a subprocess's limit
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.store, args.one, args.model, args.url_truth)))
        return
    rows = []
    for limit in [int(x) for x in args.limit.split(",")]:
        out = subprocess.run(
            [sys.executable, __file__, "--store", args.store, "--model", args.model,
             "--one", str(limit), *(["--url-truth"] if args.url_truth else [])],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        rows.append(json.loads(out.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'articles':>9} {'docs s':>7} {'batch s':>8} {'articles/s':>10} {'RSS before':>10}"
          f" {'peak MiB':>8} {'stories':>8}  {'BCubed P / R / F1':>18}  assignments")  # fmt: skip
    for r in rows:
        rate = r["articles"] / max(r["batch_seconds"], 1e-9)
        print(f"{r['articles']:>9,} {r['docs_seconds']:>7.1f} {r['batch_seconds']:>8.1f}"
              f" {rate:>10,.0f} {r['rss_before_mib']:>10,.0f} {r['peak_mib']:>8,.0f}"
              f" {r['stories']:>8,}  {_scores(r):>18}  {r['hash']}")  # fmt: skip


def _scores(r: dict[str, Any]) -> str:
    if "f1" not in r:
        return "-"
    return f"{r['precision']:.3f} / {r['recall']:.3f} / {r['f1']:.3f}"


if __name__ == "__main__":
    main()
