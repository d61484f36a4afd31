"""The reuse stage's rewrite neighbours on a kept store: how long choosing them takes for a
random sample of its articles (the term index's join, the vectors read, the cosines, each
article's window and best ``neighbours``), and whether another checkout chooses the same.

Each source tree runs in its own process on the same sample, first this checkout's::

    .venv/bin/python benchmarks/rewrite_neighbours.py --store S.db --sample 1000
    .venv/bin/python benchmarks/rewrite_neighbours.py --store S.db --against /tmp/old/src

``--against`` is the ``src`` folder of another checkout (``git worktree add /tmp/old REV``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path


def child(src: str, db: str, sample: int, seed: int) -> None:
    sys.path.insert(0, src)
    from storyline.config import Settings
    from storyline.reuse.index import ReuseIndex
    from storyline.store import Store

    store = Store(db)
    ids = sorted(r[0] for r in store.db.execute("SELECT id FROM articles"))
    pick = sorted(random.Random(seed).sample(ids, min(sample, len(ids))))
    index = ReuseIndex(store, Settings().reuse)
    t = time.perf_counter()
    out = sorted((a, chosen, sorted(later)) for a, chosen, later in index._choose_all(pick, {}, {}))
    seconds = time.perf_counter() - t
    digest = hashlib.blake2b(repr(out).encode(), digest_size=8).hexdigest()
    print(json.dumps({
        "seconds": seconds, "articles": len(out), "neighbours": sum(len(c) for _, c, _ in out),
        "later": sum(len(lt) for *_, lt in out), "digest": digest,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", required=True, help="a kept store (storyline run --db)")
    parser.add_argument("--sample", type=int, default=1000, help="articles to choose for")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--against", help="another checkout's src folder, run the same way")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.store, args.sample, args.seed)
        return
    here = str(Path(__file__).resolve().parent.parent / "src")
    print(f"rewrite neighbours of {args.sample:,} random articles of {args.store}")
    print(f"{'source':>40} {'articles':>8} {'s':>7} {'art/s':>7} {'neighbours':>10} "
          f"{'later':>8} lists")  # fmt: skip
    digests = set()
    for src in [here, *([args.against] if args.against else [])]:
        got = subprocess.run(
            [sys.executable, __file__, "--store", args.store, "--sample", str(args.sample),
             "--seed", str(args.seed), "--child", src],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        r = json.loads(got.stdout.strip().splitlines()[-1])
        digests.add(r["digest"])
        print(f"{src[-40:]:>40} {r['articles']:>8,} {r['seconds']:7.2f} "
              f"{r['articles'] / r['seconds']:7.0f} {r['neighbours']:>10,} {r['later']:>8,} "
              f"{r['digest']}", flush=True)  # fmt: skip
    if args.against:
        print(f"lists {'equal' if len(digests) == 1 else 'DIFFER'}")


if __name__ == "__main__":
    main()
