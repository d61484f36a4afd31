"""The stories stage: cluster every linked article, apply corrections, keep ids, describe."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from storyline.config import Settings
from storyline.embed import embedder_of
from storyline.entities import StoredExtractor, get_extractor
from storyline.store import Store
from storyline.stories.batch import Spread, batch_stories
from storyline.stories.ids import apply_overrides, carry_ids
from storyline.stories.model import (
    features_config,
    keep_docs,
    kept_story_docs,
    lead,
    load_story_model,
    to_story_docs,
)


def build_stories(
    store: Store,
    settings: Settings,
    report: dict[str, Any] | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    engine: Any = None,
    clustered: Clustered | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every story of the store's articles, and the aliases of merged ids; how the stories were
    found (clustering method, silhouette, fallbacks) goes into ``report`` when one is given.
    On an ``engine`` of several workers the batch clustering's pairwise work is spread.
    ``clustered``: the batch clustering made already (``cluster_rows`` in a pool worker while
    the reuse stage ran), used where it was made of these very articles."""
    cfg = settings.stories
    # Light articles: no sentences (a story's headline reads its best article's first
    # sentence only when it has no title): at 100,000 articles the sentences alone were GBs.
    articles = list(store.iter_articles(full=False, parts=False))
    if not articles:
        return [], {}
    if not cfg.embeddings:
        embed = None
    elif embed is None:
        embed = embedder_of(settings.embed).encode
    rows = story_rows(articles)
    extractor = StoredExtractor(get_extractor(cfg.entities), store)
    docs = to_story_docs(rows, extractor, embed)
    keep_story_docs(store, story_docs_config(extractor.name, embed), docs, rows)
    if clustered is not None and clustered.key == rows_key(rows):
        assignments = clustered.assignments
        if report is not None:
            report.update(clustered.report)
    else:
        model = load_story_model(cfg.model or None)
        assignments = batch_stories(docs, model, cfg, report, spread_on(engine, len(docs)))
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
        stories.append(
            describe(sid, ages.get(sid, next_age), arts, vectors, roots, store.first_sentence)
        )
        if sid not in ages:
            next_age += 1
    return stories, aliases


Row = tuple[str, str | None, str, str]


def story_docs_config(
    extractor: str, embed: Callable[[list[str]], np.ndarray] | None
) -> str | None:
    """The key of the story features made with this extractor and embedder (``encode`` of an
    embedder that has a ``name``); None for an embedder the store cannot name."""
    if embed is None:
        return features_config(extractor, None)
    model = getattr(getattr(embed, "__self__", None), "name", None)
    return features_config(extractor, model) if isinstance(model, str) else None


def keep_story_docs(store: Store, config: str | None, docs: list[Any], rows: list[Row]) -> None:
    """Keep the story features of the docs the store does not hold yet (a batch clustering
    made them all), so that the next ``add`` reads the active stories' articles from them."""
    if config is None:
        return
    have = store.story_doc_ids(config)
    todo = [d for d in docs if d.id not in have]
    published = {r[0]: r[1] for r in rows}
    for start in range(0, len(todo), 2000):
        part = todo[start : start + 2000]
        keep_docs(store, config, part, published)
        for d in part:  # the counts were made for keeping: the batch clustering counts its own
            d.counts = None


def story_rows(articles: list[Any]) -> list[Row]:
    """What the stories read of each article: (id, published, title, clean text)."""
    return [(a.id, a.published, a.title or "", a.clean or "") for a in articles]


def rows_key(rows: list[Row]) -> str:
    """A digest of the rows, in any order: a clustering made of them holds for them alone."""
    h = hashlib.blake2b(digest_size=16)
    for row in sorted(rows, key=lambda r: r[0]):
        h.update(repr(row).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass
class Clustered:
    """A batch clustering made elsewhere: of the rows of ``key``, its ``assignments`` and how
    they were found (``report``)."""

    key: str
    assignments: dict[str, int]
    report: dict[str, Any] = field(default_factory=dict)


def cluster_rows(
    rows: list[Row], settings: Settings, store: Any, embed: Callable[[list[str]], np.ndarray] | None
) -> Clustered:
    """The batch clustering of ``rows`` alone, with names and vectors read and kept through
    ``store`` (the store, or what a task was shipped with): the part of ``build_stories``
    that a pool worker can do while the reuse stage runs (it reads no links)."""
    cfg = settings.stories
    docs = to_story_docs(
        rows, StoredExtractor(get_extractor(cfg.entities), store), embed if cfg.embeddings else None
    )
    report: dict[str, Any] = {}
    assignments = batch_stories(docs, load_story_model(cfg.model or None), cfg, report)
    return Clustered(rows_key(rows), assignments, report)


def spread_on(engine: Any, n: int) -> Spread:
    """How an ``engine`` takes the pairwise work of ``n`` articles' batch stories: in this
    process on the local engine (and for fewer than the Ray engine's ``spread_rows``: a task
    costs Ray Data seconds), else in two slices per worker."""
    workers = getattr(engine, "workers", 1)
    if engine is None or workers <= 1 or n < getattr(engine, "spread_rows", 0):
        return Spread()
    parts = 2 * workers
    block = max(1, min(Spread.block, -(-n // parts)))
    return Spread(partial(engine.map_shared, stage="stories"), parts, block)


def place_stories(
    store: Store,
    settings: Settings,
    new: list[str],
    report: dict[str, Any] | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """New articles placed by the stream against the stories active around their time
    (``storyline add`` between batch rebuilds): only those stories' articles are read.

    Returns the stories that changed or began, the aliases of stories merged away, and the
    ids of the stories that are gone (merged into others).
    """
    from datetime import UTC, datetime

    from storyline.stories.stream import epoch, place

    cfg = settings.stories
    if not cfg.embeddings:
        embed = None
    elif embed is None:
        embed = embedder_of(settings.embed).encode
    extractor = StoredExtractor(get_extractor(cfg.entities), store)
    config = story_docs_config(extractor.name, embed)
    fresh_by_id = store.light(new)
    fresh = [fresh_by_id[i] for i in new if i in fresh_by_id]
    times = [t for t in (epoch(a.published) for a in fresh) if t is not None]
    since = (
        datetime.fromtimestamp(min(times) - (cfg.window_days + 1) * 86400.0, UTC).date().isoformat()
        if times
        else None
    )
    previous = store.stories_since(since)
    meta = {a.id: a for a in fresh}

    def read(ids: list[str]) -> list[Row]:
        """The rows of articles whose story features are not kept (read as light articles,
        which the stories they end up in are described from)."""
        meta.update(store.light(i for i in ids if i not in meta))
        return story_rows([meta[i] for i in ids if i in meta])

    ages = store.story_ages()
    ordered_old = sorted(previous, key=lambda s: (ages.get(s, 0), s))
    # The articles of the active stories are read from their kept features, not their texts.
    wanted = [*(i for members in previous.values() for i in members), *(a.id for a in fresh)]
    all_docs = kept_story_docs(store, config, wanted, read, extractor, embed)
    by_id = {d.id: d for d in all_docs}
    groups = [[by_id[a] for a in previous[sid] if a in by_id] for sid in ordered_old]
    new_docs = [by_id[a.id] for a in fresh if a.id in by_id and a.id not in previous]
    clusterer, numbers = place(load_story_model(cfg.model or None), cfg, groups, new_docs)
    story_of = clusterer.assignments
    touched = {story_of[a.id] for a in fresh if a.id in story_of}
    touched |= set(clusterer.merged_into.values()) | set(clusterer.merged_into)
    was = {n: sid for n, sid in zip(numbers, ordered_old, strict=True)}
    grouped: dict[int, list[str]] = {}
    for aid, n in story_of.items():
        if n in touched:
            grouped.setdefault(n, []).append(aid)
    groups_now = apply_overrides(list(grouped.values()), store.overrides())
    before = {was[n]: previous[was[n]] for n in touched if n in was}
    order = {d.id: n for n, d in enumerate(all_docs)}
    named, aliases = carry_ids(groups_now, before, order, ages)
    next_age = max(ages.values(), default=-1) + 1
    vectors = {d.id: d.embedding for d in all_docs}
    roots = store.families()
    meta.update(store.light(a for members in named.values() for a in members if a not in meta))
    stories = []
    for sid, members in named.items():
        stories.append(describe(sid, ages.get(sid, next_age), [meta[a] for a in members],
                                vectors, roots, store.first_sentence))  # fmt: skip
        if sid not in ages:
            next_age += 1
    gone = [sid for sid in before if sid not in named]
    if report is not None:
        report.update(
            method="stream placement", active_stories=len(previous), placed=len(fresh),
            online_merges=clusterer.online_merges,
        )  # fmt: skip
    return stories, aliases, gone


def describe(
    sid: str,
    age: int,
    arts: list[Any],
    vectors: dict[str, Any],
    roots: dict[str, str],
    first_sentence: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """A story's headline (its most central title), time span, outlets and independent sources.
    Light articles (no sentences) need ``first_sentence`` (an article id's first sentence)."""
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
    first = best.sentences[0].text if best.sentences else None
    if not best.title and first is None and first_sentence is not None:
        first = first_sentence(best.id)
    if best.title:
        headline = best.title
    elif first is not None:
        headline = first
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
