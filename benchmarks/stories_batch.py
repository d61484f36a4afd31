"""Batch stories at scale: time and memory of average-linkage clustering over a corpus.

``storyline add`` and ``storyline run`` cluster the whole corpus at once
(``storyline.stories.batch.cluster``, ``[stories] batch = "average"``): pairwise similarities a
block of rows at a time, each article's nearest neighbours, connected components at the
loosest cut, one average-linkage tree per component, the stories chosen in the trees from the
top down by silhouette. The work grows with the square of the corpus, which is why corpora over
``max_articles`` (30,000) go to the stream. This script measures it on the synthetic articles
of ``benchmarks/stories_stream.py`` (same generator and seed; stories of 2-60 articles over
weeks), each given a sentence-embedding-like vector: its story's random direction plus noise,
so that embeddings agree about as well as real ones do within a story (cosine ~0.5).

For each size it prints: seconds for ``cluster`` alone (building TF-IDF, the similarity
blocks, neighbours, components, trees, and the stories chosen in them by silhouette),
articles per second, the stories found, the loosest cut whose components fit one tree, the
fallback cut when it was taken ("-" when the silhouette chose the stories) and the
silhouette, the largest component, the extended BCubed F1 against the generator's stories,
and the peak RSS of a fresh subprocess.

Run it from the repository root::

    .venv/bin/python benchmarks/stories_batch.py
    .venv/bin/python benchmarks/stories_batch.py --sizes 1000,10000,30000 --json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stories_stream as gen  # the stream benchmark's article generator


def measure(n: int, seed: int, weeks: float, max_block: int) -> dict[str, Any]:
    from storyline.stories import batch
    from storyline.stories.metrics import scores
    from storyline.stories.stream import StoryDoc

    vocab = gen.build_vocabulary(seed)
    truth: array = array("i")
    rng = np.random.default_rng(seed)
    directions: dict[int, np.ndarray] = {}
    docs = []
    for aid, when, title, body, mentions in gen.articles(n, seed, weeks, vocab, truth):
        story = truth[-1]
        if story not in directions:
            directions[story] = rng.normal(size=384).astype(np.float32)
        v = directions[story] + rng.normal(scale=1.0, size=384).astype(np.float32)
        docs.append(StoryDoc(aid, when, title, body, Counter(mentions), v / np.linalg.norm(v)))
    fallback_sizes: list[int] = []

    def fallback(part: list[StoryDoc]) -> dict[str, int]:
        fallback_sizes.append(len(part))
        return {d.id: k for k, d in enumerate(part)}

    params = batch.BatchParams(max_block=max_block)
    report: dict[str, Any] = {}
    start = time.perf_counter()
    labels = batch.cluster(docs, params, fallback, report)
    seconds = time.perf_counter() - start
    gold = {d.id: {str(truth[k])} for k, d in enumerate(docs)}
    f1 = scores({k: str(v) for k, v in labels.items()}, gold)["bcubed_f1"]
    return {
        "articles": n,
        "seconds": round(seconds, 2),
        "articles_per_s": round(n / seconds, 1),
        "stories": len(set(labels.values())),
        "true_stories": len(set(truth)),
        "loosest_cut": report["loosest_cut"],
        "fallback_cut": "-" if report["cut"] is None else report["cut"],
        "silhouette": None if report["silhouette"] is None else round(report["silhouette"], 3),
        "largest_component": report["largest_component"],
        "sent_to_stream": sum(fallback_sizes),
        "bcubed_f1": round(f1, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def batch_default(field: str) -> Any:
    from storyline.stories.batch import BatchParams

    return getattr(BatchParams(), field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,30000", help="comma-separated sizes")
    parser.add_argument("--seed", type=int, default=13, help="seed of the article generator")
    parser.add_argument("--weeks", type=float, default=6.0, help="time span of the corpus")
    parser.add_argument(
        "--max-block", type=int, default=batch_default("max_block"),
        help="largest component given one tree (memory ~ 8 bytes x its size squared)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a subprocess's size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.seed, args.weeks, args.max_block)))
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"measuring {n:,} articles ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed),
             "--weeks", str(args.weeks), "--max-block", str(args.max_block)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    cols = list(rows[0])
    print(" ".join(f"{c:>17}" for c in cols))
    for r in rows:
        print(" ".join(f"{r[c]!s:>17}" for c in cols))


if __name__ == "__main__":
    main()
