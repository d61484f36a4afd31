"""`storyline stories rebuild` on a large store: seconds and peak memory of each phase.

The rebuild clusters every stored article again (the stories stage as a new store or a
rebuild runs it: a corpus over 30,000 articles goes to the stream's batch mode) and then makes
again the digests of the stories that changed. A thread samples this process's RSS every
50 ms; the phases are told apart by wrapping ``build_stories`` and the digest's
``run_pipeline``, so the peaks are those of the stages as ``storyline run`` has them in one
process (what the stories stage leaves allocated is carried into the digest).

It changes the store (its stories and digests): run it on a copy, or on a store kept for
measuring, such as the one ``benchmarks/pipeline_volume.py --keep DIR`` leaves.

    .venv/bin/python benchmarks/rebuild_volume.py --store DIR/s100000.db --model hashing+rules
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="a storyline store (changed by the run)")
    parser.add_argument(
        "--model", default="all-MiniLM-L6-v2",
        help="sentence model; 'hashing+rules' for the hashing embedder and rule entities",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the phases as JSON")
    args = parser.parse_args()

    import psutil
    from pipeline_volume import _settings

    import storyline.pipeline as pipeline
    import storyline.stories.build as build
    from storyline.corpus import Corpus

    proc = psutil.Process()
    phase = ["open"]
    peaks: dict[str, float] = {}
    started: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peaks[phase[0]] = max(peaks.get(phase[0], 0.0), proc.memory_info().rss / 2**20)

    def enter(name: str) -> None:
        rss = proc.memory_info().rss / 2**20
        print(f"[rebuild_volume] {time.strftime('%H:%M:%S')} {name}, RSS {rss:,.0f} MiB",
              file=sys.stderr, flush=True)  # fmt: skip
        phase[0], started[name] = name, time.perf_counter()
        peaks[name] = max(peaks.get(name, 0.0), rss)

    real_build, real_run = build.build_stories, pipeline.run_pipeline

    def timed_build(*a: Any, **k: Any) -> Any:
        enter("stories")
        out = real_build(*a, **k)
        enter("save stories")
        return out

    def timed_run(*a: Any, **k: Any) -> Any:
        enter("digest")
        out = real_run(*a, **k)
        enter("end")
        return out

    build.build_stories, pipeline.run_pipeline = timed_build, timed_run
    threading.Thread(target=sample, daemon=True).start()
    corpus = Corpus(args.store, _settings(args.model))
    digests_before = dict(corpus.store.digest_keys())
    how = corpus.rebuild_stories()
    if phase[0] != "end":
        enter("end")
    done.set()
    names = ["stories", "save stories", "digest"]
    order = [*names, "end"]
    rows = []
    for name, nxt in zip(names, order[1:], strict=False):
        if name in started:
            rows.append({"phase": name, "seconds": started.get(nxt, started[name]) - started[name],
                         "peak_mib": peaks.get(name, 0.0)})  # fmt: skip
    remade = sum(1 for k, v in corpus.store.digest_keys().items() if digests_before.get(k) != v)
    result = {
        "articles": corpus.store.count_articles(),
        "stories": int(corpus.store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0]),
        "digests_remade": remade, "how": how, "phases": rows,
        "process_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return
    print(f"{result['articles']:,} articles, {result['stories']:,} stories"
          f" ({how.get('method')}), {remade:,} digests made again")  # fmt: skip
    print(f"{'phase':<14} {'seconds':>9} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['phase']:<14} {r['seconds']:>9.1f} {r['peak_mib']:>9,.0f}")
    print(f"process peak {result['process_peak_mib']:,.0f} MiB")


if __name__ == "__main__":
    main()
