"""Multi-document summaries on the dev sets, scored by the official ROUGE-1.5.5.

``storyline eval summaries duc DIR``: DUC 2003's 30 TDT clusters (``d3xxxxt``), 100 words,
against all model summaries of each cluster. ``storyline eval summaries multiling DIR``: the
10 TAC 2011 MultiLing English topics, 250 words, against their 3 model summaries. Each
cluster becomes ``DigestDoc``s (sentences by the project's splitter, wire datelines such as
"LONDON (AP) _" dropped), then ``story_units``, then ``summarize`` with every method in
``METHODS``; the last sentence may overflow and ROUGE's ``-l`` cuts it, as in DUC.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from storyline.config import Settings
from storyline.digest.facts import story_units
from storyline.digest.summary import METHODS, summarize
from storyline.digest.units import DigestDoc
from storyline.embed import embedder_of
from storyline.eval.datasets import multiling_stream, read_duc
from storyline.eval.rouge import rouge
from storyline.text.segment import split_sentences

WORDS = {"duc": 100, "multiling": 250}
# A wire dateline ("LONDON (AP) _", "PARIS _"), an NYT editor's note, leftover <P> markup.
_DATELINE = re.compile(r"^[A-Z][A-Z .,'-]{1,40}(?:\s*\([A-Za-z]+\))?\s+_\s+", re.M)
_NOTE = re.compile(r"<ANNOTATION>.*?</ANNOTATION>|\(STORY CAN END HERE[^)]*\)", re.S)
_MARKUP = re.compile(r"</?[A-Z]+>")


def _sentences(text: str, settings: Settings) -> list[str]:
    text = _MARKUP.sub("\n", _NOTE.sub(" ", text))
    text = _DATELINE.sub("", "\n".join(line.strip() for line in text.splitlines()))
    spans = split_sentences(text, settings.segment.splitter, settings.segment.time_cap_s)
    return [text[a:b] for a, b in spans]


Cluster = tuple[list[DigestDoc], list[str]]  # the articles and their model summaries


def load_duc(root: Path, settings: Settings) -> dict[str, Cluster]:
    models_dir = root / "detagged.duc2003.abstracts" / "models"
    if not models_dir.is_dir():
        raise ValueError(f"{root}: no detagged.duc2003.abstracts/models/ (the DUC 2003 folder?)")
    docs: dict[str, list[DigestDoc]] = defaultdict(list)
    for d in read_duc(root, "t"):
        docs[d.cluster].append(
            DigestDoc(d.docno, _sentences(d.text, settings), "", d.source, d.published)
        )
    clusters = {}
    for name, articles in sorted(docs.items()):
        models = sorted(models_dir.glob(f"D{name[1:-1].upper()}.M.100.T.*.html"))
        if not models:
            raise ValueError(f"{models_dir}: no model summaries for cluster {name}")
        texts = [p.read_text(encoding="utf-8", errors="replace") for p in models]
        clusters[name] = (articles, texts)
    return clusters


def load_multiling(root: Path, settings: Settings) -> dict[str, Cluster]:
    models_dir = root / "model_summaries" / "English"
    if not models_dir.is_dir():
        raise ValueError(f"{root}: no model_summaries/English/ (the MultiLing 2011 folder?)")
    docs: dict[str, list[DigestDoc]] = defaultdict(list)
    for d in multiling_stream(root):
        (topic,) = d.gold
        docs[topic].append(
            DigestDoc(d.id, _sentences(d.body, settings), d.title, d.source, d.published)
        )
    clusters = {}
    for topic, articles in sorted(docs.items()):
        models = sorted(models_dir.glob(f"{topic}.*.250"))
        if not models:
            raise ValueError(f"{models_dir}: no model summaries for topic {topic}")
        texts = [p.read_text(encoding="utf-8", errors="replace") for p in models]
        clusters[topic] = (articles, texts)
    return clusters


LOADERS = {"duc": load_duc, "multiling": load_multiling}


def evaluate_summaries(
    fmt: str,
    path: str | Path,
    settings: Settings | None = None,
    methods: list[str] | None = None,
) -> dict[str, Any]:
    """ROUGE-1/2 recall and F of every method; flat keys ``METHOD_rouge1_recall`` and so on."""
    settings = settings or Settings()
    try:
        load, words = LOADERS[fmt], WORDS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown summaries data set {fmt!r}; choose {', '.join(LOADERS)}"
        ) from None
    clusters = load(Path(path), settings)
    embed = embedder_of(settings.embed).encode
    stories = {name: story_units(articles, {}, embed) for name, (articles, _) in clusters.items()}
    models = [refs for _, refs in clusters.values()]
    result: dict[str, Any] = {"clusters": len(clusters), "words": words}
    table = []
    for method in methods or list(METHODS):
        peers = [
            [u.text for u in summarize(units, words, method, fill=True)]
            for units in stories.values()
        ]
        scores = rouge(peers, models, words)
        row: dict[str, Any] = {"method": method}
        for n in (1, 2):
            s = scores[f"ROUGE-{n}"]
            row[f"rouge{n}_recall"] = s.recall
            row[f"rouge{n}_f"] = s.f
            if s.recall_ci is not None:
                row[f"rouge{n}_recall_ci95"] = list(s.recall_ci)
        table.append(row)
        result.update({f"{method}_{k}": v for k, v in row.items() if k != "method"})
    result["table"] = table
    return result
