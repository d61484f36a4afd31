"""How far classic clustering gets on the story dev sets when it may cheat: a ceiling study.

For each dev set in ``../shared/eval`` (DUC 2003 TDT clusters, all DUC clusters, MultiLing 2011
English, the UCI headlines) this clusters the articles by average-linkage agglomerative
clustering over one pairwise similarity and cuts the tree at **every** threshold from 0.300 to
0.975 in steps of 0.025, keeping the best extended BCubed F1. The threshold is chosen on the
very set it is scored on, which no real system can do: the figure is an upper bound for that
similarity, not a result. Beside it the script prints storyline's own batch figure (the shipped
story model, ``storyline eval stories``) for the same set.

The similarities:

- ``tfidf``: cosine of sublinear TF-IDF vectors of title and body (scikit-learn, English stop
  words, IDF fitted on the set itself);
- ``embedding``: cosine of the sentence embeddings storyline uses for stories (the configured
  model, title and the first 60 words of the body);
- ``mean``: the mean of the two;
- ``mean − time``: the mean less 0.05 · ln(1 + 7·days/30) for two articles ``days`` apart
  (sets with dates only; MultiLing has none).

What it shows: when even the best cut of these similarities stays well under a goal, the gap
lies in what the signals can see (stories of one place and week that share their people and
words), not in how storyline combines them.

Run it from the repository root (the embeddings are computed once per set; DUC takes about a
minute, the UCI headlines a few, on two CPU cores)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/stories_ceiling.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/stories_ceiling.py --sets duc,multiling --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent / ".." / "shared" / "eval"
THRESHOLDS = np.round(np.arange(0.3, 0.976, 0.025), 3)


def best_cut(
    similarity: np.ndarray, ids: list[str], gold: dict[str, set[str]]
) -> tuple[float, float]:
    """The best BCubed F1 over all cuts of the average-linkage tree, and the cut's distance."""
    from scipy.cluster.hierarchy import fcluster, linkage

    from storyline.stories.metrics import scores

    n = len(ids)
    distance = np.clip(1.0 - similarity, 0.0, None)[np.triu_indices(n, 1)]
    tree = linkage(distance, "average")
    best = (0.0, 0.0)
    for cut in THRESHOLDS:
        labels = fcluster(tree, cut, criterion="distance")
        f1 = scores({i: str(c) for i, c in zip(ids, labels, strict=True)}, gold)["bcubed_f1"]
        best = max(best, (round(f1, 4), float(cut)))
    return best


def study(name: str, root: Path) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from storyline.config import Settings
    from storyline.embed import get_embedder
    from storyline.eval.stories_eval import LOCATIONS, evaluate_stories, load
    from storyline.stories.model import lead

    settings = Settings()
    path = root / LOCATIONS[name]
    labelled, _ = load(name, path)
    ids = [d.id for d in labelled]
    gold = {d.id: set(d.gold) for d in labelled}
    texts = [f"{d.title}\n{d.body}".strip() for d in labelled]
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    text_sim = (tfidf @ tfidf.T).toarray()
    embed = get_embedder(settings.embed.model, settings.embed.device).encode
    vectors = embed([lead(d.title, d.body) for d in labelled])
    emb_sim = vectors @ vectors.T
    mean = (text_sim + emb_sim) / 2.0
    row: dict[str, Any] = {"set": name, "articles": len(ids)}
    for label, sim in (("tfidf", text_sim), ("embedding", emb_sim), ("mean", mean)):
        row[label] = best_cut(sim, ids, gold)
    from storyline.stories.stream import epoch

    times = [epoch(d.published) for d in labelled]
    if all(t is not None for t in times):
        days = np.array(times, dtype=float) / 86400.0
        gap = np.abs(days[:, None] - days[None, :])
        row["mean − time"] = best_cut(mean - 0.05 * np.log1p(gap / 30.0 * 7.0), ids, gold)
    else:
        row["mean − time"] = None
    row["storyline"] = round(evaluate_stories(name, path, settings)["bcubed_f1"], 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(ROOT), help="the shared eval folder")
    parser.add_argument("--sets", default="duc,duc-all,multiling,uci", help="comma-separated")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    root = Path(args.root)
    if not root.is_dir():
        print(f"skipped: {root} not found (the dev sets live in ../shared/eval)")
        return
    rows = []
    for name in args.sets.split(","):
        print(f"clustering {name} ...", file=sys.stderr, flush=True)
        rows.append(study(name, root))
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    cols = ("tfidf", "embedding", "mean", "mean − time")
    print("best BCubed F1 of average linkage over all cuts (the cut chosen on the set itself)")
    print(
        f"{'set':<10} {'articles':>8} " + " ".join(f"{c:>16}" for c in cols) + f" {'storyline':>10}"
    )
    for r in rows:
        cells = ["—" if r[c] is None else f"{r[c][0]:.3f} @{r[c][1]:.3f}" for c in cols]
        print(f"{r['set']:<10} {r['articles']:>8} " + " ".join(f"{c:>16}" for c in cells)
              + f" {r['storyline']:>10.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
