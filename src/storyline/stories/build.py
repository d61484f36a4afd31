"""The stories stage: cluster every linked article, apply corrections, keep ids, describe."""

from __future__ import annotations

from typing import Any

import numpy as np

from storyline.config import Settings
from storyline.embed import get_embedder
from storyline.entities import get_extractor
from storyline.store import Store
from storyline.stories.batch import batch_stories
from storyline.stories.ids import apply_overrides, carry_ids
from storyline.stories.model import lead, load_story_model, to_story_docs


def build_stories(
    store: Store, settings: Settings, report: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every story of the store's articles, and the aliases of merged ids; how the stories were
    found (clustering method, silhouette, fallbacks) goes into ``report`` when one is given."""
    cfg = settings.stories
    articles = list(store.iter_articles(full=False))
    if not articles:
        return [], {}
    embed = (
        get_embedder(settings.embed.model, settings.embed.device).encode if cfg.embeddings else None
    )
    rows = [(a.id, a.published, a.title or "", a.clean or "") for a in articles]
    docs = to_story_docs(rows, get_extractor(cfg.entities), embed)
    model = load_story_model(cfg.model or None)
    assignments = batch_stories(docs, model, cfg, report)
    by_story: dict[int, list[str]] = {}
    for d in docs:
        by_story.setdefault(assignments[d.id], []).append(d.id)
    groups = apply_overrides(list(by_story.values()), store.overrides())
    order = {d.id: n for n, d in enumerate(docs)}
    previous = store.story_members()
    ages = store.story_ages()
    named, aliases = carry_ids(groups, previous, order, ages)
    next_age = max(ages.values(), default=-1) + 1
    meta = {a.id: a for a in articles}
    vectors = {d.id: d.embedding for d in docs}
    roots = store.families()
    stories = []
    for sid, members in named.items():
        arts = [meta[a] for a in members]
        stories.append(describe(sid, ages.get(sid, next_age), arts, vectors, roots))
        if sid not in ages:
            next_age += 1
    return stories, aliases


def describe(
    sid: str, age: int, arts: list[Any], vectors: dict[str, Any], roots: dict[str, str]
) -> dict[str, Any]:
    """A story's headline (its most central title), time span, outlets and independent sources."""
    titled = [a for a in arts if a.title]
    headline = None
    pool = titled or arts
    vecs = [v for v in (vectors.get(a.id) for a in pool) if v is not None]
    if len(vecs) == len(pool) > 1:
        matrix = np.stack(vecs)
        centre = matrix.mean(axis=0)
        best = pool[int(np.argmax(matrix @ centre))]
    else:
        best = pool[0]
    if best.title:
        headline = best.title
    elif best.sentences:
        headline = best.sentences[0].text
    elif best.clean:
        headline = lead("", best.clean, 20)
    times = sorted(a.published for a in arts if a.published)
    outlets = sorted({a.source for a in arts if a.source})
    by_id = {a.id: a for a in arts}
    independent = set()
    for a in arts:
        root = roots.get(a.id, a.id)
        root_article = by_id.get(root, a)
        independent.add(root_article.source or root)
    return {
        "id": sid,
        "age": age,
        "headline": headline,
        "articles": [a.id for a in arts],
        "first_seen": times[0] if times else None,
        "last_seen": times[-1] if times else None,
        "outlets": outlets,
        "article_count": len(arts),
        "independent_sources": len(independent),
    }
