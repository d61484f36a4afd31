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
from collections.abc import Callable, Iterable
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
    ordered = sorted(items, key=lambda r: canonical(r[0], r[1]))
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


def canonical(aid: str, published: str | None) -> tuple[bool, float, str]:
    """An article's place in the canonical order: undated last, then time, then id."""
    return (published is None, epoch(published) or 0.0, aid)


# -- story features kept in the store ---------------------------------------------------------
#: Bumped when what ``pack_doc`` keeps, or how it is made, changes: older rows are then made again.
FEATURES_VERSION = 1
_HEAD = np.dtype("<u4")


def features_config(extractor: str | None, embed_model: str | None) -> str:
    """The key under which an article's story features are kept: they hold for one entity
    extractor and one embedding model (none: the stories use no vectors)."""
    return f"v{FEATURES_VERSION}:{extractor or '-'}:{embed_model or '-'}"


def pack_doc(doc: StoryDoc) -> bytes:
    """What the stream clusterer needs of an article (``doc.counts`` must be set), as bytes:
    four counts, two hashed-term arrays with their counts, the vector (float16 where that
    loses nothing, else float32) and the names with their counts in order (JSON)."""
    assert doc.counts is not None
    (bi, bt), (ti, tt) = doc.counts
    vec = doc.embedding
    half = vec is not None and bool(np.array_equal(vec.astype(np.float16).astype(vec.dtype), vec))
    parts = [
        np.array([len(bi), len(ti), 0 if vec is None else len(vec), 2 if half else 4], _HEAD),
        np.asarray(bi, "<i4"), np.asarray(bt, "<u4"), np.asarray(ti, "<i4"), np.asarray(tt, "<u4"),
    ]  # fmt: skip
    if vec is not None:
        parts.append(np.asarray(vec, "<f2" if half else "<f4"))
    names = json.dumps(list(doc.entities.items()), ensure_ascii=False).encode("utf-8")
    return b"".join(p.tobytes() for p in parts) + names


def unpack_doc(aid: str, published: str | None, data: bytes) -> StoryDoc:
    """The StoryDoc ``pack_doc`` kept (no texts: its counts stand for them)."""
    nb, nt, ne, width = (int(x) for x in np.frombuffer(data, _HEAD, 4))
    at = 16

    def take(dtype: str, n: int) -> np.ndarray:
        nonlocal at
        out = np.frombuffer(data, dtype, n, at)
        at += n * np.dtype(dtype).itemsize
        return out

    bi, bt = take("<i4", nb).astype(np.int32), take("<u4", nb).astype(np.float64)
    ti, tt = take("<i4", nt).astype(np.int32), take("<u4", nt).astype(np.float64)
    vec = None
    if ne:
        vec = take("<f2" if width == 2 else "<f4", ne).astype(np.float32)
    names = Counter(dict((str(k), int(v)) for k, v in json.loads(data[at:].decode("utf-8"))))
    return StoryDoc(aid, epoch(published), "", "", names, vec, ((bi, bt), (ti, tt)))


def kept_story_docs(
    store: Any,
    config: str | None,
    ids: Iterable[str],
    read: Callable[[list[str]], list[tuple[str, str | None, str, str]]],
    extractor: Extractor | None,
    embed: Embed | None,
) -> list[StoryDoc]:
    """These articles as StoryDocs in canonical order: those whose features the store keeps
    under ``config`` read back, the others made from their rows (``read``: the (id,
    published, title, clean text) of some ids) and kept. With no ``config`` (an embedder
    the store cannot name) every one is made."""
    ids = list(dict.fromkeys(ids))
    kept = store.load_story_docs(config, ids) if config else {}
    docs = [unpack_doc(aid, published, data) for aid, (published, data) in kept.items()]
    published = {aid: p for aid, (p, _) in kept.items()}
    todo = [aid for aid in ids if aid not in kept]
    if todo:
        rows = read(todo)
        made = to_story_docs(rows, extractor, embed)
        published.update((r[0], r[1]) for r in rows)
        if config:
            keep_docs(store, config, made, published)
        docs.extend(made)
    docs.sort(key=lambda d: canonical(d.id, published[d.id]))
    return docs


def keep_docs(
    store: Any, config: str, docs: list[StoryDoc], published: dict[str, str | None]
) -> None:
    """Count the docs' words and keep their story features under ``config``."""
    keep_counts(docs)
    store.save_story_docs(config, [(d.id, published[d.id], pack_doc(d)) for d in docs])


def keep_counts(docs: list[StoryDoc]) -> None:
    """Count each doc's words (what ``pack_doc`` keeps of its texts)."""
    from storyline.stories.stream import Vectorizer

    for doc, counts in zip(docs, Vectorizer().doc_counts(docs), strict=True):
        doc.counts = counts


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
