"""The "same story?" model: learned from labelled streams, applied by the stream clusterer.

Training replays a labelled stream with an oracle: each article is scored against the
candidate stories the index offers, labelled by whether a candidate is its gold story,
and then joins its gold story. The rows train a logistic model over
``stream.FEATURE_NAMES``. The shipped model (``story_model.json``) was trained this way on
the three dev sets, equal weight each (``storyline eval stories lodo ROOT --write-model
FILE``, which also prints the leave-one-dataset-out scores: the honest figures).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from storyline.entities import Extractor, get_extractor, resolve
from storyline.eval.datasets import LabelledDoc
from storyline.reuse.decision import Decision
from storyline.stories.stream import (
    FEATURE_NAMES,
    Story,
    StoryDoc,
    StreamClusterer,
    epoch,
    feature_rows,
)

Embed = Callable[[list[str]], np.ndarray]


def lead(title: str, body: str, words: int = 60) -> str:
    """What an article's embedding is taken from: the title and the first words of the body."""
    return " ".join([title, *body.split()[:words]]).strip()


def to_story_docs(
    items: list[tuple[str, str | None, str, str]],
    extractor: Extractor | None,
    embed: Embed | None,
    chunk: int = 2000,
) -> list[StoryDoc]:
    """(id, published, title, body) rows as StoryDocs in canonical order (time, then id).
    Names and embeddings are found ``chunk`` articles at a time, into one array of vectors:
    at 100,000 articles the texts, names and vectors of all at once were GBs at a time."""
    ordered = sorted(items, key=lambda r: (r[1] is None, epoch(r[1]) or 0.0, r[0]))
    docs: list[StoryDoc] = []
    vectors: np.ndarray | None = None
    for start in range(0, len(ordered), chunk):
        part = ordered[start : start + chunk]
        texts = [f"{t}\n\n{b}".strip() for _, _, t, b in part]
        ents = extractor.extract(texts) if extractor else [[] for _ in part]
        del texts
        if embed is not None:
            got = embed([lead(t, b) for _, _, t, b in part])
            if vectors is None:
                vectors = np.empty((len(ordered), got.shape[1]), dtype=got.dtype)
            vectors[start : start + len(part)] = got
        for n, ((aid, published, title, body), found) in enumerate(zip(part, ents, strict=True)):
            docs.append(
                StoryDoc(
                    aid, epoch(published), title, body, Counter(e.key for e in resolve(found)),
                    None if vectors is None else vectors[start + n],
                )
            )  # fmt: skip
    return docs


class _Oracle:
    threshold = 0.5

    def probability(self, rows: np.ndarray) -> np.ndarray:  # never consulted
        return np.zeros(len(rows))


def oracle_rows(
    docs: list[StoryDoc], gold: dict[str, str], window_days: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels from replaying a labelled stream with its gold stories."""
    stream = StreamClusterer(_Oracle(), window_days=window_days)
    story_of_label: dict[str, int] = {}
    rows: list[list[float]] = []
    labels: list[int] = []
    bodies = stream.vectorizer.counts([d.body or d.title for d in docs])
    titles = stream.vectorizer.counts([d.title for d in docs])
    for doc, bc, tc in zip(docs, bodies, titles, strict=True):
        now = doc.time if doc.time is not None else stream.now
        stream.now = max(stream.now, now)
        body = stream.vectorizer.weigh(*bc)
        title = stream.vectorizer.weigh(*tc, learn=False)
        stream._evict(now)
        stream.learn_entities(doc)
        label = gold[doc.id]
        cands = stream._candidates(body or title, doc)
        stories = [stream.active[sid] for sid in cands]
        rows.extend(feature_rows(body, title, doc, stories, stream.entity_idf))
        labels.extend(int(story_of_label.get(label) == sid) for sid in cands)
        known = story_of_label.get(label)
        if known is not None and known in stream.active:
            sid = known
        else:
            sid = stream.next_id
            stream.next_id += 1
            story_of_label[label] = sid
            stream.active[sid] = Story(sid)
        stream.active[sid].add(body, title, doc, now)
        stream._index(sid, body or title, doc)
    return np.array(rows), np.array(labels)


def train(
    streams: list[tuple[list[StoryDoc], dict[str, str]]],
    meta: dict[str, Any] | None = None,
    window_days: float = 14.0,
) -> Decision:
    """Fit the story model; each stream weighs the same, whatever its size."""
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for docs, gold in streams:
        x, y = oracle_rows(docs, gold, window_days)
        xs.append(x)
        ys.append(y)
        ws.append(np.full(len(y), 1.0 / max(1, len(y))))
    x_all, y_all = np.vstack(xs), np.concatenate(ys)
    weights = np.concatenate(ws) * len(y_all)
    mean = x_all.mean(axis=0)
    scale = x_all.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(max_iter=3000).fit(
        (x_all - mean) / scale, y_all, sample_weight=weights
    )
    return Decision(mean, scale, model.coef_[0], float(model.intercept_[0]), 0.5, meta)


@lru_cache(maxsize=4)
def load_story_model(path: str | None = None) -> Decision:
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("storyline.stories").joinpath("story_model.json").read_text("utf-8")
    return Decision.from_json(json.loads(text), FEATURE_NAMES)


def prepare(
    labelled: list[LabelledDoc], extractor_name: str = "rules", embed: Embed | None = None
) -> tuple[list[StoryDoc], dict[str, set[str]]]:
    extractor = get_extractor(extractor_name) if extractor_name else None
    docs = to_story_docs([(d.id, d.published, d.title, d.body) for d in labelled], extractor, embed)
    return docs, {d.id: set(d.gold) for d in labelled}
