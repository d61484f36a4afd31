"""What a story, a comparison or an article page shows, as plain data.

Both front ends render these: the static report.html and the web app. They are pure
functions over report.json-shaped dicts (articles as ``article_entry``, links, families,
stories, digests), so the two never drift apart and no template does arithmetic.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["compare_view", "highlight", "story_view"]

#: Link kinds that make an article a copy of another (the rest are shared material).
COPY_KINDS = ("duplicate", "near_duplicate", "rewrite")


def highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """Split ``text`` into (segment, marked) pieces, marking each of ``words`` where it stands.

    Templates escape every piece and wrap the marked ones in ``<mark>``, so no markup from
    the text (or the words) ever reaches the page unescaped.
    """
    wanted = sorted({w for w in words if w and w.strip()}, key=len, reverse=True)
    if not text or not wanted:
        return [(text or "", False)]
    pattern = re.compile(
        "|".join(
            (r"\b" if w[0].isalnum() else "") + re.escape(w) + (r"\b" if w[-1].isalnum() else "")
            for w in wanted
        )
    )
    pieces: list[tuple[str, bool]] = []
    at = 0
    for m in pattern.finditer(text):
        if m.start() > at:
            pieces.append((text[at : m.start()], False))
        pieces.append((m.group(0), True))
        at = m.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


def _article_brief(a: dict[str, Any] | None, aid: str) -> dict[str, Any]:
    a = a or {}
    return {
        "id": aid,
        "title": a.get("title"),
        "source": a.get("source"),
        "published": a.get("published"),
        "url": a.get("url"),
    }


def _cite(digest: dict[str, Any], articles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The digest with citation numbers: each article cited gets [n] in order of first use."""
    numbers: dict[str, int] = {}

    def refs(ids: list[str] | None) -> list[int]:
        out = []
        for aid in ids or []:
            if aid not in numbers:
                numbers[aid] = len(numbers) + 1
            out.append(numbers[aid])
        return out

    summary = [
        {
            **s,
            "cites": refs(s.get("articles")),
            # The digest names the independent sources; older digests lack them.
            "outlets": s.get("outlets") or _outlets(s.get("articles"), articles),
        }
        for s in digest.get("summary") or []
    ]
    facts = [{**f, "cites": refs(f.get("articles"))} for f in digest.get("facts") or []]
    quotes = [{**q, "cites": refs(q.get("articles"))} for q in digest.get("quotes") or []]
    conflicts = [
        {
            **c,
            "values": [{**v, "cites": refs(v.get("articles"))} for v in c.get("values") or []],
        }
        for c in digest.get("conflicts") or []
    ]
    references = [{"n": n, **_article_brief(articles.get(aid), aid)} for aid, n in numbers.items()]
    entities = digest.get("entities") or {}
    return {
        **digest,
        "summary": summary,
        "facts": facts,
        "quotes": quotes,
        "conflicts": conflicts,
        "entities": entities,
        "references": references,
    }


def _outlets(ids: list[str] | None, articles: dict[str, dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for aid in ids or []:
        src = (articles.get(aid) or {}).get("source")
        if src and src not in seen:
            seen.append(src)
    return seen


def story_view(
    story: dict[str, Any],
    articles: dict[str, dict[str, Any]],
    links: list[dict[str, Any]],
    families: list[dict[str, Any]],
    digest: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A story page: its digest with citations, coverage timeline, copy families and links."""
    members = list(story.get("articles") or [])
    inside = set(members)
    story_links = [ln for ln in links if ln["source"] in inside and ln["copy"] in inside]
    copy_of: dict[str, list[dict[str, Any]]] = {}
    for ln in story_links:
        if ln.get("kind") in COPY_KINDS:
            copy_of.setdefault(ln["copy"], []).append(
                {"source": ln["source"], "kind": ln["kind"], "direction": ln.get("direction")}
            )
    timeline = sorted(
        (
            {
                **_article_brief(articles.get(aid), aid),
                "copy_of": copy_of.get(aid, []),
                "credits": sorted(
                    {c["outlet"] for c in (articles.get(aid) or {}).get("credits") or []}
                ),
            }
            for aid in members
        ),
        key=lambda a: (a["published"] is None, a["published"] or "", a["id"]),
    )
    # Each article's outlet, for the pages' link lists (a lookup, not a scan per link).
    outlet_of = {a["id"]: a["source"] for a in timeline}
    kind_of = {(ln["source"], ln["copy"]): ln.get("kind") for ln in story_links}
    graphs = []
    for fam in families:
        ids = [a for a in fam.get("articles") or [] if a in inside]
        root = str(fam.get("root") or "")
        if root not in inside or len(ids) < 2:
            continue
        copies = [
            {
                **_article_brief(articles.get(a), a),
                "kind": kind_of.get((root, a)) or kind_of.get((a, root)) or "copy",
            }
            for a in ids
            if a != root
        ]
        graphs.append({"root": _article_brief(articles.get(root), root), "copies": copies})
    return {
        "story": story,
        "timeline": timeline,
        "outlet_of": outlet_of,
        "families": graphs,
        "links": story_links,
        "digest": _cite(digest, articles) if digest else None,
    }


def compare_view(result: dict[str, Any]) -> dict[str, Any]:
    """A comparison as rows: aligned sentences side by side, swapped words marked, the rest alone."""
    arts = result["articles"]
    src, cpy = arts[result["source"]], arts[result["copy"]]
    rows: list[dict[str, Any]] = []
    used_src: set[int] = set()
    used_copy: set[int] = set()
    for p in sorted(
        result.get("pairs") or [], key=lambda p: (p["copy_sentence"], p["source_sentence"])
    ):
        subs = p.get("substitutions") or []
        used_src.add(p["source_sentence"])
        used_copy.add(p["copy_sentence"])
        rows.append(
            {
                "source": highlight(p["source_text"], [s["old"] for s in subs]),
                "copy": highlight(p["copy_text"], [s["new"] for s in subs]),
                "verbatim": bool(p.get("verbatim")),
                "score": p.get("score"),
                "substitutions": subs,
            }
        )
    return {
        "result": result,
        "source": src,
        "copy": cpy,
        "rows": rows,
        "only_source": [s for i, s in enumerate(src.get("sentences") or []) if i not in used_src],
        "only_copy": [s for i, s in enumerate(cpy.get("sentences") or []) if i not in used_copy],
    }
