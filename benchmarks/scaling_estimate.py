"""How long the whole pipeline would take on a cluster, estimated from what
``benchmarks/engines.py`` measured on this machine.

Each stage's cost per article is split in two, from the table ``engines.py`` prints (its
output is this script's input):

* the **driver's part** — the Ray run's own CPU seconds on the driver (the "driver" row):
  the SQLite store's reads and writes, the stories' clustering, handing work out and taking
  it back. No number of workers makes it smaller;
* the **workers' part** — the local engine's seconds for the stage less the driver's part:
  the per-article work that Ray spreads over the cluster's cores.

A stage on ``cores`` cores then takes ``articles x (driver + workers / cores)`` (no overlap
of the two: an upper bound; the driver and the workers do overlap in part). Stories are the
exception: over ``--batch-limit`` articles (30,000, the batch clustering's limit) they are
the stream's, on the driver, at the stream's measured rate (``--stream-articles-s``: 174
articles/s, ``benchmarks/stories_stream.py --sizes 1000000``; it falls as the corpus grows,
so at 100M this is a lower bound), not the 10,000-article batch's cost per article. The default
model's embeddings are added as workers' work from the sentence model's measured rate on
this machine's cores (``--sentences-per-core-s``; README's embedding table) and the
sentences per article of a stored corpus (``--store``), or on GPUs at a given rate
(``--gpu-sentences-s``: not measured here, no GPU was lent; say so when quoting it).

    .venv/bin/python benchmarks/engines.py --sizes 10000 --model hashing+rules | tee eng.log
    .venv/bin/python benchmarks/scaling_estimate.py eng.log --store S.db
    .venv/bin/python benchmarks/scaling_estimate.py eng.log --store S.db --driver OUT.json

``--driver`` takes the driver's part from a larger Ray run (``engines.py --child ray FOLDER
DB MODEL CORES OUT.json``): it grows per article with the store (the reuse stage's 6.9 ms at
10,000 articles, 16.6 ms at 100,000), so the table's own is an underestimate.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path

STAGES = ("ingest", "clean", "segment", "reuse", "stories", "digest")


def read_table(path: Path) -> tuple[int, dict[str, list[float]]]:
    """(articles, rows) from engines.py's printed table: rows "local", "ray", and "driver"
    (the Ray run's driver CPU, the row after the "ray" row)."""
    rows: dict[str, list[float]] = {}
    articles = 0
    last = ""
    for line in path.read_text().splitlines():
        cells = line.split()
        if len(cells) >= 8 and cells[1] in ("local", "ray") and re.match(r"[\d,]+$", cells[0]):
            articles = int(cells[0].replace(",", ""))
            rows[cells[1]] = [float(x) for x in cells[2:8]]
            last = cells[1]
        elif len(cells) >= 7 and cells[0] == "driver" and last == "ray":
            rows["driver"] = [float(x) for x in cells[1:7]]
    missing = {"local", "ray", "driver"} - set(rows)
    if missing:
        sys.exit(f"{path}: no {', '.join(sorted(missing))} row (run engines.py with both engines)")
    return articles, rows


def store_shape(db: str) -> tuple[float, float, float]:
    """Sentences, clean-text bytes and store bytes per article of a stored corpus."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n, text = con.execute("SELECT count(*), avg(length(clean)) FROM articles").fetchone()
    sentences = con.execute("SELECT count(*) FROM sentences").fetchone()[0]
    return sentences / n, text, Path(db).stat().st_size / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("table", type=Path, help="what engines.py printed (both engines)")
    parser.add_argument("--store", help="a stored corpus like the benchmark's, for its shape")
    parser.add_argument("--articles", default="1000000,10000000,100000000")
    parser.add_argument("--cores", default="2,64,512,2048", help="cluster cores to estimate")
    parser.add_argument("--sentences-per-core-s", type=float, default=165 / 2,
                        help="the default model on one core (README: onnx, 165/s on 2 cores)")  # fmt: skip
    parser.add_argument("--gpu-sentences-s", type=float, default=0.0,
                        help="sentences/s of one GPU, if known (not measured here)")  # fmt: skip
    parser.add_argument("--gpus", type=int, default=0)
    parser.add_argument("--driver", type=Path,
                        help="the JSON of a larger Ray run (engines.py --child ray ... OUT.json):"
                             " its driver CPU per article replaces the table's")  # fmt: skip
    parser.add_argument("--batch-limit", type=int, default=30000,
                        help="over this many articles the stories are the stream's")  # fmt: skip
    parser.add_argument("--stream-articles-s", type=float, default=174.0,
                        help="the stories stream's rate (README: 174/s at 1M articles)")  # fmt: skip
    args = parser.parse_args()

    n, rows = read_table(args.table)
    driver = [d / n for d in rows["driver"]]
    workers = [max(local / n - d, 0.0) for local, d in zip(rows["local"], driver, strict=True)]
    print(f"from {args.table}: {n:,} articles, seconds per article (ms)")
    print(f"{'stage':>8} {'local':>8} {'ray 2 cores':>11} {'driver':>8} {'workers':>8}")
    for k, s in enumerate(STAGES):
        print(f"{s:>8} {1000 * rows['local'][k] / n:8.2f} {1000 * rows['ray'][k] / n:11.2f} "
              f"{1000 * driver[k]:8.2f} {1000 * workers[k]:8.2f}")  # fmt: skip
    if args.driver:  # the driver's part grows with the store: take it from a larger run
        big = json.loads(args.driver.read_text())
        m = int(big["articles"])
        driver = [big["driver_cpu"].get(s, 0.0) / m for s in STAGES]
        print(f"driver CPU per article (ms) from {args.driver}, {m:,} articles: "
              + ", ".join(f"{s} {1000 * d:.2f}" for s, d in zip(STAGES, driver, strict=True))
              + "; the workers' part stays the table's")  # fmt: skip
    embed = 0.0
    if args.store:
        per, text, size = store_shape(args.store)
        embed = per / args.sentences_per_core_s
        print(f"stored corpus {args.store}: {per:.1f} sentences, {text / 1000:.1f} kB of clean "
              f"text and {size / 1e6:.2f} MB of store per article; the default model on one core: "
              f"{1000 * embed:.0f} ms per article")  # fmt: skip
    print()
    print("estimated hours (hashing embedder and rule names as measured; +model: the default")
    print("sentence model's embeddings added as workers' work on the same cores"
          + (f", or on {args.gpus} GPUs at {args.gpu_sentences_s:,.0f} sentences/s each" if args.gpus else "")
          + ")")  # fmt: skip
    head = " ".join(f"{s:>8}" for s in STAGES)
    print(f"{'articles':>12} {'cores':>6} {head} {'total h':>8} {'+model h':>8} {'bound by':>9}")
    for count in [int(x) for x in args.articles.split(",")]:
        for cores in [int(x) for x in args.cores.split(",")]:
            hours = [count * (d + w / cores) / 3600 for d, w in zip(driver, workers, strict=True)]
            if count > args.batch_limit:  # the stream, on the driver
                hours[STAGES.index("stories")] = count / args.stream_articles_s / 3600
            total = sum(hours)
            if args.gpus and args.gpu_sentences_s:
                model = (
                    count * embed * args.sentences_per_core_s / (args.gpus * args.gpu_sentences_s)
                )
            else:
                model = count * embed / cores
            serial = count * sum(driver) / 3600
            if count > args.batch_limit:
                k = STAGES.index("stories")
                serial += hours[k] - count * driver[k] / 3600
            bound = "driver" if serial > total - serial else "workers"
            cells = " ".join(f"{h:8.1f}" for h in hours)
            print(f"{count:>12,} {cores:>6} {cells} {total:8.1f} {total + model / 3600:8.1f} "
                  f"{bound:>9}")  # fmt: skip
    if args.store:
        print(
            f"\nstore at {int(args.articles.split(',')[-1]):,} articles: about "
            f"{int(args.articles.split(',')[-1]) * size / 1e12:,.1f} TB in one SQLite file"
        )


if __name__ == "__main__":
    main()
