"""report.json: what a run found, under field names that later versions only add to."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

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


def problem_entry(p: Problem) -> dict[str, Any]:
    return {
        "path": p.path,
        "line": p.line,
        "record": p.record,
        "reason": p.reason,
        "severity": p.severity,
    }


def build_report(
    store: Store,
    settings: Settings,
    run_counts: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (articles in canonical order)."""
    articles = [article_entry(a) for a in store.iter_articles(full=False)]
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
        "summary": {
            "articles": len(articles),
            "sources": len({a["source"] for a in articles if a["source"]}),
            "sentences": sum(a["sentences"] for a in articles),
            "removed_lines": sum(len(a["removed"]) for a in articles),
            "links": len(store.links()),
            "stories": int(store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0]),
            "skipped": sum(1 for p in problems if p.severity == "skipped"),
            "warnings": sum(1 for p in problems if p.severity != "skipped"),
            "last_run": run_counts or {},
        },
        "problems": [problem_entry(p) for p in problems],
        "articles": articles,
        "links": [_link_entry(ln) for ln in store.links()],
        "families": _families(store.families()),
        "stories": store.stories(),
        "digests": store.digests(),
    }


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
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
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
