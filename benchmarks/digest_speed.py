"""Digest speed: seconds per story and for a run of many stories.

Invents stories from a seeded ``random.Random`` (each 4-12 articles of 12-25 sentences
written around the story's own names, numbers and quotes; a third of the articles are
copies of another article of the story with a few words swapped, as wire re-runs and spun
rewrites are) and digests each with ``storyline.digest.build_digest`` — fact groups,
summary, quotes, entities and conflicts, with the default settings (MiniLM embeddings on
the CPU, the default summarizer, the ``auto`` entity extractor). Embeddings are cached by
text within the run, as in the pipeline.

Prints a table: stories, articles, sentences, total seconds, seconds per story (mean and
95th percentile), sentences per second and peak resident memory.

    python benchmarks/digest_speed.py                   # 50 stories
    python benchmarks/digest_speed.py --stories 1000    # the issue's 1,000 (about an hour
                                                        # on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time

_WORDS = (
    "council river bridge police court budget school hospital storm flood fire union strike "
    "election vote mayor minister company shares market report inquiry officials residents "
    "workers families homes roads power water rescue damage contract talks deal plan"
).split()
_FIRST = "Ada Bram Cleo Dario Elin Farah Goran Hana Ivo Jonas Kira Lev Mara Nils Oona Piet".split()
_LAST = "Quill Reyes Ostrow Banfield Marsh Fenwick Drouart Kessler Wren Okafor Lindqvist".split()
_PLACES = "Brenmoor Caldwick Dunholt Elsgrove Farrowby Glenmere Harrowgate Islecombe".split()
_SWAPS = {"said": "stated", "officials": "authorities", "homes": "houses", "workers": "staff"}


def _sentence(rng: random.Random, names: list[str], place: str) -> str:
    kind = rng.random()
    words = rng.sample(_WORDS, 6)
    if kind < 0.2:
        return (
            f'"The {words[0]} and the {words[1]} will not wait for the {words[2]}," '
            f"{rng.choice(names)} said in {place}."
        )
    if kind < 0.4:
        return (
            f"About {rng.randint(2, 90) * 100:,} {words[0]} were affected by the {words[1]} "
            f"in {place}, according to {rng.choice(names)}."
        )
    return (
        f"The {words[0]} in {place} {rng.choice(['said', 'reported', 'confirmed'])} that the "
        f"{words[1]} and the {words[2]} had changed the {words[3]} for the {words[4]} on "
        f"{rng.choice(['Monday', 'Tuesday', 'Friday'])}."
    )


def make_story(rng: random.Random, n: int) -> list:
    from storyline.digest.units import DigestDoc

    names = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(3)]
    place = rng.choice(_PLACES)
    pool = [_sentence(rng, names, place) for _ in range(40)]
    docs: list[DigestDoc] = []
    for a in range(rng.randint(4, 12)):
        if docs and rng.random() < 0.33:
            src = rng.choice(docs)
            sents = [" ".join(_SWAPS.get(w, w) for w in s.split()) for s in src.sentences]
        else:
            sents = rng.sample(pool, rng.randint(12, 25))
        day = 10 + a // 3
        docs.append(
            DigestDoc(f"s{n}a{a}", sents, f"Story {n} in {place}", f"Outlet {a % 7}",
                      f"2026-03-{day:02d}T{8 + a % 10:02d}:00:00+00:00", None, None,
                      "\n\n".join(sents))
        )  # fmt: skip
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--stories", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from storyline.config import Settings
    from storyline.digest import build_digest

    settings = Settings()
    rng = random.Random(args.seed)
    stories = [make_story(rng, n) for n in range(args.stories)]
    build_digest(stories[0][:2], {}, settings)  # load the models once, outside the timing
    times = []
    start = time.perf_counter()
    for n, docs in enumerate(stories):
        t = time.perf_counter()
        build_digest(docs, {}, settings, f"s{n}")
        times.append(time.perf_counter() - t)
        if (n + 1) % 100 == 0:
            print(f"  {n + 1} stories, {time.perf_counter() - start:.0f}s", file=sys.stderr)
    total = time.perf_counter() - start
    articles = sum(len(s) for s in stories)
    sentences = sum(len(d.sentences) for s in stories for d in s)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    print(f"{'stories':>8} {'articles':>9} {'sentences':>10} {'total s':>9} {'s/story':>8} "
          f"{'p95 s':>7} {'sent/s':>8} {'peak MiB':>9}")  # fmt: skip
    print(f"{len(stories):>8} {articles:>9} {sentences:>10} {total:>9.1f} "
          f"{statistics.mean(times):>8.2f} {p95:>7.2f} {sentences / total:>8.0f} {peak:>9.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
