"""report.md: the report as Markdown, for a terminal, a wiki or a pull request.

Text from articles is escaped so a hostile title cannot inject links or HTML into
whatever renders the Markdown; only http(s) URLs become links.
"""

from __future__ import annotations

import re
from typing import Any

from storyline.report.html import safe_url, story_views, when

__all__ = ["render_markdown"]

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")


def md_escape(text: Any) -> str:
    """Plain text as Markdown that renders as the same text (no markup, no HTML).

    ``<``, ``>`` and ``&`` become entities, which even renderers that pass raw HTML
    through show as characters.
    """
    if text is None:
        return ""
    escaped = _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(title: Any, url: Any) -> str:
    target = safe_url(url)
    shown = md_escape(title or "(untitled)")
    return f"[{shown}](<{target.replace('>', '%3E').replace(' ', '%20')}>)" if target else shown


def render_markdown(report: dict[str, Any]) -> str:
    """The report's summary, stories (digest, timeline, families), links and problems."""
    s = report["summary"]
    articles = {a["id"]: a for a in report.get("articles") or []}
    lines = [
        "# storyline report",
        "",
        f"{s['articles']} articles from {s['sources']} outlets · {s['sentences']} sentences · "
        f"{s.get('links', len(report.get('links') or []))} reuse links · "
        f"{s.get('stories', len(report.get('stories') or []))} stories · "
        f"{s['skipped']} inputs skipped",
        "",
    ]
    shown = report.get("shown")
    if shown:
        lines += [
            f"Shown here: the {shown['stories']} newest of {shown['of_stories']} stories, with "
            f"their {shown['articles']} of {shown['of_articles']} articles (`[report] "
            "html_stories`); report.json holds everything.",
            "",
        ]
    views = story_views(report)
    for st in report.get("stories") or []:
        v = views[st["id"]]
        lines += [
            f"## {md_escape(st.get('headline') or '(no headline)')}",
            "",
            f"`{st['id']}` · {st['article_count']} articles · {len(st['outlets'])} outlets · "
            f"{st['independent_sources']} independent sources · "
            f"{when(st.get('first_seen'))} → {when(st.get('last_seen'))}",
            "",
        ]
        d = v["digest"]
        if d:
            for line in d["summary"]:
                cites = "".join(f"[{n}]" for n in line["cites"])
                lines.append(f"- {md_escape(line['text'])} {cites}")
            if d["facts"]:
                lines += ["", "| fact | independent | first reported |", "|---|---|---|"]
                for f in d["facts"]:
                    first = f.get("first") or {}
                    lines.append(
                        f"| {md_escape(f['text'])} | {f.get('sources', 0)} | "
                        f"{md_escape(first.get('outlet') or '—')} |"
                    )
            if d["quotes"]:
                lines.append("")
                for q in d["quotes"]:
                    lines.append(
                        f"> “{md_escape(q['text'])}” — {md_escape(q.get('speaker') or 'unattributed')}"
                    )
                    lines.append("")
            if d["references"]:
                lines.append("")
                for r in d["references"]:
                    lines.append(
                        f"{r['n']}. {_link(r['title'], r['url'])} — {md_escape(r['source'])}"
                    )
        else:
            lines.append("*No digest yet.*")
        lines += ["", "### Coverage timeline", ""]
        for a in v["timeline"]:
            copy = "".join(
                f" *({c['kind'].replace('_', ' ')} of "
                f"{md_escape((articles.get(c['source']) or {}).get('source') or c['source'])})*"
                for c in a["copy_of"]
            )
            lines.append(
                f"- {when(a['published'])} · **{md_escape(a['source'] or 'unknown outlet')}**: "
                f"{_link(a['title'], a['url'])}{copy}"
            )
        lines.append("")
    if report.get("problems"):
        lines += ["## Inputs skipped or flagged", ""]
        for p in report["problems"]:
            lines.append(f"- `{md_escape(p['path'])}` {p['severity']}: {md_escape(p['reason'])}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
