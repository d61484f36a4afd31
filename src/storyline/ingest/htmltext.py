"""HTML to article text and metadata: trafilatura for the main text, lxml for the rest."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from storyline.ingest.dates import parse_published
from storyline.records import RemovedLine

_BLOCK_TAGS = (
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "figure",
    "figcaption",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "table",
    "tr",
    "pre",
    "form",
    "dd",
    "dt",
    "address",
    "main",
)
_DROP_TAGS = ("head", "title", "script", "style", "noscript", "template", "svg", "iframe")
_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "date",
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


@dataclass
class HtmlArticle:
    text: str
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published: str | None = None
    author: str | None = None
    flags: list[str] = field(default_factory=list)
    removed: list[RemovedLine] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


@dataclass
class Block:
    text: str
    link_density: float = 0.0
    in_figure: bool = False


def html_blocks(html: str) -> list[Block]:
    """Visible text blocks with their link density and whether they sit in a <figure>."""
    import lxml.html

    from storyline.ingest.decode import scrub

    html, _ = scrub(html)  # lxml takes no control characters or lone surrogates
    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return [Block(p) for p in (" ".join(html.split()),) if p]
    for bad in root.iter(*_DROP_TAGS):
        bad.drop_tree()
    links = [t for t in (_norm(a.text_content()) for a in root.iter("a")) if t]
    figures = [_norm(f.text_content()) for f in root.iter("figure", "figcaption")]
    for el in root.iter(*_BLOCK_TAGS):
        el.tail = "\n\n" + (el.tail or "")
        if el.text:
            el.text = "\n\n" + el.text
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    text = root.text_content()
    blocks = []
    for chunk in re.split(r"\n\s*\n", text):
        line = _SPACES.sub(" ", chunk).strip()
        line = re.sub(r"\s*\n\s*", "\n", line)
        if not line:
            continue
        n = _norm(line)
        linked = sum(len(t) for t in links if t in n)
        in_figure = any(n in f for f in figures)
        blocks.append(Block(line, min(1.0, linked / max(1, len(n))), in_figure))
    return blocks


def _meta(root: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for el in root.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        value = (el.get("content") or "").strip()
        if key and value and key not in found:
            found[key] = value
    for el in root.iter("link"):
        if (el.get("rel") or "").lower() == "canonical" and el.get("href"):
            found.setdefault("canonical", el.get("href").strip())
    for el in root.iter("script"):
        if (el.get("type") or "").lower() == "application/ld+json" and el.text:
            try:
                data = json.loads(el.text)
            except ValueError:
                continue
            items = data if isinstance(data, list) else [data]
            for item in items:
                if isinstance(item, dict) and item.get("datePublished"):
                    found.setdefault("datepublished", str(item["datePublished"]))
    for el in root.iter("time"):
        if el.get("datetime") and (
            el.get("pubdate") is not None or "publish" in (el.get("class") or "")
        ):
            found.setdefault("time-pubdate", el.get("datetime"))
    return found


def extract_html(html: str, url: str | None = None) -> HtmlArticle:
    """Main text and metadata of a news page; the page's other text blocks become removed lines."""
    import lxml.html
    import trafilatura

    flags: list[str] = []
    meta: dict[str, str] = {}
    try:
        meta = _meta(lxml.html.fromstring(html))
    except (ValueError, lxml.etree.ParserError):
        flags.append("html:unparsable-metadata")
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    data: dict[str, Any] = {}
    if doc is not None:
        data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (data.get("text") or "").strip()
    all_blocks = html_blocks(html)
    if not text:
        # trafilatura keeps nothing from very short pages; fall back to the page's blocks.
        flags.append("html:fallback-extraction")
        text = "\n\n".join(b.text for b in all_blocks if b.link_density < 0.5)
    else:
        text = "\n\n".join(line.strip() for line in text.splitlines() if line.strip())
    # Photo captions inside <figure> that the extractor kept in the text are set aside too.
    captions = {_norm(b.text) for b in all_blocks if b.in_figure}
    if captions:
        text = "\n\n".join(ln for ln in text.split("\n\n") if _norm(ln) not in captions)
    whole = _norm(text)
    removed = []
    for i, block in enumerate(all_blocks, start=1):
        n = _norm(block.text)
        if n and n not in whole:
            reason = (
                "photo caption or photo credit (in a figure)"
                if block.in_figure
                else "page boilerplate: outside the main text"
            )
            removed.append(RemovedLine(line=i, text=block.text, reason=reason))
    published = None
    for key in (*_DATE_META, "datepublished", "time-pubdate"):
        if key in meta:
            published = parse_published(meta[key])
            if published:
                break
    if published is None and data.get("date"):
        published = parse_published(data.get("date"))
    page_url = meta.get("og:url") or meta.get("canonical") or data.get("url") or url
    return HtmlArticle(
        text=text,
        title=(data.get("title") or meta.get("og:title") or None),
        url=page_url or None,
        source=meta.get("og:site_name") or data.get("sitename") or None,
        published=published,
        author=meta.get("author") or data.get("author") or None,
        flags=flags,
        removed=removed,
    )
