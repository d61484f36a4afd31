"""Writing the reports of a large store: seconds, peak RSS and size of each file.

``storyline run`` ends by writing report.json (everything in the store) and report.html.
report.json is streamed from the store an item at a time, and the page shows the newest
``[report] html_stories`` stories (``storyline.report.build.write_store_reports``). ``--whole``
measures the way they were written before: the whole report built as one dict, encoded as one
string, and every story rendered into the page. Each measurement runs in a fresh subprocess
(its peak RSS is its own) over the store given, which it only reads.

    .venv/bin/python benchmarks/report_volume.py --store S.db
    .venv/bin/python benchmarks/report_volume.py --store S.db --whole

Stores to try it on: ``benchmarks/pipeline_volume.py --keep DIR`` keeps the stores it builds.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(how: str, db: str, out: str) -> None:
    from storyline.config import Settings
    from storyline.store import Store

    store = Store(db)
    t = time.perf_counter()
    if how == "whole":
        from storyline.report.build import build_report
        from storyline.report.html import render_html

        report = build_report(store, Settings())
        Path(out, "report.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8"
        )
        Path(out, "report.html").write_text(render_html(report), "utf-8")
    else:
        from storyline.report.build import write_store_reports

        write_store_reports(store, Settings(), out, ("json", "html"))
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sizes = {p.name: p.stat().st_size / 2**20 for p in Path(out).iterdir()}
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "sizes": sizes}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", help="the store to write reports of (required)")
    parser.add_argument("--whole", action="store_true", help="also the whole-report way")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if not args.store:
        parser.error("--store is required")
    import sqlite3

    with sqlite3.connect(args.store) as con:
        articles = con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        stories = con.execute("SELECT COUNT(*) FROM stories").fetchone()[0]
    print(f"store {args.store}: {articles:,} articles, {stories:,} stories")
    print(
        f"{'how':>9} {'seconds':>8} {'peak MiB':>9} {'report.json MiB':>16} {'report.html MiB':>16}"
    )
    for how in ("streamed", *(["whole"] if args.whole else [])):
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run(
                [sys.executable, __file__, "--child", how, args.store, out],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            r = json.loads(done.stdout.strip().splitlines()[-1])
        s = r["sizes"]
        print(f"{how:>9} {r['seconds']:>8.1f} {r['peak_mib']:>9,.0f}"
              f" {s.get('report.json', 0):>16,.0f} {s.get('report.html', 0):>16,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
