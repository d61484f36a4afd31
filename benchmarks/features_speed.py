"""How fast the sentence-pair features are, and how their overlaps are counted.

The reuse stage and the digest score every candidate sentence pair with
``storyline.reuse.features.pair_feature_array``: per pair, the shared keys of ten multisets
(n-grams, content words, stems, character trigrams, numbers, capitalised words). This prints
the seconds per 100,000 pairs of sentences from ``pipeline_volume``'s generated stories for:

* ``profiles``: hashing each sentence's items into sorted keys (once per text, cached);
* ``overlaps``: counting each pair's shared keys per family, two ways on the same profiles —
  ``scipy`` (what storyline uses: the element-wise product of the pairs' rows of a sparse
  sentence × key matrix) and ``numpy merge`` (what it used before: the pairs' keys tagged by
  pair and merged with one stable sort), checked equal;
* ``features``: the whole feature array without and with the longest-common-subsequence
  ratio.

    .venv/bin/python benchmarks/features_speed.py --pairs 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def numpy_merge(profiles: list[Any], ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """The previous way: both sides' keys tagged by pair, one stable sort of the two runs."""
    from storyline.reuse.features import _FAMILIES

    lengths = np.array([len(p.keys) for p in profiles], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    keys = np.concatenate([p.keys for p in profiles])
    distinct, local = np.unique(keys, return_inverse=True)
    family = np.zeros(len(distinct), dtype=np.int64)
    family[local] = np.concatenate([p.families for p in profiles])
    width = max(1, len(distinct))
    tags = []
    for side in (ia, ib):
        n = lengths[side]
        shift = np.repeat(starts[side] - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
        at = shift + np.arange(int(n.sum()), dtype=np.int64)
        pair = np.repeat(np.arange(len(side), dtype=np.int64), n)
        tags.append(pair * width + local[at])
    merged = np.concatenate(tags)
    merged.sort(kind="stable")
    both = merged[1:][merged[1:] == merged[:-1]]
    counts = np.bincount(
        (both // width) * _FAMILIES + family[both % width], minlength=len(ia) * _FAMILIES
    )
    return counts.reshape(len(ia), _FAMILIES)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=400)
    args = parser.parse_args()

    import pipeline_volume as pv

    from storyline.ingest.clean import stopwords
    from storyline.reuse import features as F
    from storyline.text.segment import split_sentences

    texts = [r["text"] for r in pv.generate(args.articles, 11)]
    sentences = list(dict.fromkeys(t[a:b] for t in texts for a, b in split_sentences(t)))
    rng = np.random.default_rng(0)
    ia = rng.integers(0, len(sentences), args.pairs)
    ib = rng.integers(0, len(sentences), args.pairs)
    pairs = [(sentences[a], sentences[b]) for a, b in zip(ia.tolist(), ib.tolist(), strict=True)]
    per = 100_000 / args.pairs
    stop = stopwords()
    rows = []
    t = time.perf_counter()
    profiles = [F._Profile(s, stop) for s in sentences]
    rows.append(("profiles", f"{len(sentences):,} sentences", time.perf_counter() - t, None))
    found = {}
    for name, fn in (("overlaps: scipy", F._overlaps), ("overlaps: numpy merge", numpy_merge)):
        t = time.perf_counter()
        parts = [  # in the chunks the features use
            fn(profiles, ia[s : s + F._CHUNK], ib[s : s + F._CHUNK])
            for s in range(0, args.pairs, F._CHUNK)
        ]
        seconds = time.perf_counter() - t
        found[name] = np.concatenate(parts)
        rows.append((name, f"{args.pairs:,} pairs", seconds, per))
    same = np.array_equal(*found.values())
    F.pair_feature_array(pairs, np.zeros(len(pairs)), False)  # every profile in its cache
    for lcs in (False, True):
        t = time.perf_counter()
        F.pair_feature_array(pairs, np.zeros(len(pairs)), lcs)
        label = "features (with lcs)" if lcs else "features (no lcs)"
        rows.append((label, f"{args.pairs:,} pairs", time.perf_counter() - t, per))
    print(f"{'step':<24} {'work':>20} {'seconds':>9} {'s per 100k pairs':>17}")
    for name, work, seconds, scale in rows:
        scaled = f"{seconds * scale:>17.2f}" if scale is not None else " " * 17
        print(f"{name:<24} {work:>20} {seconds:>9.2f} {scaled}")
    print(f"scipy and numpy merge counts equal: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
