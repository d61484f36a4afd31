"""Story clustering on the dev sets: BCubed (extended), pairwise F1 and ARI.

``evaluate_stories`` scores the shipped model (or one given) on one data set;
``leave_one_out`` trains on all data sets but one and scores the one left out, for each.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from storyline.config import Settings
from storyline.embed import embedder_of
from storyline.eval.datasets import LabelledDoc, duc_stream, multiling_stream, uci_stream
from storyline.reuse.decision import Decision
from storyline.stories import batch
from storyline.stories.batch import batch_stories
from storyline.stories.metrics import scores
from storyline.stories.model import load_story_model, prepare, train
from storyline.stories.stream import StreamClusterer, place

LOCATIONS = {
    "duc": "duc2003",
    "duc-all": "duc2003",
    "multiling": "multiling2011_en",
    "uci": "uci_news_aggregator/uci-news-aggregator.subset.csv",
}


#: ``mixed``: these dev sets as one corpus (full articles beside headlines), from the folder
#: that holds them all.
MIXED = ("duc", "multiling", "uci")


def load(fmt: str, path: str | Path) -> tuple[list[LabelledDoc], list[str]]:
    if fmt == "mixed":
        docs, skipped = [], []
        for name in MIXED:
            got, notes = load(name, Path(path) / LOCATIONS[name])
            docs += [replace(d, gold={f"{name}:{g}" for g in d.gold}) for d in got]
            skipped += notes
        return docs, skipped
    if fmt == "duc":
        return duc_stream(path, "t"), []
    if fmt == "duc-all":
        return duc_stream(path, "all"), []
    if fmt == "multiling":
        return multiling_stream(path), []
    if fmt == "uci":
        return uci_stream(path)
    raise ValueError(f"unknown stories data set {fmt!r}; choose {', '.join([*LOCATIONS, 'mixed'])}")


def cluster(
    docs: list[Any], model: Decision, settings: Settings, mode: str = "batch"
) -> dict[str, int]:
    """Story numbers by ``mode``: ``batch`` (``storyline stories rebuild``), ``stream`` (the
    stream alone, from an empty store) or ``add`` (``replay_adds``)."""
    s = settings.stories
    if mode == "batch":
        return batch_stories(docs, model, s)
    if mode == "add":
        return replay_adds(docs, model, settings)
    return StreamClusterer.from_settings(model, s).run(docs)


def replay_adds(docs: list[Any], model: Decision, settings: Settings) -> dict[str, int]:
    """The stories a store holds after one ``storyline add`` per publication day (UTC; the
    undated last), each as the pipeline's stories stage does it: the whole store clustered in
    batch when it is new or when ``[stories] rebuild_share`` of it is new since the last batch,
    else the day's articles placed by the stream against the stories so far."""
    from datetime import UTC, datetime

    cfg = settings.stories

    def day(d: Any) -> str:
        return "~" if d.time is None else datetime.fromtimestamp(d.time, UTC).date().isoformat()

    days: dict[str, list[Any]] = {}
    for d in docs:  # canonical order: the days come in order, the undated last
        days.setdefault(day(d), []).append(d)
    seen: list[Any] = []
    stories: list[list[Any]] = []
    since_batch = 0
    for chunk in days.values():
        seen += chunk
        since_batch += len(chunk)
        if not stories or since_batch >= cfg.rebuild_share * len(seen):
            labels = batch_stories(seen, model, cfg)
            since_batch = 0
        else:
            labels = place(model, cfg, stories, chunk)[0].assignments
        by_label: dict[int, list[Any]] = {}
        for d in seen:
            by_label.setdefault(labels[d.id], []).append(d)
        stories = list(by_label.values())
    return {d.id: n for n, story in enumerate(stories) for d in story}


def _bcubed_f1(pred: dict[str, str], gold: dict[str, set[str]]) -> float:
    return scores(pred, gold)["bcubed_f1"]


def _scores(pred: dict[str, int], gold: dict[str, set[str]]) -> dict[str, Any]:
    """``scores`` of story numbers."""
    return scores({aid: str(story) for aid, story in pred.items()}, gold)


def evaluate_stories(
    fmt: str, path: str | Path, settings: Settings | None = None, model: Decision | None = None
) -> dict[str, Any]:
    settings = settings or Settings()
    labelled, skipped = load(fmt, path)
    embed = embedder_of(settings.embed).encode if settings.stories.embeddings else None
    docs, gold = prepare(labelled, settings.stories.entities, embed)
    model = model or load_story_model(settings.stories.model or None)
    result: dict[str, Any] = {}
    for mode in ("batch", "stream", "add"):
        pred = cluster(docs, model, settings, mode)
        got = _scores(pred, gold)
        result.update({(k if mode == "batch" else f"{mode}_{k}"): v for k, v in got.items()})
        if fmt == "mixed" and mode == "batch":  # each set's share of the one clustering
            for name in MIXED:
                mine = {k: v for k, v in gold.items() if next(iter(v)).startswith(f"{name}:")}
                part = {k: str(pred[k]) for k in mine}
                result[f"{name}_bcubed_f1"] = scores(part, mine)["bcubed_f1"]
    result.update(headroom(docs, gold, model, settings))
    result["skipped_rows"] = skipped
    result["model"] = (model.meta or {}).get("trained_on", "given")
    return result


def headroom(
    docs: list[Any], gold: dict[str, set[str]], model: Decision, settings: Settings
) -> dict[str, float]:
    """What limits the batch score, as two ceilings on its BCubed F1 (both read the gold):

    - ``ceiling_one_story_bcubed_f1``: the gold itself with each article in one of its
      stories. Stories are a partition, so an article the gold puts in two scores less.
    - ``ceiling_trees_bcubed_f1``: the best stories the batch trees hold, the gold choosing
      each split greedily (``TreeCut.best``). Below it the loss is the choice of stories;
      above it, the similarity's.
    """
    first = _first(gold)
    out = {"ceiling_one_story_bcubed_f1": scores(first, gold)["bcubed_f1"]}
    s = settings.stories
    params = batch.BatchParams.from_meta(getattr(model, "meta", None))
    if s.batch == "average" and len(docs) <= params.max_articles:
        best = batch.best_in_trees(docs, params, first)
        out["ceiling_trees_bcubed_f1"] = _scores(best, gold)["bcubed_f1"]
    return out


def _prepared(
    root: str | Path, settings: Settings
) -> dict[str, tuple[list[Any], dict[str, set[str]]]]:
    base = Path(root)
    embed = embedder_of(settings.embed).encode if settings.stories.embeddings else None
    names = ("duc", "multiling", "uci")
    return {
        n: prepare(load(n, base / LOCATIONS[n])[0], settings.stories.entities, embed) for n in names
    }


def _first(gold: dict[str, set[str]]) -> dict[str, str]:
    return {k: sorted(v)[0] for k, v in gold.items()}


def train_on_dev_sets(root: str | Path, settings: Settings | None = None) -> Decision:
    """The shipped story model: trained on DUC 2003 TDT, MultiLing 2011 and UCI, equal weight;
    its meta carries the batch weight and cut learned on the same sets."""
    settings = settings or Settings()
    prepared = _prepared(root, settings)
    return _ship(prepared, batch.grid(list(prepared.values()), _bcubed_f1), settings)


Prepared = dict[str, tuple[list[Any], dict[str, set[str]]]]


class _Scored:
    """Each dev set's batch BCubed F1 under given batch parameters, each worked out once."""

    def __init__(self, prepared: Prepared) -> None:
        self.sets = list(prepared.values())
        self.seen: dict[tuple[int, str], float] = {}

    def __call__(self, k: int, params: batch.BatchParams) -> float:
        key = (k, json.dumps(params.to_meta(), sort_keys=True))
        if key not in self.seen:
            docs, gold = self.sets[k]
            pred = batch.cluster(docs, params, _no_fallback)
            self.seen[key] = _scores(pred, gold)["bcubed_f1"]
        return self.seen[key]


def _no_fallback(docs: list[Any]) -> dict[str, int]:
    raise RuntimeError(f"a dev set of {len(docs):,} articles is too large for the batch trees")


def _params(table: batch.Table, use: list[int], scored: _Scored | None) -> batch.BatchParams:
    """The batch parameters learned on the sets in ``use``: the mix and fallback cut from the
    grid, then time (``batch.choose_time``)."""
    params = batch.choose(table, use)
    return batch.choose_time(params, use, scored) if scored is not None else params


def _ship(
    prepared: Prepared,
    table: dict[tuple[int, float, float, float], float],
    settings: Settings,
    scored: _Scored | None = None,
) -> Decision:
    params = _params(table, list(range(len(prepared))), scored or _Scored(prepared))
    meta = {
        "trained_on": "DUC 2003 TDT clusters + MultiLing 2011 English + UCI News Aggregator subset"
        " (dev sets, equal weight each)",
        "window_days": settings.stories.window_days,
        "batch": params.to_meta(),
    }
    streams = [(docs, _first(gold)) for docs, gold in prepared.values()]
    return train(streams, meta=meta, window_days=settings.stories.window_days)


def leave_one_out(root: str | Path, settings: Settings | None = None) -> dict[str, Any]:
    """For each dev set: trained on the others, scored on it (batch mode BCubed F1 and ARI).
    The stream model and the batch weight and cut are all learned without the set scored."""
    return leave_one_out_and_ship(root, settings, ship=False)[0]


def leave_one_out_and_ship(
    root: str | Path, settings: Settings | None = None, ship: bool = True, in_sample: bool = True
) -> tuple[dict[str, Any], Decision | None]:
    """``leave_one_out``'s scores and, with ``ship``, the model ``train_on_dev_sets`` would
    give, from one pass over the data sets and one grid. For each set left out: batch BCubed
    F1 and ARI, and the stream's and ``replay_adds``' BCubed F1, all by the model trained on the
    others; with ``in_sample``, also the batch BCubed F1 of the model trained on all
    (``{set}_in_sample_bcubed_f1``), to set beside the left-out one."""
    settings = settings or Settings()
    prepared = _prepared(root, settings)
    names = list(prepared)
    table = (
        batch.grid(list(prepared.values()), _bcubed_f1)
        if settings.stories.batch == "average" or ship or in_sample
        else {}
    )
    scored = _Scored(prepared) if table else None
    out: dict[str, Any] = {}
    for held in names:
        rest = [n for n in names if n != held]
        meta: dict[str, Any] = {}
        if table:
            params = _params(table, [j for j, n in enumerate(names) if n != held], scored)
            meta["batch"] = params.to_meta()
        model = train(
            [(prepared[n][0], _first(prepared[n][1])) for n in rest],
            meta=meta,
            window_days=settings.stories.window_days,
        )
        docs, gold = prepared[held]
        got = _scores(cluster(docs, model, settings), gold)
        out[f"{held}_bcubed_f1"] = got["bcubed_f1"]
        out[f"{held}_ari"] = got["ari"]
        for mode in ("stream", "add"):
            pred = cluster(docs, model, settings, mode)
            out[f"{held}_{mode}_bcubed_f1"] = _scores(pred, gold)["bcubed_f1"]
        out[f"{held}_trained_on"] = "+".join(rest)
        if table:
            out[f"{held}_batch"] = meta["batch"]
    shipped = _ship(prepared, table, settings, scored) if ship or in_sample else None
    if in_sample and shipped is not None:  # the model trained on every set, scored on each
        for name, (docs, gold) in prepared.items():
            pred = cluster(docs, shipped, settings)
            out[f"{name}_in_sample_bcubed_f1"] = _scores(pred, gold)["bcubed_f1"]
    return out, (shipped if ship else None)
