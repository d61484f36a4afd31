"""The command line: parse, build settings, call the library, print. Nothing else lives here."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from storyline import __version__
from storyline.config import Settings
from storyline.corpus import Corpus
from storyline.pipeline import RunResult
from storyline.records import Article

app = typer.Typer(
    help="storyline: which articles are the same story, who copied whom, and what the coverage says.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
# Piped output (logs, CI) gets a wide fixed width instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

DEFAULT_OUT = "storyline-out"

DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="SQLite store (created when missing). Default: $STORYLINE_DB or storyline-out/storyline.db.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Settings file (TOML); see examples/storyline.toml."),
]
WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        help="If another run is writing the store, wait up to this many seconds for it "
        "(default: say so and stop).",
    ),
]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose", "-v", count=True, help="More log output (-v: stage timings, -vv: debug)."
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        "-w",
        min=0,
        help="With the local engine: processes that clean, split, align and digest "
        "(0: one per core; 1: this process alone). The store is the same either way.",
    ),
]


class _RateColumn(ProgressColumn):
    """Items per second, as the bar has measured them."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f}/s", style="cyan")


class BarProgress:
    """Pipeline progress as rich bars on stderr (silent when stderr is not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: RichProgress | None = None
        self.task: Any = None

    def start(self, stage: str, total: int | None) -> None:
        if not self.enabled:
            return
        self.finish()  # a stage may show several steps, one bar each
        self.bar = RichProgress(
            TextColumn("[bold]{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task(stage, total=total)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _settings(config: Path | None) -> Settings:
    if config is None:
        return Settings()
    try:
        return Settings.load(config)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/] cannot use settings file {config}: {escape(str(exc))}")
        raise typer.Exit(2) from exc


def _db(db: Path | None, out_dir: Path | None = None) -> Path:
    if db is not None:
        return db
    if os.environ.get("STORYLINE_DB"):
        return Path(os.environ["STORYLINE_DB"])
    return (out_dir or Path(DEFAULT_OUT)) / "storyline.db"


def _logging(verbose: int) -> None:
    from rich.logging import RichHandler

    level = logging.ERROR if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        handlers=[RichHandler(console=err, show_path=False)],
        format="%(message)s",
        force=True,
    )


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _clustering(how: dict[str, Any] | None) -> str:
    """How the batch found its stories, in a few words (nothing when it was not run)."""
    if not how:
        return ""
    if how.get("method") == "stream":
        return f" (streamed: {how.get('reason', '')})"
    notes = []
    if how.get("fallback"):
        notes.append(f"no clear structure: fallback cut {how.get('cut')}")
    elif how.get("silhouette") is not None:
        notes.append(f"silhouette {how['silhouette']:.2f}")
    if how.get("sent_to_stream"):
        notes.append(f"{how['sent_to_stream']} articles streamed (too connected for one tree)")
    return f" ({'; '.join(notes)})" if notes else ""


def _run_summary(result: RunResult, corpus: Corpus, written: list[Path], as_json: bool) -> None:
    counts = result.counts
    if as_json:
        _emit_json(
            {
                "run": result.run_id,
                "counts": counts,
                "timings": result.timings,
                "articles_in_store": corpus.store.count_articles(),
                "problems": [p.__dict__ for p in result.problems],
                "written": [str(p) for p in written],
            }
        )
        return
    table = Table(title=f"storyline run {result.run_id}", show_header=True, header_style="bold")
    table.add_column("stage")
    table.add_column("result")
    table.add_column("time", justify="right")
    ingest = ", ".join(
        f"{counts.get(k, 0)} {k.split('_')[1]}"
        for k in ("articles_new", "articles_seen", "articles_revised")
    )
    table.add_row(
        "ingest",
        f"{counts.get('files', 0)} files → {ingest}",
        f"{result.timings.get('ingest', 0):.2f}s",
    )
    cleaned = f"{counts.get('cleaned', 0)} articles" + (
        f" (+{counts['recleaned']} re-cleaned)" if counts.get("recleaned") else ""
    )
    table.add_row("clean", cleaned, f"{result.timings.get('clean', 0):.2f}s")
    table.add_row(
        "segment",
        f"{counts.get('sentences', 0)} sentences in {counts.get('segmented', 0)} articles",
        f"{result.timings.get('segment', 0):.2f}s",
    )
    if "reuse" in result.timings:
        reuse = f"{counts.get('compared', 0)} candidate pairs aligned → {counts.get('links', 0)} reuse links"
        table.add_row("reuse", reuse, f"{result.timings['reuse']:.2f}s")
    if "stories" in result.timings:
        table.add_row(
            "stories",
            f"{counts.get('stories', 0)} stories{_clustering(counts.get('story_clustering'))}",
            f"{result.timings['stories']:.2f}s",
        )
    for name, seconds in result.timings.items():
        if name == "digest":
            table.add_row(name, f"{counts.get('digests', 0)} story digests", f"{seconds:.2f}s")
        elif name == "alerts":
            n = counts.get("alerts", 0)
            what = f"{n} new alert(s): `storyline alerts`" if n else "no new alert"
            table.add_row(name, what, f"{seconds:.2f}s")
        elif name not in ("ingest", "clean", "segment", "reuse", "stories"):
            table.add_row(name, str(counts.get(name, "")), f"{seconds:.2f}s")
    table.add_row("store", f"{corpus.store.count_articles()} articles in {corpus.store.path}", "")
    out.print(table)
    if result.problems:
        probs = Table(
            title=f"{len(result.skipped)} skipped, {len(result.problems) - len(result.skipped)} warnings",
            header_style="bold",
        )
        probs.add_column("where")
        probs.add_column("what")
        for p in result.problems:
            colour = "red" if p.severity == "skipped" else "yellow"
            where = (
                p.path
                + (f":{p.line}" if p.line is not None else "")
                + (f" record {p.record}" if p.record is not None else "")
            )
            probs.add_row(escape(where), f"[{colour}]{p.severity}[/]: {escape(p.reason)}")
        out.print(probs)
    for path in written:
        out.print(f"wrote [bold]{escape(str(path))}[/]")


def _post_alerts(corpus: Corpus, result: RunResult) -> None:
    """With [alerts] webhook set, post the run's alerts (and any left from before) for up to
    30 seconds; what is not taken stays in the store for the next run or `watch`."""
    cfg = corpus.settings.alerts
    if not cfg.webhook or corpus.store.path == ":memory:":
        return
    from storyline.alerts import deliver_once

    hook = deliver_once(corpus.store.path, cfg.webhook, cfg.webhook_attempts,
                        cfg.webhook_timeout_s, deadline=30.0)  # fmt: skip
    if hook.delivered or hook.failed:
        err.print(f"webhook: {hook.delivered} alert(s) delivered"
                  + (f", {hook.failed} failed tries (kept for later)" if hook.failed else ""))  # fmt: skip


@app.command()
def run(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders or globs: .txt, .html, .jsonl/.json, .warc(.gz), RSS/Atom."
        ),
    ],
    db: DbOpt = None,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for report.json and report.html.")
    ] = Path(DEFAULT_OUT),
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="Reports to write: json, html, md, or several (comma-separated)."
        ),
    ] = "json,html",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    wait: WaitOpt = 0.0,
    verbose: VerboseOpt = 0,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Where the per-article work runs: local (this machine: this process, or "
            "--workers processes) or ray (Ray Data: reading, cleaning, sentences, MinHash, "
            "embeddings; needs storyline[ray]).",
        ),
    ] = "local",
    workers: WorkersOpt = 1,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --engine ray: auto or HOST:PORT of a running cluster; "
            "without it a local Ray is started on this machine's cores.",
        ),
    ] = None,
    ray_gpus: Annotated[
        float,
        typer.Option("--ray-gpus", help="With --engine ray: GPUs per embedding actor."),
    ] = 0.0,
    ray_shuffle_rows: Annotated[
        int,
        typer.Option(
            "--ray-shuffle-rows",
            help="With --engine ray: a groupby (candidate pairs, copy families) of at least "
            "this many rows is shuffled across the cluster; smaller ones are grouped here.",
        ),
    ] = 1_000_000,
    ray_spread_rows: Annotated[
        int,
        typer.Option(
            "--ray-spread-rows",
            help="With --engine ray: batch stories of at least this many articles have their "
            "pairwise work spread over the cluster (it pays from about 6,000 on 2 cores).",
        ),
    ] = 6_000,
    parquet: Annotated[
        Path | None,
        typer.Option(
            "--parquet",
            help="Also write the store's tables as Parquet to this folder (articles, "
            "sentences, links, stories, digests, ...; load with `storyline import`).",
        ),
    ] = None,
) -> None:
    """Ingest INPUTS, run every stage, and write report.json and report.html.

    On an existing --db the new articles are added and only the new work is done.
    """
    _logging(verbose)
    formats = tuple(f.strip() for f in fmt.split(",") if f.strip())
    bad = [f for f in formats if f not in ("json", "html", "md")]
    if bad:
        err.print(
            f"[red]error:[/] unknown report format {', '.join(bad)}; use json, html, md or json,html"
        )
        raise typer.Exit(2)
    from storyline.engine import make_engine

    if engine == "ray" and workers != 1:
        err.print(
            "[red]error:[/] --workers is the local engine's; the Ray engine runs on the cores "
            "of its cluster (--ray-address, or every core of this machine without it)"
        )
        raise typer.Exit(2)
    try:
        runner = (
            make_engine(
                engine,
                ray_address,
                num_gpus=ray_gpus,
                shuffle_rows=ray_shuffle_rows,
                spread_rows=ray_spread_rows,
            )  # fmt: skip
            if engine == "ray"
            else make_engine(engine, workers=workers)
        )
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    try:
        with Corpus(_db(db, out_dir), _settings(config), wait=wait) as corpus:
            result = corpus.add(inputs, BarProgress(err.is_terminal and not as_json), runner)
            written = corpus.write_report(out_dir, formats)
            if parquet is not None:
                corpus.export_parquet(parquet)
                written.append(parquet)
            _run_summary(result, corpus, written, as_json)
            _post_alerts(corpus, result)
    finally:
        runner.close()
    if (
        result.counts.get("articles_new", 0) + result.counts.get("articles_seen", 0) == 0
        and result.problems
    ):
        raise typer.Exit(1)


@app.command()
def add(
    inputs: Annotated[
        list[str], typer.Argument(help="Files, folders or globs to add to the store.")
    ],
    db: DbOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    wait: WaitOpt = 0.0,
    verbose: VerboseOpt = 0,
    workers: WorkersOpt = 1,
) -> None:
    """Add INPUTS to an existing store (or a new one) and run the stages on what is new."""
    from storyline.engine import make_engine

    _logging(verbose)
    runner = make_engine("local", workers=workers)
    try:
        with Corpus(_db(db), _settings(config), wait=wait) as corpus:
            result = corpus.add(inputs, BarProgress(err.is_terminal and not as_json), runner)
            _run_summary(result, corpus, [], as_json)
            _post_alerts(corpus, result)
    finally:
        runner.close()


@app.command("export")
def export_(
    folder: Annotated[Path, typer.Argument(help="Folder for the Parquet files (made if missing).")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the store's tables as Parquet, one file per table, with a manifest.

    Column names are the report's (an article's clean text is `text`, the text before
    cleaning `extracted`); links, stories and digests carry their report record as JSON in
    `data`. Read them with pandas, DuckDB or Spark, or load them into a store with
    `storyline import`.
    """
    from storyline.store.parquet import ParquetError

    with _open(db) as corpus:
        try:
            counts = corpus.export_parquet(folder)
        except ParquetError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from exc
    _print_tables(f"exported to {folder}", counts, as_json)


@app.command("import")
def import_(
    folder: Annotated[
        Path, typer.Argument(help="A folder written by `storyline export` or `run --parquet`.")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a Parquet export (from a cluster run, say) into a new store, all or nothing.

    The CLI, the reports and `storyline serve` then work on it as on any store, and
    `storyline add` goes on from it.
    """
    from storyline.store.parquet import ParquetError

    path = _db(db)
    made = not path.exists()
    try:
        with Corpus(path) as corpus:
            counts = corpus.import_parquet(folder)
    except ParquetError as exc:
        if made:  # a store this command created and could not fill is not left behind
            for p in path.parent.glob(path.name + "*"):
                p.unlink(missing_ok=True)
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    _print_tables(f"imported into {path}", counts, as_json)


def _print_tables(title: str, counts: dict[str, int], as_json: bool) -> None:
    if as_json:
        _emit_json({"tables": counts})
        return
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)


def _article_row(a: Article) -> dict[str, Any]:
    return {
        "id": a.id,
        "source": a.source,
        "title": a.title,
        "published": a.published,
        "url": a.url,
        "sentences": len(a.sentences),
        "removed": len(a.removed),
        "credits": [c.outlet for c in a.credits],
        "path": a.origin.path,
    }


@app.command()
def articles(
    db: DbOpt = None,
    source: Annotated[str | None, typer.Option(help="Only this outlet.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (0: all).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """List the stored articles, oldest first."""
    path = _existing_store(db)
    with Corpus(path) as corpus:
        rows = [_article_row(a) for a in corpus.articles() if source is None or a.source == source]
    if limit:
        rows = rows[:limit]
    if as_json:
        _emit_json(rows)
        return
    table = Table(title=f"{len(rows)} articles", header_style="bold")
    for col in ("id", "published", "source", "title", "sent.", "removed", "credits"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["id"],
            (r["published"] or "—")[:16],
            escape(r["source"] or "—"),
            escape((r["title"] or "(untitled)")[:70]),
            str(r["sentences"]),
            str(r["removed"]),
            escape(", ".join(r["credits"])),
        )
    out.print(table)


@app.command()
def show(
    article_id: Annotated[
        str, typer.Argument(metavar="ID", help="Article id (a unique prefix is enough).")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one article: metadata, origins, credits, removed lines and sentences."""
    path = _existing_store(db)
    with Corpus(path) as corpus:
        try:
            a = corpus.article(article_id)
        except KeyError as exc:
            err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
            raise typer.Exit(1) from exc
    if as_json:
        from storyline.report.build import article_entry

        entry = article_entry(a)
        entry["sentence_list"] = [
            {"index": s.index, "text": s.text, "start": s.start, "end": s.end} for s in a.sentences
        ]
        _emit_json(entry)
        return
    out.rule(f"[bold]{escape(a.title or '(untitled)')}")
    meta = Table.grid(padding=(0, 2))
    for key, value in (
        ("id", a.id),
        ("outlet", a.source),
        ("published", a.published),
        ("author", a.author),
        ("url", a.url),
    ):
        meta.add_row(f"[dim]{key}", escape(value or "—"))
    for o in a.origins:
        meta.add_row("[dim]origin", escape(o.describe()))
    for c in a.credits:
        meta.add_row(
            "[dim]credit",
            f"{escape(c.outlet)} — “{escape(c.words)}” ({c.kind}{'' if c.in_clean_text else ', line removed'})",
        )
    for f in a.flags:
        meta.add_row("[dim]flag", escape(f))
    out.print(meta)
    out.rule("sentences")
    for s in a.sentences:
        out.print(f"[dim]{s.index:>3}[/] {escape(s.text)}")
    if a.removed:
        out.rule("removed")
        for r in a.removed:
            out.print(f"[dim]line {r.line}[/] [red]{escape(r.reason)}[/]: {escape(r.text)}")


def _existing_store(db: Path | None) -> Path:
    """The store's path; a clear error (exit 2) when there is none yet."""
    path = _db(db)
    if not path.exists():
        err.print(
            f"[red]error:[/] no store at {path}; create one with `storyline run INPUT... --db {path}`"
        )
        raise typer.Exit(2)
    return path


def _open(db: Path | None, config: Path | None = None) -> Corpus:
    return Corpus(_existing_store(db), _settings(config))


@app.command()
def reuse(
    db: DbOpt = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="Only links of this kind (duplicate, near_duplicate, rewrite, partial, shared_quotes)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List reuse links: who copied whom, how (kind), how much (coverage) and why (direction)."""
    with _open(db) as corpus:
        links = corpus.links(kind)
        names = {a.id: a for a in corpus.articles()}
    if as_json:
        _emit_json([{k: v for k, v in ln.items() if k not in ("a", "b")} for ln in links])
        return
    table = Table(title=f"{len(links)} reuse links", header_style="bold", show_lines=True)
    for col in ("kind", "source", "copy", "direction", "coverage", "reasons"):
        table.add_column(col, overflow="fold")
    for ln in links:
        src, cpy = names[ln["source"]], names[ln["copy"]]
        table.add_row(
            ln["kind"],
            f"{ln['source'][:8]} {escape(src.source or '?')}\n{escape((src.title or '')[:50])}",
            f"{ln['copy'][:8]} {escape(cpy.source or '?')}\n{escape((cpy.title or '')[:50])}",
            f"{ln['direction']} ({ln['confidence']:.2f})",
            f"copy {ln['coverage']['copy']:.0%}\nsource {ln['coverage']['source']:.0%}",
            escape("; ".join(ln["reasons"])),
        )
    out.print(table)


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="First article id (or unique prefix).")],
    b: Annotated[str, typer.Argument(help="Second article id (or unique prefix).")],
    db: DbOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Two articles side by side: aligned sentences, swapped words, and the verdict with its reasons."""
    with _open(db, config) as corpus:
        try:
            result = corpus.compare(a, b)
        except KeyError as exc:
            err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
            raise typer.Exit(1) from exc
    if as_json:
        _emit_json({k: v for k, v in result.items() if k not in ("a", "b")})
        return
    arts = result["articles"]
    src, cpy = arts[result["source"]], arts[result["copy"]]
    if result["kind"]:
        out.rule(
            f"[bold]{escape(result['kind'])}[/] · direction {result['direction']} ({result['confidence']:.2f})"
        )
    else:
        out.rule("[bold]no copy link[/]")
    table = Table(show_header=True, header_style="bold", expand=True, show_lines=True)
    for role, art in (("source", src), ("copy", cpy)):
        label = f"{role}: {art['id'][:8]} {art['source'] or ''} {(art['title'] or '')[:40]}"
        table.add_column(escape(label.strip()), ratio=1)
    for p in result["pairs"]:
        left, right = escape(p["source_text"]), escape(p["copy_text"])
        for sub in p["substitutions"]:
            left = left.replace(escape(sub["old"]), f"[red strike]{escape(sub['old'])}[/]", 1)
            right = right.replace(escape(sub["new"]), f"[green bold]{escape(sub['new'])}[/]", 1)
        table.add_row(left, right)
    out.print(table)
    m = result["measures"]
    out.print(
        f"coverage: source {result['coverage']['source']:.0%}, copy {result['coverage']['copy']:.0%} · "
        f"verbatim {m['verbatim']:.0%} · order {m['order']:.0%} · MinHash Jaccard {m['jaccard']:.2f}"
    )
    for r in result["reasons"]:
        out.print(f"• {escape(r)}")
    for w in result["why_not"]:
        out.print(f"[yellow]below threshold[/] {escape(w)}")


@app.command()
def stories(
    action: Annotated[
        str | None,
        typer.Argument(
            help="rebuild: cluster every article again in batch (ids kept, corrections applied)."
        ),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    workers: WorkersOpt = 1,
) -> None:
    """List the stories, latest first: headline, size, outlets, independent sources, time span.

    `storyline add` places new articles by the stream against the active stories and clusters
    the whole store again in batch once [stories] rebuild_share of it is new; `storyline
    stories rebuild` does that now, with the sentence model and story settings of `--config`
    (the ones the store was built with, as a rule)."""
    if action not in (None, "rebuild"):
        err.print(f"[red]unknown action {escape(action)!r}[/]: the only one is 'rebuild'")
        raise typer.Exit(2)
    from storyline.engine import make_engine

    with _open(db, config) as corpus:
        if action == "rebuild":
            runner = make_engine("local", workers=workers)
            try:
                how = corpus.rebuild_stories(runner)
            finally:
                runner.close()
            if not as_json:
                err.print(f"rebuilt: {len(corpus.stories())} stories ({how.get('method', '')})")
        rows = corpus.stories()
    if as_json:
        _emit_json(rows)
        return
    table = Table(title=f"{len(rows)} stories", header_style="bold")
    for col in ("id", "headline", "articles", "outlets", "indep.", "first seen", "last seen"):
        table.add_column(col, overflow="fold")
    for st in rows:
        table.add_row(
            st["id"],
            escape((st["headline"] or "")[:70]),
            str(st["article_count"]),
            str(len(st["outlets"])),
            str(st["independent_sources"]),
            (st["first_seen"] or "—")[:16],
            (st["last_seen"] or "—")[:16],
        )
    out.print(table)


@app.command()
def story(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="ID | merge A B | split A ARTICLE...",
            help="Show a story, or correct the machine: merge two stories, or split articles out of one.",
        ),
    ],
    db: DbOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one story; `story merge A B` joins two stories; `story split A ARTICLE...` sets articles apart.

    Corrections are kept in the store and applied again on every later run.
    """
    with _open(db, config) as corpus:
        try:
            if args[0] == "merge" and len(args) == 3:
                result = corpus.merge_stories(args[1], args[2])
            elif args[0] == "split" and len(args) >= 3:
                result = corpus.split_story(args[1], args[2:])
            elif len(args) == 1:
                result = corpus.story(args[0])
            else:
                err.print(
                    "[red]error:[/] use `story ID`, `story merge A B` or `story split A ARTICLE...`"
                )
                raise typer.Exit(2)
        except KeyError as exc:
            err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
            raise typer.Exit(1) from exc
        names = {a.id: a for a in corpus.articles()}
    if as_json:
        _emit_json(result)
        return
    out.rule(f"[bold]{escape(result['headline'] or '(no headline)')}")
    out.print(
        f"{result['id']} · {result['article_count']} articles · {len(result['outlets'])} outlets · "
        f"{result['independent_sources']} independent sources · {result['first_seen'] or '?'} → {result['last_seen'] or '?'}"
    )
    for aid in result["articles"]:
        a = names.get(aid)
        if a:
            out.print(
                f"  {aid[:10]}  {escape((a.published or '—')[:16])}  {escape(a.source or '?')}: {escape(a.title or '(untitled)')}"
            )


def _cite(numbers: dict[str, int], articles: list[str]) -> str:
    for a in articles:
        numbers.setdefault(a, len(numbers) + 1)
    return "".join(f"[{n}]" for n in sorted(numbers[a] for a in articles))


def _print_digest(digest: dict[str, Any], names: dict[str, Article], headline: str) -> None:
    """A digest in the terminal: the cited summary, facts, quotes, conflicts, entities."""
    numbers: dict[str, int] = {}
    out.rule(f"[bold]{escape(headline)}")
    out.print(f"[dim]summary · {digest['method']} · {digest['words']} words[/]")
    for s in digest.get("summary", []):
        out.print(f"  {escape(s['text'])} [cyan]{_cite(numbers, s['articles'])}[/]")
    facts = digest.get("facts", [])
    if facts:
        table = Table(title="facts, by independent sources", header_style="bold", show_lines=False)
        for col in ("indep.", "fact", "attributed to", "first", "cited"):
            table.add_column(col, overflow="fold")
        for f in facts[:15]:
            table.add_row(
                str(f["sources"]),
                escape(f["text"][:160]),
                escape(f.get("attribution") or "—"),
                escape(f["first"]["outlet"]),
                _cite(numbers, f["articles"]),
            )
        out.print(table)
    quotes = digest.get("quotes", [])
    if quotes:
        out.print("[bold]quotes[/]")
        for q in quotes[:20]:
            out.print(
                f"  [bold]{escape(q['speaker'] or 'unattributed')}[/]: “{escape(q['text'])}” "
                f"[cyan]{_cite(numbers, q['articles'])}[/]"
            )
            for v in q["variants"]:
                out.print(
                    f"      also: “{escape(v['text'])}” [cyan]{_cite(numbers, v['articles'])}[/]"
                )
    for c in digest.get("conflicts", []):
        values = "  vs  ".join(
            f"{escape(v['value'])} ({escape(', '.join(v['outlets']))}) {_cite(numbers, v['articles'])}"
            for v in c["values"]
        )
        out.print(f"[yellow]conflict[/] ({c['kind']}) “{escape(c['fact'])}”: {values}")
    ents = digest.get("entities") or {}
    for kind in ("people", "organisations", "places", "names"):
        if ents.get(kind):
            shown = ", ".join(f"{e['name']} ({e['mentions']})" for e in ents[kind][:10])
            out.print(f"[bold]{kind}[/]: {escape(shown)}")
    if ents.get("note"):
        out.print(f"[dim]{escape(ents['note'])}[/]")
    if numbers:
        out.print("[bold]articles[/]")
        outlets = digest.get("sources", {})
        for aid, n in numbers.items():
            a = names.get(aid)
            title = (a.title if a else None) or "(untitled)"
            outlet = (a.source if a else None) or outlets.get(aid, "?")
            when = ((a.published if a else None) or "—")[:16]
            out.print(f"  [{n}] {escape(outlet)} · {escape(when)} · {escape(title)} [dim]{aid}[/]")


@app.command()
def digest(
    story_id: Annotated[str, typer.Argument(metavar="STORY", help="Story id, alias or prefix.")],
    db: DbOpt = None,
    config: ConfigOpt = None,
    words: Annotated[
        int | None, typer.Option("--words", min=10, help="Summary length (default: config).")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="Summarizer (lexrank, centroid, submodular).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What a story says: a cited summary, facts by independent sources, quotes, conflicts.

    Citations [1][2] point to the articles listed at the end; a copy family counts once.
    """
    from storyline.digest import build_digest, story_docs

    with _open(db, config) as corpus:
        try:
            st = corpus.story(story_id)
        except KeyError as exc:
            err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
            raise typer.Exit(1) from exc
        found = corpus.digest(st["id"])
        cfg = corpus.settings.digest
        if (
            found is None
            or (words and words != found["words"])
            or (method and method != found["method"])
        ):
            docs, roots = story_docs(corpus.store, st)
            try:
                found = build_digest(
                    docs, roots, corpus.settings, st["id"], words or cfg.words, method or cfg.method
                )
            except ValueError as exc:
                err.print(f"[red]error:[/] {escape(str(exc))}")
                raise typer.Exit(2) from exc
        # Only the story's articles are cited: read those, not the whole store.
        names = {a: corpus.article(a) for a in st["articles"]}
    if as_json:
        _emit_json(found)
        return
    _print_digest(found, names, st["headline"] or st["id"])


@app.command()
def quotes(
    db: DbOpt = None,
    speaker: Annotated[
        str | None,
        typer.Option("--speaker", help="Only this speaker's quotes (any part of the name)."),
    ] = None,
    story_id: Annotated[
        str | None, typer.Option("--story", help="Only this story's quotes.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who said what: quotes with their speakers and the wordings different outlets used."""
    with _open(db) as corpus:
        rows = corpus.quotes(speaker)
        if story_id:
            try:
                sid = corpus.story(story_id)["id"]
            except KeyError as exc:
                err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
                raise typer.Exit(1) from exc
            rows = [q for q in rows if q["story"] == sid]
        names = {a.id: a for a in corpus.articles()}
    if as_json:
        _emit_json(rows)
        return
    table = Table(title=f"{len(rows)} quotes", header_style="bold", show_lines=True)
    for col in ("speaker", "quote", "wordings", "articles", "outlets"):
        table.add_column(col, overflow="fold")
    for q in rows:
        outlets = sorted({names[a].source or "?" for a in q["articles"] if a in names})
        table.add_row(
            escape(q["speaker"] or "unattributed"),
            escape(q["text"]),
            str(1 + len(q["variants"])),
            str(len(q["articles"])),
            escape(", ".join(outlets)),
        )
    out.print(table)


@app.command()
def summarize(
    inputs: Annotated[
        list[str], typer.Argument(help="The articles of one story: files, folders or globs.")
    ],
    words: Annotated[
        int | None, typer.Option("--words", min=10, help="Summary length in words.")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="Summarizer: lexrank, centroid or submodular.")
    ] = None,
    plain: Annotated[
        bool, typer.Option("--plain", help="One sentence per line, nothing else.")
    ] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Summarize the given articles as one story (for users who already have their cluster).

    Copies are found first, so a spun rewrite's wording gives way to its original's.
    """
    from storyline.digest import build_digest, doc_of
    from storyline.pipeline import STAGES, run_pipeline
    from storyline.store import Store

    settings = _settings(config)
    store = Store(":memory:")
    try:
        result = run_pipeline(
            store, inputs, settings, stages=[s for s in STAGES if s[0] not in ("stories", "digest")]
        )
        for p in result.problems:
            err.print(f"[yellow]{p.severity}:[/] {escape(p.describe())}")
        docs = [doc_of(a) for a in store.iter_articles()]
        if not docs:
            err.print("[red]error:[/] no articles could be read from the inputs")
            raise typer.Exit(1)
        try:
            found = build_digest(
                docs, store.families(), settings, None, words, method,
                parts=("summary",) if plain else ("summary", "facts", "quotes", "conflicts"),
            )  # fmt: skip
        except ValueError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from exc
        names = {a.id: a for a in store.iter_articles()}
    finally:
        store.close()
    if plain:
        for s in found["summary"]:
            print(s["text"])
        return
    if as_json:
        _emit_json(found)
        return
    _print_digest(found, names, f"{len(docs)} articles")


@app.command("eval")
def evaluate(
    task: Annotated[str, typer.Argument(help="What to evaluate: reuse, stories or summaries.")],
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="Data set: mrpc, clough or duc (reuse); duc, duc-all, multiling, uci, mixed (the "
            "three as one corpus; PATH holds them) or lodo (stories); duc or multiling (summaries).",
        ),
    ],
    path: Annotated[Path, typer.Argument(help="The data set's file or folder.")],
    config: ConfigOpt = None,
    write_model: Annotated[
        Path | None,
        typer.Option(
            help="reuse mrpc / stories lodo: also train the shipped model (MRPC file / all dev sets) and write it here."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score storyline on a public evaluation set (storyline eval TASK FORMAT PATH)."""
    from storyline.eval import run_evaluation

    settings = _settings(config)
    try:
        if write_model is not None and (task, fmt) == ("stories", "lodo"):
            from storyline.eval.stories_eval import leave_one_out_and_ship
            from storyline.stories.stream import FEATURE_NAMES

            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file or folder")
            scores, model = leave_one_out_and_ship(path, settings)
            assert model is not None
            result = {"task": task, "format": fmt, "path": str(path), **scores}
            write_model.write_text(
                json.dumps(model.to_json(FEATURE_NAMES), indent=1) + "\n", encoding="utf-8"
            )
            result["model_written"] = str(write_model)
        elif write_model is not None:
            if (task, fmt) != ("reuse", "mrpc"):
                raise ValueError(
                    "--write-model applies to `eval reuse mrpc` and `eval stories lodo` only"
                )
            from storyline.eval.mrpc import evaluate as mrpc

            scores, model = mrpc(path, settings.embed.model, settings.embed.backend)
            write_model.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
            result = {
                "task": task,
                "format": fmt,
                "path": str(path),
                **scores,
                "model_written": str(write_model),
            }
        else:
            result = run_evaluation(task, fmt, path, settings)
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if as_json:
        _emit_json(result)
        return
    table = Table(title=f"storyline eval {task} {fmt}", header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("task", "format", "table"):
            continue
        shown = (
            f"{value:.4f}"
            if isinstance(value, float)
            else escape(json.dumps(value) if isinstance(value, dict | list) else str(value))
        )
        table.add_row(key, shown)
    out.print(table)
    rows = result.get("table") or []  # several methods side by side (eval summaries)
    if rows:
        side = Table(header_style="bold")
        for column in rows[0]:
            side.add_column(column, justify="left" if column == "method" else "right")
        for row in rows:
            side.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()))
        out.print(side)


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in counter.items()) or "—"


@app.command()
def outlets(db: DbOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Each outlet: articles, stories, share of copies and of whom, who copies it, exclusives, blindspots.

    Copies never count as independent: an outlet credited by copies (\"Source: CNN\") is
    listed even with no article of its own. `storyline outlet NAME` shows one in full."""
    from storyline.outlets import Outlets

    with _open(db, config) as corpus:
        rows = Outlets(corpus.store, corpus.settings).summary()
    if as_json:
        _emit_json(rows)
        return
    table = Table(title=f"{len(rows)} outlets", header_style="bold")
    for col in ("outlet", "articles", "stories", "copies", "copies of", "copied by",
                "exclusives", "blindspots"):  # fmt: skip
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            escape(r["name"]) + ("" if r["in_corpus"] else " [dim](not in corpus)[/]"),
            str(r["articles"]), str(r["stories"]),
            f"{r['copies']} ({_pct(r['copy_share'])})",
            escape(_counts(r["copies_of"])), escape(_counts(r["copied_by"])),
            str(r["exclusives"]), str(r["blindspots"]),
        )  # fmt: skip
    out.print(table)


@app.command()
def outlet(
    name: Annotated[str, typer.Argument(help="The outlet's name (any spelling `outlets` lists).")],
    db: DbOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One outlet in full: its articles (copies marked), who copies it, its exclusives and blindspots."""
    from storyline.outlets import Outlets

    with _open(db, config) as corpus:
        try:
            o = Outlets(corpus.store, corpus.settings).outlet(name)
        except KeyError as exc:
            err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
            raise typer.Exit(1) from exc
    if as_json:
        _emit_json(o)
        return
    out.rule(f"[bold]{escape(o['name'])}")
    out.print(
        f"{o['articles']} articles in {o['stories']} stories · copies {o['copies']} "
        f"({_pct(o['copy_share'])}) of {escape(_counts(o['copies_of']))} · copied by "
        f"{escape(_counts(o['copied_by']))}"
    )
    for a in o["article_list"]:
        mark = f" [yellow](copy of {escape(a['copy_of'])})[/]" if a["copy_of"] else ""
        out.print(f"  {a['id'][:10]}  {escape((a['published'] or '—')[:16])}  "
                  f"{escape(a['title'] or '(untitled)')}{mark}")  # fmt: skip
    if o["copied_by_list"]:
        out.print("[bold]Copied by[/]")
        for a in o["copied_by_list"]:
            out.print(f"  {escape(a['outlet'])}: {escape(a['title'] or a['id'])}")
    out.print(
        f"[bold]Exclusives[/] ({len(o['exclusive_list'])}): facts only its copy family states"
    )
    for e in o["exclusive_list"]:
        out.print(f"  • {escape(e['text'])}")
    out.print(f"[bold]Blindspots[/] ({len(o['blindspot_list'])}): stories at least "
              f"{o['min_sources']} independent sources covered, and it did not")  # fmt: skip
    for b in o["blindspot_list"]:
        out.print(f"  • {escape(b['headline'] or b['id'])} [dim]({len(b['independent_sources'])} "
                  f"sources: {escape(', '.join(b['independent_sources']))})[/]")  # fmt: skip


@app.command()
def watch(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Folders and files to watch (new and changed files), and http(s) feed URLs to poll."
        ),
    ],
    db: DbOpt = None,
    config: ConfigOpt = None,
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Seconds between two polls of a feed URL (default: the interval_s setting of \\[watch]).",
        ),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="One pass: read every file, poll every URL once, then stop (for cron)."
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, help="Seconds a batch waits for another writer of the store."
        ),
    ] = 60.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="At the end, print the counts as JSON.")
    ] = False,
    verbose: VerboseOpt = 0,
    workers: WorkersOpt = 1,
) -> None:
    """Follow folders, files and feed URLs: each batch of new articles is added as it comes.

    Every batch goes through the incremental pipeline, and alerts are recorded for what is
    tracked (`storyline track`). Feed URLs are polled politely (conditional GET, a per-host gap, backoff on errors), a line
    per poll. Ctrl-C or SIGTERM finishes the batch in progress and stops; a second Ctrl-C
    stops at once (the next run resumes whatever was cut short)."""
    import signal
    import threading

    from storyline.alerts import Webhook, deliver_once
    from storyline.engine import make_engine
    from storyline.watch import Watcher

    _logging(verbose)
    settings = _settings(config)
    if interval is not None:
        settings.watch.interval_s = interval
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        err.print(f"{signal.Signals(signum).name}: stopping after the batch in progress")
        stop.set()

    def say(line: str) -> None:
        err.print(f"[dim]{datetime.now().strftime('%H:%M:%S')}[/] {escape(line)}", highlight=False)

    path = _db(db)
    cfg = settings.alerts
    # The pool (--workers) lives as long as the watch: its workers keep their models warm.
    runner = make_engine("local", workers=workers)
    with Corpus(path, settings, wait=wait) as corpus, contextlib.closing(runner):
        # A long watch posts alerts from a thread of its own as batches make them; a single
        # pass (--once) posts what is pending when it ends, for up to 30 seconds.
        hook = Webhook(str(path), cfg.webhook, cfg.webhook_attempts, cfg.webhook_timeout_s)
        live = bool(cfg.webhook) and not once
        try:
            watcher = Watcher(corpus, sources, settings.watch, say=say, once=once, stop=stop,
                              on_batch=lambda _r: hook.notify() if live else None,
                              engine=runner)  # fmt: skip
        except FileNotFoundError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from exc
        if live:
            hook.start()
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        say(f"watching {len(watcher.local)} path(s) and {len(watcher.urls)} feed URL(s) into {path}"
            + ("" if once else "; Ctrl-C to stop"))  # fmt: skip
        try:
            counts = watcher.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if live:
                hook.stop()
        if cfg.webhook and once:
            hook = deliver_once(str(path), cfg.webhook, cfg.webhook_attempts,
                                cfg.webhook_timeout_s, deadline=30.0)  # fmt: skip
        counts_hook = (
            {"webhook_delivered": hook.delivered, "webhook_failed": hook.failed}
            if cfg.webhook
            else {}
        )
    counts = {**counts, **counts_hook}
    if as_json:
        _emit_json(counts)
    else:
        say("stopped: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))


@app.command()
def track(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="story ID | entity NAME | query TEXT | list | remove N",
            help="What to follow: a story, a name (articles naming it, quotes it said), a search.",
        ),
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Follow a story, an entity or a search: later runs that change it record alerts.

    See them with `storyline alerts`. `track list` shows the tracks, `track remove N` ends one."""
    from storyline.store import tracking

    kind, rest = args[0], " ".join(args[1:])
    with Corpus(_db(db)) as corpus:
        store = corpus.store
        if kind == "list" and not rest:
            rows = tracking.tracks(store)
            if as_json:
                _emit_json(rows)
                return
            table = Table(title=f"{len(rows)} tracks", header_style="bold")
            for col in ("id", "kind", "value", "since", "alerts"):
                table.add_column(col)
            for r in rows:
                table.add_row(
                    str(r["id"]), r["kind"], escape(r["value"]), r["made"], str(r["alerts"])
                )
            out.print(table)
            return
        if kind == "remove" and rest.isdigit():
            if not tracking.remove_track(store, int(rest)):
                err.print(f"[red]error:[/] no track {rest}; see `storyline track list`")
                raise typer.Exit(1)
            err.print(f"track {rest} removed (its alerts stay)")
            return
        if kind not in tracking.TRACK_KINDS or not rest:
            err.print("[red]error:[/] use `track story ID`, `track entity NAME`, "
                      "`track query TEXT`, `track list` or `track remove N`")  # fmt: skip
            raise typer.Exit(2)
        if kind == "story":
            try:
                rest = corpus.story(rest)["id"]
            except KeyError as exc:
                err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
                raise typer.Exit(1) from exc
        with corpus.writing():
            row, made = tracking.add_track(store, kind, rest)
    if as_json:
        _emit_json({**row, "new": made})
    else:
        err.print(f"{'tracking' if made else 'already tracking'} {kind} {escape(rest)!r} "
                  f"(track {row['id']}): alerts from the next run on")  # fmt: skip


@app.command()
def alerts(
    db: DbOpt = None,
    track_id: Annotated[int | None, typer.Option("--track", help="Only this track's.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="Only this kind: new_article, new_copy, new_fact, new_conflict, new_quote."
        ),
    ] = None,
    after: Annotated[int, typer.Option(help="Only alerts with an id above this one.")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """What changed in what you track, newest first.

    New articles (copy or independent), new copies, facts with a new independent source, new
    conflicts, new quotes by a tracked speaker."""
    from storyline.alerts import KINDS
    from storyline.store import tracking

    if kind is not None and kind not in KINDS:
        err.print(f"[red]error:[/] unknown kind {escape(kind)!r}; one of {', '.join(KINDS)}")
        raise typer.Exit(2)
    with _open(db) as corpus:
        rows = tracking.alerts(corpus.store, after, limit, track_id, kind)
    if as_json:
        _emit_json(rows)
        return
    table = Table(title=f"{len(rows)} alerts", header_style="bold")
    for col in ("id", "when", "track", "kind", "what"):
        table.add_column(col, overflow="fold")
    for r in rows:
        t = r["track"]
        table.add_row(str(r["id"]), r["made"][:16], f"{t['kind']} {escape(str(t['value']))}",
                      r["kind"].replace("new_", ""), escape(r["title"]))  # fmt: skip
    out.print(table)


@app.command()
def serve(
    db: DbOpt = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; the default serves this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    allow_ingest: Annotated[
        bool,
        typer.Option(
            "--allow-ingest", help="Accept POST /api/articles (a JSON list) and run the pipeline."
        ),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="STORYLINE_TOKEN",
            help="With --allow-ingest: POSTs must carry 'Authorization: Bearer TOKEN' "
            "(or set STORYLINE_TOKEN).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Browse the store in a web browser, with a JSON API under /api (its OpenAPI schema at /openapi.json, rendered at /docs without any CDN)."""
    path = _existing_store(db)
    if token is not None and not allow_ingest:
        err.print("[red]error:[/] --token guards ingest: add --allow-ingest, or leave it out")
        raise typer.Exit(2)
    if token is not None and len(token) < 16:
        err.print("[red]error:[/] use a token of at least 16 characters")
        raise typer.Exit(2)
    try:
        import uvicorn

        from storyline.web import create_app
    except ImportError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}; install with: pip install fastapi uvicorn")
        raise typer.Exit(2) from exc
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/] serving on {escape(host)}: other machines can reach it")
    if allow_ingest and token is None and host not in ("127.0.0.1", "localhost", "::1"):
        err.print("[yellow]warning:[/] ingest is open to anyone who reaches it: add --token")
    web = create_app(path, _settings(config), allow_ingest=allow_ingest, hosts=(host,), token=token)
    out.print(
        f"serving {escape(str(path))} at http://{escape(host)}:{port}/"
        + (" (ingest on" + (", token required)" if token else ")") if allow_ingest else "")
        + ("" if allow_ingest else " (read-only)")
    )
    uvicorn.run(web, host=host, port=port, log_level="warning")


@app.command()
def version() -> None:
    """Print the version."""
    out.print(f"storyline {__version__}")


def main() -> None:
    from storyline.store.lock import StoreBusy

    try:
        app()
    except StoreBusy as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(75)  # EX_TEMPFAIL: try again later


if __name__ == "__main__":
    main()
