"""The whole pipeline at volume, and what ``storyline add`` costs on a large store.

Invents stories from a seeded generator: each story has its own names, places, figures and
quotes and runs over a few days; its articles are 400-800 words from several outlets, each
independent report written afresh around the story's names (sharing one or two quotes).
Sentences draw their content words by frequency from a shared vocabulary of 4,000 invented
words (Zipf weights) with the story's terms, names and places among them, so independent
reports of one story share words about as often as real ones do: the run prints the share
of a story's cross-article sentence pairs that pass the lexical gate before the sentence
model (``storyline.reuse.lexical``), to set beside DUC 2003's 3.2 %
(``benchmarks/lexical_gate.py``). Reuse is planted: of the articles after a story's first,
6 % are duplicates of an earlier one (another outlet, same text), 6 % near-duplicates (a
sentence changed, added or dropped) and 8 % spun rewrites (the common words swapped for
rarer synonyms, about a fifth of all words). Articles are written as JSONL (500 to a file),
in time order.

Two measurements, each in a fresh subprocess (peak RSS is that process's):

* ``--bases 0,10000 --add 1000``: a store of each base size is built with ``storyline run``
  over the first articles, then the next 1,000 are added with ``Corpus.add``; prints the
  seconds of each stage of the add. The goal: adding to a large store costs what is added,
  so the largest base's add is within 1.5x of the empty one's. The empty store's add is of the
  corpus's first articles; a row marked (*) adds the largest base's own 1,000 to an empty
  store, the same work but for the store.
* ``--sizes 10000``: one run over N articles, ingest to digest and the reports (report.json
  and report.html, as ``storyline run`` writes them): seconds and articles/s per stage and
  overall, peak RSS.

Each row also prints the store's stories scored against the generator's (BCubed, the story
being the number in each article's URL) and how many planted copies were found.

``--model hashing`` swaps the sentence model for the lexical hashing embedder, and
``--model hashing+rules`` also lists the digest's entities by rules instead of spaCy, to
measure how cost grows with the store apart from the models' own cost (say so when you
quote it).

    .venv/bin/python benchmarks/pipeline_volume.py --bases 0,2000,10000 --add 1000
    .venv/bin/python benchmarks/pipeline_volume.py --sizes 2000,10000
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STAGES = ("ingest", "clean", "segment", "reuse", "stories", "digest")
OUTLETS = [f"{a} {b}" for a in ("Harbor", "Valley", "Summit", "Granite", "Tidewater", "Kestrel",
           "Ashford", "Meridian") for b in ("Ledger", "Courier", "Post", "Times")]  # fmt: skip
SYLLABLES = "ka lo ver mi dan tor el sa ri bu nel ost qua fen wick har dro ly mar zen".split()
FUNCTION = ("the of in to a and on for with as by at from that was is has will were after "
            "over its their".split())  # fmt: skip


def _vocabulary(size: int = 4000) -> tuple[list[str], list[float], dict[str, str]]:
    """Invented content words with Zipf weights (the thousandth word is a thousand times
    rarer than the first, as in news prose), and a thesaurus for the spinner: each of the
    300 most common words has a rarer synonym."""
    rng = random.Random(5)
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    vocab = list(words)
    weights = [1.0 / (r + 10) for r in range(size)]
    synonyms = {w: vocab[rng.randrange(1000, size)] for w in vocab[:300]}
    return vocab, weights, synonyms


VOCAB, WEIGHTS, SYNONYMS = _vocabulary()
# random.choices with these instead of the weights draws the same words without summing
# 4,000 weights for every word (generating 100,000 articles took 20 minutes that way).
CUM_WEIGHTS = list(itertools.accumulate(WEIGHTS))


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(n))


def _sentence(rng: random.Random, names: list[str], places: list[str], terms: list[str]) -> str:
    """A sentence of 12-30 words: function words between content words drawn by frequency
    from the shared vocabulary, with the story's own terms, names and places among them."""
    if rng.random() < 0.1:
        return (f"About {rng.randint(2, 90) * 100:,} {rng.choices(VOCAB, cum_weights=CUM_WEIGHTS)[0]} "
                f"{rng.choice(terms)} were affected in {rng.choice(places)}, according to "
                f"{rng.choice(names)}.")  # fmt: skip
    out: list[str] = []
    for _ in range(rng.randint(12, 30)):
        r = rng.random()
        if r < 0.45:
            out.append(rng.choice(FUNCTION))
        elif r < 0.53:
            out.append(rng.choice(terms))
        elif r < 0.56:
            out.append(rng.choice(names))
        elif r < 0.58:
            out.append(rng.choice(places))
        else:
            out.append(rng.choices(VOCAB, cum_weights=CUM_WEIGHTS)[0])
    if rng.random() < 0.2:
        out += ["said", rng.choice(names)]
    return f"{out[0][:1].upper()}{' '.join(out)[1:]}."


def _article(
    rng: random.Random, quotes: list[str], names: list[str], places: list[str], terms: list[str]
) -> list[str]:
    """An independent report: its own sentences about the story's names, places and terms,
    and one or two of the story's quotes (which independent reports share)."""
    out: list[str] = rng.sample(quotes, rng.randint(1, 2))
    words = rng.randint(400, 800)
    while sum(len(s.split()) for s in out) < words:
        out.insert(rng.randrange(len(out) + 1), _sentence(rng, names, places, terms))
    return out


def _spin(sentences: list[str], rng: random.Random) -> list[str]:
    out = []
    for s in sentences:
        ws = s.split()
        out.append(" ".join(SYNONYMS.get(w, w) if rng.random() < 0.9 else w for w in ws))
    return out


def generate(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """N articles in time order, as JSONL records; reuse planted within stories."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    records: list[dict[str, Any]] = []
    story = 0
    clock = 0.0
    while len(records) < n:
        story += 1
        names = [f"{_word(rng, 2).title()} {_word(rng, 3).title()}" for _ in range(4)]
        places = [_word(rng, 3).title() for _ in range(2)]
        terms = [_word(rng, 2) for _ in range(6)]
        quotes = [
            f'"The {terms[q]} will not wait for the {terms[q + 1]}," {names[q]} said.'
            for q in range(3)
        ]
        size = min(n - len(records), 150, max(1, int(rng.paretovariate(1.3))))
        clock += rng.expovariate(1.0) * 0.5  # hours between story starts
        made: list[list[str]] = []
        urls: list[str] = []
        for a in range(size):
            r = rng.random()
            kind, source = "independent", None
            if made and r < 0.06:
                at = rng.randrange(len(made))
                body, kind, source = list(made[at]), "duplicate", urls[at]
            elif made and r < 0.12:
                at = rng.randrange(len(made))
                body, kind, source = list(made[at]), "near_duplicate", urls[at]
                body[rng.randrange(len(body))] = _sentence(rng, names, places, terms)
            elif made and r < 0.20:
                at = rng.randrange(len(made))
                body, kind, source = _spin(made[at], rng), "rewrite", urls[at]
            else:
                body = _article(rng, quotes, names, places, terms)
            made.append(body)
            when = start + timedelta(hours=clock + a * rng.uniform(0.5, 3))
            outlet = rng.choice(OUTLETS)
            i = len(records)
            url = f"https://{outlet.lower().replace(' ', '')}.example/{story}/{i}"
            urls.append(url)
            records.append({
                "url": url, "source": outlet,
                "title": f"{names[0]} and the {terms[0]} of {places[0]}",
                "published": when.isoformat(), "text": "\n\n".join(body), "_kind": kind,
                "_source": source,
            })  # fmt: skip
    records.sort(key=lambda r: (r["published"], r["url"]))
    return records


def write(records: list[dict[str, Any]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(records), 500):
        with open(folder / f"part-{i // 500:05d}.jsonl", "w", encoding="utf-8") as fh:
            for r in records[i : i + 500]:
                fh.write(json.dumps({k: v for k, v in r.items() if k[0] != "_"}) + "\n")
    planted = {r["url"]: [r["_kind"], r["_source"]] for r in records if r["_source"]}
    _planted(folder).write_text(json.dumps(planted))


def _planted(folder: Path) -> Path:
    """Where the planted copies of a folder of articles are kept (beside it, not in it)."""
    return folder.parent / f"{folder.name}.planted.json"


def planted_recall(corpus: Any, folders: list[str]) -> dict[str, list[int]]:
    """Of the planted copies (``NAME.planted.json`` beside the articles), how many stand in one
    copy family with their source, by kind: ``{kind: [found, planted]}``. A copy whose source
    is another article of the same run counts; copies of articles outside these folders are
    left out."""
    planted: dict[str, list[Any]] = {}
    for folder in folders:
        path = _planted(Path(folder))
        if path.exists():
            planted.update(json.loads(path.read_text()))
    ids = {r[1]: r[0] for r in corpus.store.db.execute("SELECT id, url FROM articles")}
    families = corpus.store.families()
    out: dict[str, list[int]] = {}
    for url, (kind, source) in planted.items():
        if url not in ids or source not in ids:
            continue
        a, b = ids[url], ids[source]
        row = out.setdefault(kind, [0, 0])
        row[0] += int(a in families and families.get(a) == families.get(b))
        row[1] += 1
    return out


def story_scores(corpus: Any) -> dict[str, float]:
    """The store's stories against the generator's (each article's story is the number in
    its URL): BCubed precision, recall and F1, and the counts of both."""
    from storyline.stories.metrics import bcubed

    url = dict(corpus.store.db.execute("SELECT id, url FROM articles").fetchall())
    pred = dict(corpus.store.db.execute("SELECT article_id, story_id FROM story_members"))
    gold = {a: {url[a].split("/")[3]} for a in pred}
    out = bcubed(pred, gold)
    out["stories"] = len(set(pred.values()))
    out["generated"] = len({next(iter(g)) for g in gold.values()})
    return out


def gate_share(records: list[dict[str, Any]], limit: int = 2000) -> float:
    """The share of cross-article sentence pairs within a story, among its independent
    reports, that pass the lexical gate (``storyline.reuse.lexical.MIN_OVERLAP``)."""
    import re

    import numpy as np

    from storyline.reuse.lexical import MIN_OVERLAP, overlap, stem_matrix

    by_story: dict[str, list[list[str]]] = {}
    for r in records[:limit]:
        if r["_kind"] == "independent":
            sentences = [s for s in re.split(r"(?<=[.!?])\s+", r["text"]) if len(s.split()) >= 5]
            by_story.setdefault(r["url"].split("/")[3], []).append(sentences)
    passed = total = 0
    for articles in by_story.values():
        if len(articles) < 2:
            continue
        texts = [s for a in articles for s in a]
        owner = np.repeat(np.arange(len(articles)), [len(a) for a in articles])
        m, n = stem_matrix(texts)
        i, j, coef, _ = overlap(m, n, m, n)
        passed += int(((coef >= MIN_OVERLAP) & (owner[i] != owner[j])).sum())
        sizes = np.bincount(owner)
        total += int(sizes.sum() ** 2 - (sizes**2).sum())
    return passed / max(1, total)


def _settings(model: str) -> Any:
    from storyline.config import Settings

    s = Settings()
    name, _, entities = model.partition("+")
    s.embed.model = name
    if entities:  # "hashing+rules": the digest's entity lists by rules instead of spaCy
        s.digest.entities = entities
    return s


class StagePeaks:
    """Peak resident memory per stage: the pipeline names its stage through the progress
    interface, and a thread samples this process's RSS every 50 ms."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.stage = "start"
        self.peaks: dict[str, float] = {}
        self.all_peak = 0.0  # this process and its workers together
        self.all_peaks: dict[str, float] = {}  # the same, per stage
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.wait(0.05):
            mib = self.proc.memory_info().rss / 2**20
            stage = self.stage.split(":")[0]
            self.peaks[stage] = max(self.peaks.get(stage, 0.0), mib)
            workers = 0.0
            for p in self.proc.children(recursive=True):
                with contextlib.suppress(Exception):  # a worker may end before the read
                    workers += p.memory_info().rss / 2**20
            self.all_peak = max(self.all_peak, mib + workers)
            self.all_peaks[stage] = max(self.all_peaks.get(stage, 0.0), mib + workers)

    def start(self, stage: str, total: int | None) -> None:
        if stage.split(":")[0] != self.stage.split(":")[0]:  # a line per stage, for long runs
            mib = self.proc.memory_info().rss / 2**20
            print(
                f"[pipeline_volume] {time.strftime('%H:%M:%S')} {stage} ({total or '?'}),"
                f" RSS {mib:,.0f} MiB, peaks so far { ({k: round(v) for k, v in self.peaks.items()}) }",
                file=sys.stderr,
                flush=True,
            )
        self.stage = stage

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


def child(kind: str, base: str, extra: str, db: str, model: str, workers: str, out: str) -> None:
    from storyline.corpus import Corpus
    from storyline.engine import make_engine

    settings = _settings(model)
    result: dict[str, Any] = {}
    peaks = StagePeaks()
    engine = make_engine("local", workers=int(workers))
    with Corpus(db, settings) as corpus:
        if base:
            t = time.perf_counter()
            run = corpus.add([base], peaks, engine)
            result["base_seconds"] = time.perf_counter() - t
            result["base_timings"] = run.timings
            result["base_stage_peaks_mib"], peaks.peaks = peaks.peaks, {}
            peaks.stage = "start"
        if extra:
            io = _disk_io()
            t = time.perf_counter()
            run = corpus.add([extra], peaks, engine)
            result["seconds"] = time.perf_counter() - t
            result["disk_mib"] = [(b - a) / 2**20 for a, b in zip(io, _disk_io(), strict=True)]
            result["timings"] = run.timings
            result["counts"] = {k: v for k, v in run.counts.items() if not isinstance(v, dict)}
        if kind == "run":  # `storyline run` ends by writing report.json and report.html
            peaks.stage = "report"
            with tempfile.TemporaryDirectory() as reports:
                t = time.perf_counter()
                corpus.write_report(reports)
                result["timings"]["report"] = time.perf_counter() - t
                result["seconds"] += result["timings"]["report"]
        peaks.stage = "checks"  # what follows is the benchmark's own counting
        result["articles"] = corpus.store.count_articles()
        result["planted"] = planted_recall(corpus, [x for x in (base, extra) if x])
        result["stories"] = story_scores(corpus)
    engine.close()
    peaks.done.set()
    peaks.thread.join()
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["worker_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["stage_peaks_mib"] = peaks.peaks
    result["all_peak_mib"] = peaks.all_peak
    result["stage_all_peaks_mib"] = peaks.all_peaks
    Path(out).write_text(json.dumps(result))


def _disk_io() -> tuple[int, int]:
    """Bytes this process has read from and written to the disk (not the page cache), on
    Linux; zeros elsewhere. A large store's add reads what the cache lacks and writes each
    changed page twice (the WAL, then the checkpoint)."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
        return int(fields["read_bytes"]), int(fields["write_bytes"])
    except (OSError, KeyError, ValueError):
        return 0, 0


def _spawn(*args: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        subprocess.run([sys.executable, __file__, "--child", *args, fh.name], check=True)
        return json.loads(Path(fh.name).read_text())


COUNTS = ("compared", "links", "embedded_reuse", "embed_seconds_reuse", "embedded_stories",
          "embed_seconds_stories", "embedded_digest", "embed_seconds_digest", "fact_pairs_scored",
          "fact_sentences_searched",
          "fact_pairs_reused", "digests")  # fmt: skip


def _counts(r: dict[str, Any]) -> None:
    """The work behind the seconds: article pairs compared, sentences embedded per stage,
    sentence pairs the digest scored and reused."""
    c = r.get("counts", {})
    print("          " + ", ".join(f"{k} {c[k]:,}" for k in COUNTS if k in c))
    if "disk_mib" in r:
        read, written = r["disk_mib"]
        print(f"          disk: {read:,.0f} MiB read, {written:,.0f} MiB written")
    st = r.get("stories")
    if st:
        print(f"          stories {st['stories']:,} (generated {st['generated']:,}), against the"
              f" generator's: BCubed F1 {st['f1']:.3f} (P {st['precision']:.3f},"
              f" R {st['recall']:.3f})")  # fmt: skip
    found = r.get("planted", {})
    if found:
        print("          planted copies in one family with their source: " + ", ".join(
            f"{k} {f}/{n}" for k, (f, n) in sorted(found.items())))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bases", default="", help="store sizes to add to, e.g. 0,10000")
    parser.add_argument("--add", type=int, default=1000, help="articles added to each base")
    parser.add_argument("--sizes", default="", help="whole-pipeline runs, e.g. 10000,100000")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", default="", help="write the articles and stores to this "
                        "folder and keep them (default: a temporary folder)")  # fmt: skip
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes of the local engine "
        "(storyline run --workers): 1 is one process, 0 one per core",
    )
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    bases = [int(x) for x in args.bases.split(",") if x]
    sizes = [int(x) for x in args.sizes.split(",") if x]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        need = max([*(b + args.add for b in bases), *sizes, 0])
        records = generate(need, args.seed)
        print(f"generated {len(records):,} articles; cross-article sentence pairs of a story "
              f"passing the lexical gate: {gate_share(records):.1%} (DUC 2003: 3.2%)")  # fmt: skip
        if bases:
            rows = []
            for b in bases:
                write(records[:b], root / f"base{b}")
                write(records[b : b + args.add], root / f"add{b}")
                print(f"[pipeline_volume] base {b:,}: building, then adding {args.add:,}",
                      file=sys.stderr, flush=True)  # fmt: skip
                r = _spawn("add", str(root / f"base{b}") if b else "", str(root / f"add{b}"),
                           str(root / f"s{b}.db"), args.model, str(args.workers))  # fmt: skip
                rows.append((b, r))
            top = max(bases)
            if top and 0 in bases:  # the largest base's own new articles, into an empty store
                print(f"[pipeline_volume] the {args.add:,} added to {top:,}, into an empty store",
                      file=sys.stderr, flush=True)  # fmt: skip
                r = _spawn("add", "", str(root / f"add{top}"), str(root / f"same{top}.db"),
                           args.model, str(args.workers))  # fmt: skip
                rows.insert(1, (-top, r))
            print(f"\nadd {args.add:,} articles to a store of N (model {args.model}); seconds")
            head = f"{'store N':>9} " + " ".join(f"{s:>8}" for s in STAGES)
            print(head + f" {'add s':>8} {'× empty':>8} {'peak MiB':>9} {'base s':>8}")
            first = rows[0][1]["seconds"]
            for b, r in rows:
                t = r["timings"]
                label = f"{b:>9,}" if b >= 0 else f"{'0 (*)':>9}"
                print(f"{label} " + " ".join(f"{t.get(s, 0):>8.2f}" for s in STAGES)
                      + f" {r['seconds']:>8.1f} {r['seconds'] / first:>8.2f}"
                      f" {r['peak_rss_mib']:>9.0f} {r.get('base_seconds', 0):>8.0f}")  # fmt: skip
                _counts(r)
            if top and 0 in bases:
                same = dict(rows)
                print(f"(*) the {args.add:,} articles added to the store of {top:,}, added to an "
                      "empty store instead: the same articles, so the same work but for the store;"
                      f" into {top:,} they took {same[top]['seconds'] / same[-top]['seconds']:.2f}x"
                      " as long")  # fmt: skip
            for b, r in rows:
                if b > 0:
                    t = r["base_timings"]
                    print(f"building the store of {b:,}: {r['base_seconds']:.1f} s ("
                          + ", ".join(f"{s} {t.get(s, 0):.1f}" for s in STAGES)
                          + f"), {b / r['base_seconds']:.1f} articles/s; peak MiB per stage: "
                          + ", ".join(f"{s} {r['base_stage_peaks_mib'].get(s, 0):,.0f}"
                                      for s in STAGES))  # fmt: skip
        for n in sizes:
            write(records[:n], root / f"all{n}")
            print(f"[pipeline_volume] whole pipeline over {n:,}", file=sys.stderr, flush=True)
            r = _spawn("run", "", str(root / f"all{n}"), str(root / f"all{n}.db"), args.model,
                       str(args.workers))  # fmt: skip
            t = r["timings"]
            print(f"\nwhole pipeline over {n:,} articles (model {args.model}, workers"
                  f" {args.workers})")  # fmt: skip
            peak = r.get("stage_peaks_mib", {})
            every = r.get("stage_all_peaks_mib", {})  # with the workers
            print(f"{'stage':>8} {'seconds':>9} {'articles/s':>11} {'peak MiB':>9} {'all MiB':>8}")
            for s in (*STAGES, "report"):
                print(f"{s:>8} {t.get(s, 0):>9.1f} {n / max(t.get(s, 0), 1e-9):>11.0f}"
                      f" {peak.get(s, 0):>9.0f} {every.get(s, 0):>8.0f}")  # fmt: skip
            print(f"{'overall':>8} {r['seconds']:>9.1f} {n / r['seconds']:>11.1f}"
                  f"   peak RSS {r['peak_rss_mib']:.0f} MiB; workers: the largest"
                  f" {r['worker_peak_rss_mib']:.0f} MiB, all processes together"
                  f" {r['all_peak_mib']:.0f} MiB")  # fmt: skip
            _counts(r)


if __name__ == "__main__":
    main()
