"""How finely each labelled collection cuts its stories, on the signals storyline has.

Issue 19 asks for one way of choosing stories that scores well on every dev set and also
splits the example corpus's transit strike from its mayoral election (one city, the same
days, election articles that talk of the strike). This script measures whether the signals
can tell those apart from the splits the dev sets do *not* make.

For every gold story of 4 articles or more in DUC 2003 (TDT topics) and MultiLing 2011, the
story's articles are split in two by average linkage on storyline's yardstick (½ TF-IDF +
½ sentence embedding, as ``stories.batch`` chooses stories by), and the split's silhouette
(Rousseeuw 1987, over those articles only) is measured on each signal: the yardstick, TF-IDF,
the embedding, and named entities (sublinear counts, IDF over the set, the rule extractor).
A split inside one gold story is one a clusterer must *not* make. The example's true split
(strike against election; the bridging article, which the truth lets go either way, with the
strike) is measured the same way. When the example's split is no clearer than the splits
inside most dev-set stories on every signal, no cut or criterion on these signals gives both.

It also prints how tightly the UCI headlines' timestamps bunch within a story (the crawl
time, not the publication time): time there names the gold story almost alone, so a time
weight that raises UCI says little about news in general.

Run it from the repository root (about a minute on two CPU cores)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/story_granularity.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/story_granularity.py --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent.parent
ROOT = HERE / ".." / "shared" / "eval"
SIGNALS: tuple[str, ...] = ("yardstick", "tfidf", "embedding", "names")
#: ``--mix``'s weights of TF-IDF, embedding and names, measured as one more signal.
MIX: tuple[float, float, float] | None = None


def signals(docs: list[Any]) -> dict[str, np.ndarray]:
    from storyline.stories.batch import Similarity

    sim = Similarity(docs, 0.4, 0.3)  # any weights: the parts are read one by one
    assert sim.tfidf is not None and sim.embeddings is not None and sim.names is not None
    tfidf = (sim.tfidf @ sim.tfidf.T).toarray()
    embedding = sim.embeddings @ sim.embeddings.T
    names = (sim.names @ sim.names.T).toarray()
    out = {"yardstick": 0.5 * tfidf + 0.5 * embedding, "tfidf": tfidf,
           "embedding": embedding, "names": names}  # fmt: skip
    if MIX is not None:
        out["mix"] = MIX[0] * tfidf + MIX[1] * embedding + MIX[2] * names
    return out


def silhouette(sim: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import silhouette_score

    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    return float(silhouette_score(distance, labels, metric="precomputed"))


def top_split(yardstick: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    distance = np.clip(1.0 - yardstick, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    return fcluster(linkage(squareform(distance, checks=False), "average"), 2, "maxclust")


def inside_stories(docs: list[Any], gold: dict[str, set[str]]) -> np.ndarray:
    """Each signal's silhouette of the top split of each gold story of 4 articles or more."""
    sims = signals(docs)
    first = {d.id: sorted(gold[d.id])[0] for d in docs}
    rows = []
    for story in sorted(set(first.values())):
        ix = np.array([i for i, d in enumerate(docs) if first[d.id] == story])
        if len(ix) < 4:
            continue
        labels = top_split(sims["yardstick"][np.ix_(ix, ix)])
        if len(set(labels.tolist())) == 2:
            rows.append([silhouette(sims[s][np.ix_(ix, ix)], labels) for s in SIGNALS])
    return np.array(rows)


def example_split() -> list[float]:
    from storyline.config import Settings
    from storyline.corpus import Corpus
    from storyline.embed import embedder_of
    from storyline.entities import get_extractor
    from storyline.stories.model import to_story_docs

    truth = json.loads((HERE / "examples" / "truth.json").read_text())
    story = {u: s["key"] for s in truth["stories"] for u in s["articles"]}
    pair = ("transit-strike", "mayoral-election")
    for s in truth["stories"]:  # the bridging article (either is right) with its "also" story
        story.update({u: s["key"] for u in s.get("also", [])})
    with tempfile.TemporaryDirectory() as tmp, Corpus(Path(tmp) / "x.db") as corpus:
        corpus.add([str(HERE / "examples" / "corpus")])
        arts = list(corpus.articles())
    rows = [(a.id, a.published, a.title or "", a.clean or "") for a in arts]
    embed = embedder_of(Settings().embed).encode
    docs = to_story_docs(rows, get_extractor("rules"), embed)
    url = {a.id: a.url for a in arts}
    sims = signals(docs)
    ix = np.array([i for i, d in enumerate(docs) if story.get(url[d.id]) in pair])
    labels = np.array([pair.index(story[url[docs[i].id]]) for i in ix])
    return [silhouette(sims[s][np.ix_(ix, ix)], labels) for s in SIGNALS]


def uci_time(root: Path) -> dict[str, float]:
    from storyline.eval.stories_eval import LOCATIONS, load
    from storyline.stories.stream import epoch

    labelled, _ = load("uci", root / LOCATIONS["uci"])
    times: dict[str, list[float]] = {}
    for d in labelled:
        t = epoch(d.published)
        if t is not None:
            times.setdefault(sorted(d.gold)[0], []).append(t)
    spans = [max(v) - min(v) for v in times.values()]
    starts = np.sort([min(v) for v in times.values()])
    return {"stories": len(times), "max_span_s": float(max(spans)),
            "median_span_s": float(np.median(spans)),
            "median_gap_between_stories_s": float(np.median(np.diff(starts)))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="the dev sets' folder")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--mix", help="T,E,N: also measure T·tfidf + E·embedding + N·names")
    args = ap.parse_args()
    global SIGNALS, MIX
    if args.mix:
        t, e, n = (float(x) for x in args.mix.split(","))
        MIX, SIGNALS = (t, e, n), (*SIGNALS, "mix")
    if not args.root.is_dir():
        print(f"no dev sets at {args.root}: nothing to measure", file=sys.stderr)
        return
    from storyline.config import Settings
    from storyline.embed import embedder_of
    from storyline.eval.stories_eval import LOCATIONS, load
    from storyline.stories.model import prepare

    embed = embedder_of(Settings().embed).encode
    example = example_split()
    out: dict[str, Any] = {"signals": SIGNALS, "example_true_split": example, "sets": {}}
    for name in ("duc", "multiling"):
        docs, gold = prepare(load(name, args.root / LOCATIONS[name])[0], "rules", embed)
        got = inside_stories(docs, gold)
        out["sets"][name] = {
            "splits": len(got),
            "median": np.median(got, axis=0).tolist(),
            "p90": np.percentile(got, 90, axis=0).tolist(),
            "max": got.max(axis=0).tolist(),
            "share_at_least_example": (got >= np.array(example)).mean(axis=0).tolist(),
            "share_at_least_example_on_all": float((got >= np.array(example)).all(axis=1).mean()),
        }
    out["uci_time"] = uci_time(args.root)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    head = " | ".join(f"{s:>9}" for s in SIGNALS)
    if MIX is not None:
        print(f"mix: {MIX[0]:g} tfidf + {MIX[1]:g} embedding + {MIX[2]:g} names")
    print(f"silhouette of a split (higher: the two halves stand further apart)\n{'':34}{head}")
    print(f"{'example: strike | election':34}" + " | ".join(f"{v:9.3f}" for v in example))
    for name, r in out["sets"].items():
        for k in ("median", "p90", "max"):
            label = f"{name}: inside a story, {k}"
            print(f"{label:34}" + " | ".join(f"{v:9.3f}" for v in r[k]))
        label = f"{name}: share >= example"
        print(f"{label:34}" + " | ".join(f"{v:9.2f}" for v in r["share_at_least_example"]))
        print(f"  {name}: {r['splits']} stories split; as clear as the example on every signal: "
              f"{r['share_at_least_example_on_all']:.2f}")  # fmt: skip
    t = out["uci_time"]
    print(f"UCI: {t['stories']} stories; a story's timestamps span at most {t['max_span_s']:.0f} s "
          f"(median {t['median_span_s']:.0f} s); stories start a median "
          f"{t['median_gap_between_stories_s']:.0f} s apart")  # fmt: skip


if __name__ == "__main__":
    main()
