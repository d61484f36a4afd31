"""Evaluations of reuse detection on real data: Clough & Stevenson, and DUC 2003 TDT clusters."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from storyline.config import Settings
from storyline.embed import embedder_of
from storyline.eval.datasets import read_clough, read_duc
from storyline.reuse.decision import load_decision
from storyline.reuse.fingerprint import Fingerprinter, exact_hash, jaccard_estimate
from storyline.reuse.kinds import ArticleView
from storyline.reuse.links import Link, compare
from storyline.text.segment import split_sentences

COPY_KINDS = ("duplicate", "near_duplicate", "rewrite", "partial")
CLOUGH_CLASSES = ("cut", "light", "heavy", "non")


def _view(key: str, text: str, settings: Settings) -> ArticleView:
    spans = split_sentences(text, settings.segment.splitter, settings.segment.time_cap_s)
    return ArticleView(key, None, None, [text[a:b] for a, b in spans])


def containment(answer: str, source: str, n: int = 3) -> float:
    """Word n-gram containment of the answer in the source (the classic reuse baseline)."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = text.lower().split()
        return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}

    ga = grams(answer)
    return len(ga & grams(source)) / max(1, len(ga))


def _link_features(link: Link, answer: str, source: str) -> list[float]:
    s = link.stats
    mean_score = float(np.mean([p.score for p in link.pairs])) if link.pairs else 0.0
    return [
        s.coverage_a, s.coverage_b, s.verbatim, s.close, s.jaccard, mean_score,
        containment(answer, source, 1), containment(answer, source, 3), containment(answer, source, 5),
    ]  # fmt: skip


def _cv_accuracy(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 13) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    pred = cross_val_predict(
        model, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed)
    )
    return float(np.mean(pred == y))


def evaluate_clough(root: str | Path, settings: Settings | None = None) -> dict[str, Any]:
    """4-way reuse classification (cut/light/heavy/non, 5-fold CV) and source identification.

    storyline's features come from aligning each answer with its task's source; the
    baseline in the same run is word n-gram containment alone (n = 1, 3, 5). Source
    identification picks, for each derived answer, the source with the strongest reuse.
    """
    settings = settings or Settings()
    answers, sources = read_clough(root)
    embed = embedder_of(settings.embed).encode
    decision = load_decision(settings.reuse.decision_model or None)
    printer = Fingerprinter(settings.reuse.shingle_size, settings.reuse.num_perm)
    src_views = {t: _view(f"orig_{t}", text, settings) for t, text in sources.items()}
    src_sigs = {t: printer.signatures([text])[0] for t, text in sources.items()}
    feats, base, labels = [], [], []
    ident_ours = ident_base = derived = 0
    for ans in answers:
        view = _view(ans.file, ans.text, settings)
        sig = printer.signatures([ans.text])[0]
        strength: dict[str, float] = {}
        for task, sv in src_views.items():
            link = compare(
                view, sv, embed, decision, settings.reuse,
                jaccard_estimate(sig, src_sigs[task]), exact_hash(ans.text) == exact_hash(sources[task]),
            )  # fmt: skip
            mean_score = float(np.mean([p.score for p in link.pairs])) if link.pairs else 0.0
            strength[task] = link.stats.coverage_a * mean_score
            if task == ans.task:
                feats.append(_link_features(link, ans.text, sources[task]))
                base.append([containment(ans.text, sources[task], n) for n in (1, 3, 5)])
                labels.append(ans.category)
        if ans.category != "non":
            derived += 1
            ident_ours += max(strength, key=lambda t: strength[t]) == ans.task
            ident_base += (
                max(sources, key=lambda t: containment(ans.text, sources[t], 3)) == ans.task
            )
    y = np.array(labels)
    return {
        "answers": len(answers),
        "classes": dict(Counter(labels)),
        "four_way_accuracy": round(_cv_accuracy(np.array(feats), y), 4),
        "four_way_accuracy_containment_baseline": round(_cv_accuracy(np.array(base), y), 4),
        "source_identification_accuracy": round(ident_ours / max(1, derived), 4),
        "source_identification_containment_baseline": round(ident_base / max(1, derived), 4),
        "derived_answers": derived,
        "folds": 5,
    }


def _hours(a: str | None, b: str | None) -> float:
    from datetime import datetime

    if not a or not b:
        return float("inf")
    return abs((datetime.fromisoformat(a) - datetime.fromisoformat(b)).total_seconds()) / 3600


def evaluate_duc_reuse(root: str | Path, settings: Settings | None = None) -> dict[str, Any]:
    """On DUC 2003 TDT clusters: AP and New York Times reports of one event are independent
    (no copy link expected); AP re-issues are copies (all expected).

    A re-issue is a pair of AP documents of one cluster with the same wire slug, filed within
    12 hours, one of them marked as a new version in its slug (lead, writethru, adds,
    corrects). Same-slug pairs without those marks are often sidebars or next-day stories
    under a topic slug: their recall is reported apart, for information.
    """
    from storyline.corpus import Corpus

    docs = read_duc(root, "t")
    settings = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="storyline-duc-") as tmp:
        path = Path(tmp) / "duc.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps({"text": d.text, "url": f"duc://{d.cluster}/{d.docno}", "source": d.source,
                                     "published": d.published, "title": d.docno}) + "\n")  # fmt: skip
        corpus = Corpus(":memory:", settings)
        corpus.add([str(path)])
        by_url = {a.url: a.id for a in corpus.articles()}
        links = {frozenset((ln["source"], ln["copy"])): ln for ln in corpus.links()}
    ap_nyt = reissues = found = false_links = same_slug = same_slug_found = 0
    missed: list[str] = []
    kinds: Counter[str] = Counter()
    false_examples = []
    by_cluster: dict[str, list[Any]] = {}
    for d in docs:
        by_cluster.setdefault(d.cluster, []).append(d)
    for cluster, members in by_cluster.items():
        for x, y in combinations(members, 2):
            key = frozenset(
                (by_url[f"duc://{cluster}/{x.docno}"], by_url[f"duc://{cluster}/{y.docno}"])
            )
            link = links.get(key)
            kind = link["kind"] if link else None
            if {x.source, y.source} == {"Associated Press", "New York Times"}:
                ap_nyt += 1
                if kind in COPY_KINDS:
                    false_links += 1
                    false_examples.append(f"{x.docno}~{y.docno}: {kind}")
            elif x.source == y.source == "Associated Press" and x.slug and x.slug == y.slug:
                same_slug += 1
                same_slug_found += kind in COPY_KINDS
                if (x.versioned or y.versioned) and _hours(x.published, y.published) <= 12:
                    reissues += 1
                    if kind in COPY_KINDS:
                        found += 1
                        kinds[kind] += 1
                    else:
                        missed.append(f"{x.docno}~{y.docno}: {kind}")
    return {
        "clusters": len(by_cluster),
        "documents": len(docs),
        "ap_nyt_pairs": ap_nyt,
        "ap_nyt_copy_links": false_links,
        "ap_nyt_false_link_rate": round(false_links / max(1, ap_nyt), 4),
        "ap_reissue_pairs": reissues,
        "ap_reissues_found": found,
        "ap_reissue_recall": round(found / max(1, reissues), 4),
        "reissue_kinds": dict(kinds),
        "missed_reissues": missed[:10],
        "ap_same_slug_pairs": same_slug,
        "ap_same_slug_recall": round(same_slug_found / max(1, same_slug), 4),
        "false_link_examples": false_examples[:10],
    }
