"""report.html: one self-contained page (inline CSS, no external assets) from partials."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape


def safe_url(url: Any) -> str | None:
    """Only http(s) URLs become links; anything else (javascript:, data:) stays text."""
    if not isinstance(url, str):
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None


def when(value: Any) -> str:
    """A published time as people read it: ``2026-03-14 09:40 UTC`` (or the bare date)."""
    if not isinstance(value, str) or not value:
        return "date unknown"
    if len(value) == 10:
        return value
    return value[:16].replace("T", " ") + " UTC"


def _highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    from storyline.report.views import highlight

    return highlight(text, words)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("storyline.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    env.filters["when"] = when
    env.filters["highlight"] = _highlight
    env.filters["short"] = lambda s, n=90: (
        (s[: n - 1] + "…") if isinstance(s, str) and len(s) > n else s
    )
    return env


def story_views(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each story's page (digest, timeline, copy families) from the report's own data."""
    from storyline.report.views import story_view

    articles = {a["id"]: a for a in report.get("articles") or []}
    digests = {d["story"]: d for d in report.get("digests") or [] if isinstance(d, dict)}
    links, families = report.get("links") or [], report.get("families") or []
    return {
        s["id"]: story_view(s, articles, links, families, digests.get(s["id"]))
        for s in report.get("stories") or []
    }


def render_html(report: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("report.html")
        .render(
            report=report,
            story_views=story_views(report),
            href_article=lambda aid: f"#a-{aid}",
            href_compare=lambda a, b: f"#link-{a}-{b}",
        )
    )
