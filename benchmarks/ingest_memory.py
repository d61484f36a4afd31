"""Memory of reading one very large input file: a 1 GB JSONL and a 1 GB WARC need far less.

Writes a JSONL file and a WARC file of about ``--size-mb`` each (articles of
``pipeline_volume``'s generator; the WARC's pages carry realistic page furniture, about
60 KB of HTML per article, as crawled news pages do), then, each in a fresh subprocess:

* ``read``: every record through the reader and the ingest limits (``iter_inputs``);
* ``ingest``: the ingest stage into a new SQLite store (what ``storyline run`` does first).

Prints records, seconds, records/s and the subprocess's peak RSS. Readers stream (a JSONL
line, a WARC record at a time), so peak memory is that of the largest record plus the
libraries, not the file's size.

    .venv/bin/python benchmarks/ingest_memory.py --size-mb 1024
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FURNITURE = (
    "<nav>" + "".join(f'<a href="/section/{i}">Section {i}</a> ' for i in range(120)) + "</nav>"
    + "<style>" + ".c{margin:0;padding:0;color:#333}" * 400 + "</style>"
    + "<script>var track = {};" + "track.e.push({k: 1, v: 'x'});" * 900 + "</script>"
    + "<footer>" + "<p>Related: <a href='/r'>Another headline here</a></p>" * 80 + "</footer>"
)  # fmt: skip


def write_inputs(folder: Path, size_mb: int) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from pipeline_volume import generate
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pool = generate(2000, seed=3)
    target = size_mb * 2**20
    jsonl = folder / "big.jsonl"
    with open(jsonl, "w", encoding="utf-8") as fh:
        i = 0
        while fh.tell() < target:
            r = pool[i % len(pool)]
            rec = {k: v for k, v in r.items() if k[0] != "_"}
            rec["url"] = f"{rec['url']}?copy={i}"
            fh.write(json.dumps(rec) + "\n")
            i += 1
    warc = folder / "big.warc"
    with open(warc, "wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        i = 0
        while fh.tell() < target:
            r = pool[i % len(pool)]
            body = "".join(f"<p>{p}</p>" for p in r["text"].split("\n\n"))
            html = (
                f"<!doctype html><html><head><title>{r['title']}</title></head><body>"
                f"{FURNITURE}<article><h1>{r['title']}</h1>{body}</article></body></html>"
            ).encode()
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            url = f"{r['url']}?copy={i}"
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(html), http_headers=headers
                )  # fmt: skip
            )
            i += 1
    return {"jsonl": jsonl, "warc": warc}


def child(kind: str, path: str, db: str) -> None:
    from storyline.ingest import iter_inputs
    from storyline.records import RawDoc

    t = time.perf_counter()
    records = problems = 0
    if kind == "read":
        for item in iter_inputs([path]):
            if isinstance(item, RawDoc):
                records += 1
            else:
                problems += 1
    else:
        from storyline.config import Settings
        from storyline.pipeline import STAGES, run_pipeline
        from storyline.store import Store

        store = Store(db)
        result = run_pipeline(store, [path], Settings(), stages=[STAGES[0]])
        records = result.counts.get("articles_new", 0)
        problems = len(result.problems)
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"records": records, "problems": problems,
                      "seconds": time.perf_counter() - t, "peak_mib": peak}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--kinds", default="read,ingest")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        files = write_inputs(Path(tmp), args.size_mb)
        print(f"wrote {', '.join(f'{p.name} {p.stat().st_size / 2**20:.0f} MiB' for p in files.values())}"
              f" in {time.perf_counter() - t:.0f} s")  # fmt: skip
        print(f"{'file':8} {'step':7} {'MiB':>6} {'records':>8} {'problems':>8} {'seconds':>8} "
              f"{'rec/s':>7} {'peak RSS MiB':>13}")  # fmt: skip
        for name, path in files.items():
            for kind in args.kinds.split(","):
                db = Path(tmp) / f"{name}-{kind}.db"
                out = subprocess.run(
                    [sys.executable, __file__, "--child", kind, str(path), str(db)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{name:8} {kind:7} {path.stat().st_size / 2**20:6.0f} {r['records']:8d} "
                      f"{r['problems']:8d} {r['seconds']:8.1f} {r['records'] / r['seconds']:7.0f} "
                      f"{r['peak_mib']:13.0f}")  # fmt: skip
                db.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
