"""Ingest throughput: how fast storyline reads, cleans and segments a folder of news.

The script invents N distinct synthetic articles from a seeded random generator and writes
them into a temporary folder as a mix of formats: JSONL files (500 articles per file),
plain-text files with a front-matter header, and HTML pages with site boilerplate. It then
runs ``Corpus(db).add([folder])`` on that folder and reports, per pipeline stage (ingest,
clean, segment) and in total, the seconds taken and articles per second, the number of
sentences found, and the peak resident memory of the process.

Each measurement runs in a fresh subprocess, so the generator's memory is not counted and
every configuration starts cold. Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
of that subprocess (it includes the interpreter and the imported libraries).

Run it from the repository root::

    .venv/bin/python benchmarks/ingest_throughput.py
    .venv/bin/python benchmarks/ingest_throughput.py --sizes 1000,5000 --memory --json
    .venv/bin/python benchmarks/ingest_throughput.py --articles 2000 --formats jsonl:1,html:1

``--formats`` takes format names with optional weights (``jsonl:8,txt:1,html:1``); without
weights JSONL gets 80% of the articles and the other formats share the rest equally.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

KNOWN_FORMATS = ("jsonl", "txt", "html")
JSONL_PER_FILE = 500
STAGES = ("ingest", "clean", "segment")

# -- invented vocabulary -------------------------------------------------------------------

OUTLETS = [
    "Harbor Ledger", "Northfield Courier", "Valley Dispatch", "Copperline Times",
    "Eastgate Herald", "Riverbend Post", "Summit Gazette", "Lakeshore Tribune",
    "Pinecrest Observer", "Meridian Daily", "Foxhollow Record", "Granite Sentinel",
    "Bluewater Chronicle", "Ashford Bulletin", "Kestrel News", "Silverton Examiner",
    "Oakridge Monitor", "Westmarch Journal", "Tidewater Star", "Brightmoor Register",
]  # fmt: skip
SUBJECTS = [
    "The city council", "A regional water board", "The transport ministry", "Local farmers",
    "The port authority", "A coalition of tenants", "The state auditor", "Hospital staff",
    "The harbour pilots' union", "Two rival bakeries", "The university senate",
    "A group of beekeepers", "The fire brigade", "Provincial regulators", "The school board",
    "Shipyard workers", "The tourism office", "A consortium of lenders", "The parks department",
    "Volunteer cartographers", "The weather service", "A neighbourhood association",
    "The customs agency", "Electric utility engineers", "The chess federation",
    "Rail commuters", "The museum trustees", "A cooperative of fishers", "The mining inspectorate",
    "Airport controllers",
]  # fmt: skip
VERBS = [
    "approved", "rejected", "postponed", "announced", "questioned", "defended", "unveiled",
    "criticised", "funded", "paused", "expanded", "audited", "renamed", "relocated", "reviewed",
    "challenged", "endorsed", "scrapped", "revised", "tested", "doubled", "trimmed",
    "published", "contested", "inspected",
]  # fmt: skip
OBJECTS = [
    "a plan to widen the ring road", "the budget for flood barriers", "a pilot for night buses",
    "new rules on short-term rentals", "the merger of two clinics", "a tax on parking spaces",
    "the reopening of the old quarry", "a fund for rooftop gardens", "a study of river silt",
    "the timetable for the ferry", "a ban on leaf blowers", "the design of the new library",
    "an inquiry into billing errors", "a grant for rural broadband", "the sale of a harbour pier",
    "a curfew for delivery drones", "the cleanup of the canal", "a deal on wind turbines",
    "plans for a desalination plant", "the audit of pension funds", "a scheme to plant oaks",
    "the closure of a salt mine", "a registry of stray cats", "a bridge toll increase",
    "a contract for snow clearing", "the rebuilding of the covered market",
    "a survey of cracked pavements", "the lease of the airfield", "a cap on ticket prices",
    "the repair of the lighthouse",
]  # fmt: skip
PLACES = [
    "Port Alden", "Marrowby", "Quillfield", "Dunmere", "Saltcombe", "Ironvale", "Westhaven",
    "Brackenford", "Larkspur Bay", "Thornwick", "Galloway Cross", "Elmstead", "Crowmarsh",
    "Fenwick Harbour", "Stonebridge", "Wrenfield", "Ambleside Flats", "Kettering Point",
    "Norcastle", "Hollins Reach",
]  # fmt: skip
WHEN = [
    "on Tuesday", "late on Monday", "this week", "after a long debate", "in a closed session",
    "before the summer recess", "at a packed hearing", "on Friday evening", "earlier this month",
    "during a brief meeting", "without a public vote", "after months of delay",
]  # fmt: skip
PEOPLE = [
    "Mara Okafor", "Teodor Lindqvist", "Ines Barroso", "Kwame Mensah", "Yuki Tanabe",
    "Priya Raman", "Olek Sadowski", "Hannah Brevik", "Luis Echeverría", "Amara Diallo",
    "Jonas Feld", "Saoirse Quinlan", "Dmitri Volkov", "Leila Haddad", "Tomás Ferreira",
    "Ngozi Eze", "Felix Marchetti", "Ana Lucía Vega", "Rohan Kapoor", "Elsa Nyberg",
]  # fmt: skip
ROLES = [
    "a council spokesperson", "the board's chair", "a union representative", "an economist",
    "the deputy mayor", "a local shop owner", "a civil engineer", "the agency's director",
    "a resident of the area", "an opposition councillor", "a budget analyst", "a historian",
]  # fmt: skip
QUOTES = [
    "We have waited long enough for this", "The numbers simply do not add up",
    "Nobody asked the people who live here", "This is a good day for the town",
    "We will keep pressing for answers", "It is too early to call it a success",
    "The money has to come from somewhere", "I have never seen a turnout like this",
    "We expect the first results by spring", "There is still a lot of work to do",
    "Our members feel they were ignored", "The plan is fair to everyone involved",
]  # fmt: skip
FIGURES = [
    "The project is expected to cost {money} and to take {n} months.",
    "Turnout at the meeting was {pct}, officials said.",
    "About {n} residents signed a petition against the proposal.",
    "The vote passed {a} to {b}.",
    "Officials said {money} had already been spent on early studies.",
    "Prices in {place} rose {pct} over the past year.",
    "The agency said it would publish a report on {n} cases by the end of the quarter.",
    "Some {n} households in {place} could be affected.",
]  # fmt: skip
CONTEXT = [
    "The decision follows a similar move in {place} last year.",
    "Critics say the proposal was rushed through.",
    "Supporters argue it will create jobs in {place}.",
    "A final decision is not expected before the autumn.",
    "The measure still needs approval from the regional assembly.",
    "Residents of {place} have complained about the issue for years.",
    "It was not immediately clear how the plan would be funded.",
    "The agency did not respond to a request for comment.",
    "Similar plans were shelved twice in the past decade.",
    "Opponents have promised to challenge the decision in court.",
]  # fmt: skip

NAV = "Home | Local | Business | Sport | Opinion | Weather | Subscribe"
FOOTER_LINES = [
    "© 2026 {outlet}. All rights reserved.",
    "Contact the newsroom | Privacy policy | Terms of use | Advertise with us",
]


# -- generation ----------------------------------------------------------------------------


@dataclass
class Article:
    index: int
    outlet: str
    outlet_no: int
    url: str
    title: str
    published: str
    paragraphs: list[str]
    sentences: int


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _money(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"${rng.randint(1, 99)}.{rng.randint(1, 9)} million"
    return f"${rng.randint(100, 9999):,}"


def _pct(rng: random.Random) -> str:
    return f"{rng.randint(1, 60)}.{rng.randint(0, 9)}%"


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    place = rng.choice(PLACES)
    if kind < 0.40:
        return (
            f"{rng.choice(SUBJECTS)} in {place} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(WHEN)}."
        )
    if kind < 0.62:
        quote = rng.choice(QUOTES)
        speaker = f"{rng.choice(PEOPLE)}, {rng.choice(ROLES)}"
        if rng.random() < 0.5:
            return f"“{quote},” said {speaker}."
        return f"{speaker}, said: “{quote}.”"
    if kind < 0.82:
        template = rng.choice(FIGURES)
        a = rng.randint(5, 30)
        return template.format(
            money=_money(rng),
            n=rng.randint(3, 48_000),
            pct=_pct(rng),
            a=a,
            b=rng.randint(0, a - 1),
            place=place,
        )
    return rng.choice(CONTEXT).format(place=place)


def generate(n: int, seed: int, start: datetime) -> list[Article]:
    """N distinct articles: 6-12 paragraphs of 1-3 sentences, ~20 outlets, weeks of dates."""
    rng = random.Random(seed)
    articles = []
    span_s = 6 * 7 * 24 * 3600  # six weeks
    for i in range(n):
        outlet_no = rng.randrange(len(OUTLETS))
        outlet = OUTLETS[outlet_no]
        subject = rng.choice(SUBJECTS)
        title = f"{subject} {rng.choice(VERBS)} {rng.choice(OBJECTS)} in {rng.choice(PLACES)}"
        published = start + timedelta(seconds=rng.randrange(span_s))
        paragraphs = []
        # The lead carries the article number, so no two articles can ever be equal.
        lead = (
            f"{subject} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(WHEN)}, "
            f"in a move first reported as item {i + 1:05d} of the day's agenda."
        )
        paragraphs.append(lead)
        sentences = 1
        for _ in range(rng.randint(6, 12) - 1):
            count = rng.randint(1, 3)
            paragraphs.append(" ".join(_sentence(rng) for _ in range(count)))
            sentences += count
        articles.append(
            Article(
                index=i,
                outlet=outlet,
                outlet_no=outlet_no,
                url=f"https://www.outlet{outlet_no + 1}.example/news/{i}",
                title=title,
                published=published.strftime("%Y-%m-%dT%H:%M:%SZ"),
                paragraphs=paragraphs,
                sentences=sentences,
            )
        )
    return articles


def parse_formats(spec: str) -> dict[str, float]:
    """``jsonl,txt,html`` or ``jsonl:8,txt:1,html:1`` as normalised weights."""
    weights: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        name = name.strip().lower()
        if name not in KNOWN_FORMATS:
            raise SystemExit(f"unknown format {name!r}; choose from {', '.join(KNOWN_FORMATS)}")
        weights[name] = float(weight) if weight else -1.0
    if not weights:
        raise SystemExit("--formats names no format")
    unweighted = [k for k, w in weights.items() if w < 0]
    if unweighted:
        if len(weights) == 1:
            weights = {unweighted[0]: 1.0}
        elif "jsonl" in unweighted and len(unweighted) == len(weights):
            weights = {k: (8.0 if k == "jsonl" else 2.0 / (len(weights) - 1)) for k in weights}
        else:
            for k in unweighted:
                weights[k] = 1.0
    total = sum(weights.values())
    if total <= 0:
        raise SystemExit("--formats weights must add up to more than zero")
    return {k: w / total for k, w in weights.items()}


def assign_formats(n: int, weights: dict[str, float]) -> list[str]:
    """Exact counts per format (largest remainder), interleaved by article index."""
    raw = {k: w * n for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    by_remainder = sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)
    for k in by_remainder[: n - sum(counts.values())]:
        counts[k] += 1
    order: list[str] = []
    for k in KNOWN_FORMATS:
        order.extend([k] * counts.get(k, 0))
    random.Random(n).shuffle(order)
    return order


def mix_label(n: int, weights: dict[str, float]) -> str:
    counts: dict[str, int] = {}
    for fmt in assign_formats(n, weights):
        counts[fmt] = counts.get(fmt, 0) + 1
    return "/".join(f"{k}:{counts[k]}" for k in KNOWN_FORMATS if counts.get(k))


def _txt(article: Article) -> str:
    head = (
        "---\n"
        f"title: {article.title}\n"
        f"source: {article.outlet}\n"
        f"url: {article.url}\n"
        f"published: {article.published}\n"
        "---\n"
    )
    return head + "\n\n".join(article.paragraphs) + "\n"


def _html(article: Article) -> str:
    e = html.escape
    body = "\n".join(f"      <p>{e(p, quote=False)}</p>" for p in article.paragraphs)
    footer = "\n".join(
        f"    <p>{e(line.format(outlet=article.outlet), quote=False)}</p>" for line in FOOTER_LINES
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n'
        '  <meta charset="utf-8">\n'
        f"  <title>{e(article.title)} | {e(article.outlet)}</title>\n"
        f'  <meta property="og:site_name" content="{e(article.outlet)}">\n'
        f'  <meta property="og:title" content="{e(article.title)}">\n'
        f'  <link rel="canonical" href="{e(article.url)}">\n'
        f'  <meta property="article:published_time" content="{article.published}">\n'
        "</head>\n<body>\n"
        f'  <header><a href="/">{e(article.outlet)}</a></header>\n'
        f"  <nav><ul>{''.join(f'<li>{e(x)}</li>' for x in NAV.split(' | '))}</ul></nav>\n"
        "  <main>\n    <article>\n"
        f"      <h1>{e(article.title)}</h1>\n"
        f"{body}\n"
        "    </article>\n"
        '    <aside><h2>Most read</h2><ul><li><a href="/news/1">Weather warning for the coast'
        '</a></li><li><a href="/news/2">Market hours change</a></li></ul></aside>\n'
        "  </main>\n"
        f"  <footer>\n{footer}\n  </footer>\n"
        "</body>\n</html>\n"
    )


def write_corpus(articles: list[Article], formats: list[str], folder: Path) -> dict[str, int]:
    """Write the articles into ``folder``; returns the number of files per format."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"jsonl": 0, "txt": 0, "html": 0}
    batch: list[str] = []

    def flush() -> None:
        if batch:
            path = folder / f"batch-{files['jsonl']:04d}.jsonl"
            path.write_text("\n".join(batch) + "\n", encoding="utf-8")
            files["jsonl"] += 1
            batch.clear()

    for article, fmt in zip(articles, formats, strict=True):
        if fmt == "jsonl":
            record = {
                "url": article.url,
                "source": article.outlet,
                "title": article.title,
                "published": article.published,
                "text": "\n\n".join(article.paragraphs),
            }
            batch.append(json.dumps(record, ensure_ascii=False))
            if len(batch) >= JSONL_PER_FILE:
                flush()
        elif fmt == "txt":
            path = folder / f"article-{article.index:06d}.txt"
            path.write_text(_txt(article), encoding="utf-8")
            files["txt"] += 1
        else:
            path = folder / f"page-{article.index:06d}.html"
            path.write_text(_html(article), encoding="utf-8")
            files["html"] += 1
    flush()
    return files


# -- measurement (runs in a fresh subprocess) ----------------------------------------------


def _rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(folder: str, db: str) -> dict[str, Any]:
    """Run the pipeline once on ``folder`` into ``db`` and return timings, counts, memory."""
    # Import the lazily imported parsers first: their import cost is not part of the run.
    import lxml.html  # noqa: F401
    import syntok.segmenter  # noqa: F401
    import trafilatura  # noqa: F401

    from storyline import Corpus

    rss_before = _rss_mib()
    start = time.perf_counter()
    corpus = Corpus(db)
    try:
        result = corpus.add([folder])
        wall = time.perf_counter() - start
        problems = [p.describe() for p in result.problems]
        articles = corpus.store.count_articles()
        removed = {
            f"{row[0]}: {row[1]}": int(row[2])
            for row in corpus.store.db.execute(
                "SELECT by_stage, reason, COUNT(*) FROM removed GROUP BY 1, 2 ORDER BY 3 DESC"
            )
        }
    finally:
        corpus.close()
    return {
        "db": db,
        "timings": dict(result.timings),
        "wall_s": round(wall, 4),
        "counts": dict(result.counts),
        "articles_in_store": articles,
        "removed_lines": removed,
        "problems": problems[:20],
        "problem_count": len(problems),
        "rss_after_import_mib": round(rss_before, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
    }


def run_measurement(folder: Path, db: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", str(folder), "--db", db]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"measurement failed (exit {proc.returncode}): {' '.join(cmd)}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise SystemExit(f"measurement printed no result: {proc.stdout!r}")


# -- report --------------------------------------------------------------------------------


def _rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    n = result["articles"]
    rows = []
    label = f"{result['mix']} ({'memory' if result['db'] == ':memory:' else 'file'} db)"
    stages = [(s, result["timings"].get(s, 0.0)) for s in STAGES]
    stages.append(("total", sum(t for _, t in stages)))
    for stage, seconds in stages:
        rate = f"{n / seconds:,.0f}" if seconds > 0 else "-"
        rows.append((str(n), label, stage, f"{seconds:.2f}", rate, f"{result['peak_rss_mib']:.0f}"))
    return rows


def print_table(results: list[dict[str, Any]]) -> None:
    header = ("articles", "format mix", "stage", "seconds", "articles/s", "peak RSS MiB")
    rows = [row for r in results for row in _rows(r)]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]
    right = {0, 3, 4, 5}

    def fmt(cells: tuple[str, ...]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for i, row in enumerate(rows):
        print(fmt(row))
        if row[2] == "total" and i != len(rows) - 1:
            print()
    print()
    for r in results:
        c = r["counts"]
        print(
            f"{r['articles']} articles, {r['db'] if r['db'] == ':memory:' else 'file'} db: "
            f"{c.get('sentences', 0):,} sentences (generator wrote {r['generated_sentences']:,}), "
            f"{c.get('articles_new', 0):,} new articles, "
            f"{c.get('files', 0)} files, {r['problem_count']} problems, "
            f"RSS after imports {r['rss_after_import_mib']:.0f} MiB, "
            f"wall {r['wall_s']:.2f} s, generated in {r['generate_s']:.2f} s"
        )
        if c.get("articles_new", 0) != r["articles"]:
            print(
                f"  note: expected {r['articles']} new articles, store has {r['articles_in_store']}"
            )
        for reason, count in r["removed_lines"].items():
            print(f"  removed {count:>6,}  {reason}")
        for p in r["problems"][:5]:
            print(f"  problem: {p}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000, help="articles to generate")
    parser.add_argument("--sizes", help="comma-separated sizes to run in turn, e.g. 1000,5000")
    parser.add_argument(
        "--formats", default="jsonl,txt,html", help="format mix, e.g. jsonl:8,txt:1"
    )
    parser.add_argument("--seed", type=int, default=13, help="seed of the article generator")
    parser.add_argument("--memory", action="store_true", help="also measure a ':memory:' store")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--measure", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--db", default=":memory:", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.measure, args.db)))
        return

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] if args.sizes else [args.articles]
    if any(n <= 0 for n in sizes):
        raise SystemExit("sizes must be positive")
    weights = parse_formats(args.formats)
    start = datetime(2026, 2, 2, 6, 0, tzinfo=UTC)
    tmp = Path(tempfile.mkdtemp(prefix="storyline-ingest-bench-"))
    results: list[dict[str, Any]] = []
    try:
        for n in sizes:
            t0 = time.perf_counter()
            articles = generate(n, args.seed, start)
            folder = tmp / f"articles-{n}"
            files = write_corpus(articles, assign_formats(n, weights), folder)
            generate_s = time.perf_counter() - t0
            written_sentences = sum(a.sentences for a in articles)
            del articles
            dbs = [str(tmp / f"db-{n}" / "storyline.db")]
            if args.memory:
                dbs.append(":memory:")
            for db in dbs:
                where = "memory" if db == ":memory:" else db
                print(f"measuring {n} articles into {where} ...", file=sys.stderr, flush=True)
                result = run_measurement(folder, db)
                result.update(
                    articles=n,
                    mix=mix_label(n, weights),
                    files_written=files,
                    generate_s=round(generate_s, 3),
                    generated_sentences=written_sentences,
                    seed=args.seed,
                )
                results.append(result)
        print_table(results)
        if args.json:
            print(json.dumps(results, indent=2))
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
