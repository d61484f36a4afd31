"""report.json: what a run found, under field names that later versions only add to."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from storyline import __version__
from storyline.config import Settings
from storyline.records import Article, Problem
from storyline.store import Store

#: Bump the minor for added fields, the major for renamed or removed ones.
SCHEMA_VERSION = "1.0"


def load_schema() -> dict[str, Any]:
    """The JSON Schema of report.json, as shipped in the package."""
    text = resources.files("storyline.report").joinpath("report.schema.json").read_text("utf-8")
    return dict(json.loads(text))


def article_entry(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "source": article.source,
        "title": article.title,
        "url": article.url,
        "published": article.published,
        "author": article.author,
        "path": article.origin.path or None,
        "origins": [
            {"path": o.path, "line": o.line, "record": o.record, "format": o.format or None}
            for o in article.origins
        ],
        "encoding": article.encoding,
        "flags": article.flags,
        "credits": [
            {
                "outlet": c.outlet,
                "words": c.words,
                "kind": c.kind,
                "start": c.start,
                "end": c.end,
                "in_clean_text": c.in_clean_text,
            }
            for c in article.credits
        ],
        "removed": [{"line": r.line, "text": r.text, "reason": r.reason} for r in article.removed],
        "sentences": len(article.sentences),
        "words": len((article.clean or "").split()),
        "text": article.clean,
    }


def _link_entry(link: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "source",
        "copy",
        "direction",
        "kind",
        "confidence",
        "reasons",
        "coverage",
        "measures",
        "pairs",
    )
    return {k: link[k] for k in keys}


def _families(roots: dict[str, str]) -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for member, root in sorted(roots.items()):
        groups.setdefault(root, []).append(member)
    return [{"root": root, "articles": members} for root, members in sorted(groups.items())]


def _iter_families(store: Store) -> Iterator[dict[str, Any]]:
    """The store's families, read only when taken (the page's bounded report never does)."""
    yield from _families(store.families())


def problem_entry(p: Problem) -> dict[str, Any]:
    return {
        "path": p.path,
        "line": p.line,
        "record": p.record,
        "reason": p.reason,
        "severity": p.severity,
    }


def _summary(
    store: Store, problems: list[Problem], run_counts: dict[str, Any] | None
) -> dict[str, Any]:
    """The report's counts, by SQL (what counting the report's own lists gives)."""
    one = lambda sql: int(store.db.execute(sql).fetchone()[0])  # noqa: E731
    return {
        "articles": one("SELECT COUNT(*) FROM articles"),
        "sources": one("SELECT COUNT(DISTINCT source) FROM articles WHERE source != ''"),
        "sentences": one("SELECT COUNT(*) FROM sentences"),
        "removed_lines": one("SELECT COUNT(*) FROM removed"),
        "links": one("SELECT COUNT(*) FROM links WHERE kind IS NOT NULL"),
        "stories": one("SELECT COUNT(*) FROM stories"),
        "skipped": sum(1 for p in problems if p.severity == "skipped"),
        "warnings": sum(1 for p in problems if p.severity != "skipped"),
        "last_run": run_counts or {},
    }


def _sections(
    store: Store,
    settings: Settings,
    run_counts: dict[str, Any] | None,
    problems: list[Problem] | None,
) -> dict[str, Any]:
    """The report with its long lists as iterators over the store (each read once)."""
    problems = problems if problems is not None else store.problems()
    return {
        "schema_version": SCHEMA_VERSION,
        "provenance": {
            "storyline_version": __version__,
            "settings": settings.to_dict(),
            "models": {
                "sentence_embeddings": settings.embed.model,
                "sentence_splitter": settings.segment.splitter,
            },
            "store": store.path,
            "runs": len(store.runs()),
        },
        "summary": _summary(store, problems, run_counts),
        "problems": [problem_entry(p) for p in problems],
        "articles": (article_entry(a) for a in store.iter_articles(full=False)),
        "links": (_link_entry(ln) for ln in store.iter_links()),
        "families": _iter_families(store),
        "stories": store.iter_stories(),
        "digests": store.iter_digests(),
    }


def build_report(
    store: Store,
    settings: Settings,
    run_counts: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (articles in canonical order). At volume, write
    it with :func:`write_store_reports`, which never holds it whole."""
    return {
        k: v if isinstance(v, dict | list | str) else list(v)
        for k, v in _sections(store, settings, run_counts, problems).items()
    }


def dump_json(report: dict[str, Any], fh: TextIO) -> None:
    """``json.dumps(report, indent=2, ensure_ascii=False)`` and a newline, written a list item
    at a time: the top-level values may be iterators, each item is encoded alone."""
    fh.write("{")
    for n, (key, value) in enumerate(report.items()):
        fh.write(("," if n else "") + "\n  " + json.dumps(key, ensure_ascii=False) + ": ")
        if isinstance(value, dict | str | int | float | bool) or value is None:
            fh.write(_indented(value, "  "))
            continue
        first = True
        for item in value:
            fh.write(("[\n    " if first else ",\n    ") + _indented(item, "    "))
            first = False
        fh.write("[]" if first else "\n  ]")
    fh.write("\n}\n" if report else "}\n")


def _indented(value: Any, prefix: str) -> str:
    # Encoded strings hold no raw line breaks, so every line break is json's own.
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + prefix)


def bounded_report(
    store: Store,
    settings: Settings,
    run_counts: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
) -> dict[str, Any]:
    """What report.html and report.md show: everything when there are at most ``[report]
    html_stories`` stories; otherwise the newest that many, with their articles, links,
    families and digests, the counts of the whole store, and ``shown`` saying so."""
    limit = settings.report.html_stories
    total = int(store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0])
    if total <= limit:
        return build_report(store, settings, run_counts, problems)
    report = _sections(store, settings, run_counts, problems)
    stories = list(itertools.islice(store.iter_stories(), limit))
    members = {a for st in stories for a in st["articles"]}
    articles = [article_entry(a) for a in store.iter_articles(full=False, only=members)]
    report.update(
        articles=articles,
        links=[
            _link_entry(ln)
            for ln in store.links_of(members, both=True)
            if ln.get("kind") is not None
        ],
        families=_families(store.families_of(members)),
        stories=stories,
        digests=store.digests_of([st["id"] for st in stories]),
        shown={"stories": len(stories), "of_stories": total, "articles": len(articles),
               "of_articles": report["summary"]["articles"]},
    )  # fmt: skip
    return report


def write_store_reports(
    store: Store,
    settings: Settings,
    out_dir: str | Path,
    formats: tuple[str, ...] = ("json", "html"),
    run_counts: dict[str, Any] | None = None,
) -> list[Path]:
    """report.json with everything, streamed from the store (memory holds one item, not the
    report), and report.html / report.md bounded by ``[report] html_stories``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    problems = store.problems()
    if "json" in formats:
        path = out / "report.json"
        with open(path, "w", encoding="utf-8") as fh:
            dump_json(_sections(store, settings, run_counts, problems), fh)
        written.append(path)
    pages = tuple(f for f in formats if f != "json")
    if pages:
        written += write_reports(bounded_report(store, settings, run_counts, problems), out, pages)
    return written


def write_reports(
    report: dict[str, Any], out_dir: str | Path, formats: tuple[str, ...] = ("json", "html")
) -> list[Path]:
    """Write report.json and/or report.html into ``out_dir``; returns the paths written."""
    from storyline.report.html import render_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "json" in formats:
        path = out / "report.json"
        with open(path, "w", encoding="utf-8") as fh:
            dump_json(report, fh)
        written.append(path)
    if "html" in formats:
        path = out / "report.html"
        path.write_text(render_html(report), encoding="utf-8")
        written.append(path)
    if "md" in formats:
        from storyline.report.markdown import render_markdown

        path = out / "report.md"
        path.write_text(render_markdown(report), encoding="utf-8")
        written.append(path)
    return written
