"""Streaming story clustering at scale: throughput and memory of ``StreamClusterer``.

The script invents a stream of synthetic news articles from a seeded ``random.Random`` and
feeds it, in time order, to storyline's streaming story clusterer
(``storyline.stories.stream.StreamClusterer`` with the shipped story model, the default
settings of ``[stories]``: a 14-day window, 20 candidates, 12 index terms) using the cheap
signals only: hashed TF-IDF of title and body and the invented names as entities, no
sentence embeddings. For each stream size (default 10k, 100k and 1M articles) it reports
the clustering time and throughput in articles per second, the peak resident memory, the
stories active at the end, the stories created and evicted, and, for streams of up to 100k
articles, the extended BCubed F1 against the generator's stories
(``storyline.stories.metrics.scores``).

The stream: over ``--weeks`` (default 6) weeks, stories start at random times; each story
is a burst of 2-60 articles (most of them small) over 1-4 days, front-loaded, written around
a story's own invented keywords and names, plus words of one of 24 topics, recurring figures
of that topic and a background vocabulary shared by all. An article is a title (6-12 words)
and a body (60-150 words); its entities are the names it mentions (lower-case keys, as the
rule extractor makes them). The articles are generated lazily, in time order, through a
heap of the stories under way; only a compact array of each article's story is kept (for
scoring), never the articles.

Each size runs in a fresh subprocess. The subprocess replicates ``StreamClusterer.run``
(chunks of 256 articles, ``vectorizer.counts`` on bodies and titles, then ``add`` per
article) but writes each article's story number into a numpy array and clears
``clusterer.assignments`` after every chunk: ``run`` keeps a dict of every article id, which
grows with the stream, and would hide whether the clusterer itself holds memory flat. Peak
RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that subprocess, taken before
scoring (it includes the interpreter, numpy, scikit-learn and the clusterer's fixed 4 MiB
document-frequency array); every 50k articles (every twentieth of a stream shorter than 1M)
the subprocess also samples its current RSS (``/proc/self/statm``), the active stories and the
size of the inverted index (keys, and postings: story numbers in its sets), which shows
whether memory stays flat once the window is full. "seconds" is the clustering time alone
(vectorising and ``add``); generating the articles is timed apart.

Sizes run in the order given; when a size's time, projected from the previous size's rate,
would exceed ``--max-seconds`` (default 480), it is skipped with the projection printed
(``--force`` runs it anyway). A run that passes ``--max-seconds`` stops there and reports
what it did (marked "partial").

Run it from the repository root::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/stories_stream.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/stories_stream.py --sizes 10000,100000 --json
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/stories_stream.py --sizes 1000000 --force
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAY = 86400.0
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
CHUNK = 256  # as StreamClusterer.run
SAMPLE_EVERY = 50_000  # at most; a stream samples 20 times (every 5,000 of 100k)
SCORE_MAX = 100_000
TOPICS = 24

# -- invented vocabulary -------------------------------------------------------------------

ONSETS = [
    "b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "kr", "l", "m",
    "n", "p", "pl", "qu", "r", "s", "sk", "st", "t", "tr", "v", "w", "z", "th", "sh", "",
]  # fmt: skip
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
CODAS = ["", "", "n", "r", "l", "s", "t", "m", "nd", "rk", "st", "x", "ck", "ng"]
FIRST_NAMES = [
    "Aldo", "Berit", "Cosmin", "Dalia", "Emeric", "Fenna", "Goran", "Hedda", "Ilan", "Juna",
    "Kasimir", "Liesl", "Marek", "Noor", "Oskar", "Petra", "Quillon", "Rosalind", "Stellan",
    "Tamsin", "Ulrich", "Vesna", "Wendel", "Xanthe", "Yorick", "Zelda", "Anouk", "Bruno",
    "Cerys", "Dorian", "Elif", "Florin", "Greta", "Hamid", "Ingrid", "Jovan", "Kalinda",
    "Leander", "Mireille", "Nikos", "Odile", "Pavel", "Rhea", "Soren", "Tove", "Umberto",
    "Valeska", "Wim", "Yusra", "Zoltan",
]  # fmt: skip
FILLERS = ["the", "of", "and", "to", "in", "a", "on", "for", "with", "at", "said", "was", "by"]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(
        rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)
    )


def _name(rng: random.Random) -> str:
    return _word(rng, rng.randint(2, 3)).capitalize()


@dataclass
class Vocabulary:
    background: list[str]
    background_cum: list[float]
    topics: list[list[str]]
    figures: list[list[str]]  # recurring names of each topic


def build_vocabulary(seed: int) -> Vocabulary:
    rng = random.Random(seed * 7919 + 1)
    background = sorted({_word(rng, rng.randint(1, 3)) for _ in range(4000)})
    rng.shuffle(background)
    weights = [1.0 / (rank + 10) for rank in range(len(background))]  # Zipf-like
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    topics = [[_word(rng, rng.randint(2, 3)) for _ in range(80)] for _ in range(TOPICS)]
    figures = [
        [f"{rng.choice(FIRST_NAMES)} {_name(rng)}" for _ in range(15)] for _ in range(TOPICS)
    ]
    return Vocabulary(background, cum, topics, figures)


# -- the stream ----------------------------------------------------------------------------


@dataclass
class StorySpec:
    number: int
    topic: int
    keywords: list[str]
    names: list[str]
    times: list[float]  # the story's article times, latest first (popped from the end)


def plan_stories(n: int, seed: int, weeks: float) -> tuple[array, array, array]:
    """Sizes, start times and durations of the stories, in start order (compact arrays)."""
    rng = random.Random(seed)
    span = weeks * 7 * DAY
    sizes, starts, durations = array("H"), array("d"), array("d")
    total = 0
    while total < n:
        size = min(2 + int(59 * rng.random() ** 2.5), 60, n - total)
        duration = rng.uniform(1.0, 4.0) * DAY
        sizes.append(size)
        durations.append(duration)
        starts.append(START + rng.uniform(0.0, max(0.0, span - duration)))
        total += size
    order = sorted(range(len(sizes)), key=starts.__getitem__)
    return (
        array("H", (sizes[i] for i in order)),
        array("d", (starts[i] for i in order)),
        array("d", (durations[i] for i in order)),
    )


def _spec(number: int, seed: int, size: int, start: float, duration: float,
          vocab: Vocabulary) -> StorySpec:  # fmt: skip
    rng = random.Random(seed * 1_000_003 + number)
    topic = rng.randrange(TOPICS)
    keywords = [_word(rng, rng.randint(2, 3)) for _ in range(rng.randint(6, 10))]
    names = [f"{rng.choice(FIRST_NAMES)} {_name(rng)}" for _ in range(rng.randint(2, 4))]
    names.append(f"{rng.choice(['Port', 'Lake', 'Mount', 'New', 'Fort'])} {_name(rng)}")
    names.extend(rng.sample(vocab.figures[topic], rng.choice([0, 0, 1, 1, 2])))
    times = [start] + [start + duration * rng.random() ** 2 for _ in range(size - 1)]
    times.sort(reverse=True)
    return StorySpec(number, topic, keywords, names, times)


def _text(rng: random.Random, spec: StorySpec, vocab: Vocabulary, length: int,
          story_share: float, mentions: Counter[str]) -> list[str]:  # fmt: skip
    words = rng.choices(vocab.background, cum_weights=vocab.background_cum, k=length)
    n_story = max(1, round(length * story_share))
    n_topic = max(1, round(length * 0.15))
    n_names = max(1, round(length * 0.04))
    n_fill = round(length * 0.25)
    slots = rng.sample(range(length), min(length, n_story + n_topic + n_names + n_fill))
    keywords = rng.sample(spec.keywords, min(len(spec.keywords), rng.randint(3, 6)))
    topic = vocab.topics[spec.topic]
    for j, slot in enumerate(slots):
        if j < n_story:
            words[slot] = rng.choice(keywords)
        elif j < n_story + n_topic:
            words[slot] = rng.choice(topic)
        elif j < n_story + n_topic + n_names:
            name = rng.choice(spec.names)
            mentions[name.lower()] += 1
            words[slot] = name
        else:
            words[slot] = rng.choice(FILLERS)
    return words


def articles(
    n: int, seed: int, weeks: float, vocab: Vocabulary, truth: array | None
) -> Iterator[tuple[str, float, str, str, Counter[str]]]:
    """(id, time, title, body, entities) of ``n`` articles in time order, made lazily.

    Only the stories under way (their planned article times and vocabulary) are held.
    When ``truth`` is given, each article's story number is appended to it.
    """
    sizes, starts, durations = plan_stories(n, seed, weeks)
    rng = random.Random(seed * 31 + 7)
    heap: list[tuple[float, int]] = []
    live: dict[int, StorySpec] = {}
    nxt = 0
    for i in range(n):
        while nxt < len(sizes) and (not heap or starts[nxt] <= heap[0][0]):
            spec = _spec(nxt, seed, sizes[nxt], starts[nxt], durations[nxt], vocab)
            live[nxt] = spec
            heapq.heappush(heap, (spec.times.pop(), nxt))
            nxt += 1
        when, number = heapq.heappop(heap)
        spec = live[number]
        if spec.times:
            heapq.heappush(heap, (spec.times.pop(), number))
        else:
            del live[number]
        mentions: Counter[str] = Counter()
        share = rng.uniform(0.08, 0.2)
        title = _text(rng, spec, vocab, rng.randint(6, 12), 0.3, mentions)
        body = _text(rng, spec, vocab, rng.randint(60, 150), share, mentions)
        sentences, k = [], 0
        while k < len(body):
            step = rng.randint(8, 20)
            sentences.append(" ".join(body[k : k + step]).capitalize() + ".")
            k += step
        if truth is not None:
            truth.append(number)
        yield f"a{i:07d}", when, " ".join(title).capitalize(), " ".join(sentences), mentions


# -- measurement (runs in a fresh subprocess) ----------------------------------------------


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except OSError:
        return _peak_rss_mib()


def measure(n: int, seed: int, weeks: float, window_days: float, max_seconds: float,
            score: bool, sample_every: int = 0) -> dict[str, Any]:  # fmt: skip
    """Cluster a stream of ``n`` articles as ``StreamClusterer.run`` would, keeping the
    assignments in a numpy array; return timings, counts, memory and scores."""
    import numpy as np

    from storyline.config import StoriesSettings
    from storyline.stories.model import load_story_model
    from storyline.stories.stream import StoryDoc, StreamClusterer

    model = load_story_model()
    defaults = StoriesSettings()
    clusterer = StreamClusterer(
        model, window_days=window_days, candidates=20, index_terms=12,
        merge_threshold=defaults.merge_threshold, online_merge=defaults.online_merge,
    )  # fmt: skip
    vocab = build_vocabulary(seed)
    truth: array | None = array("i") if score else None
    pred = np.full(n, -1, dtype=np.int32)
    rss_start = _rss_mib()
    samples: list[dict[str, Any]] = []
    cluster_s = 0.0
    done = 0
    index_rebuilds = 0
    partial = False
    chunk: list[StoryDoc] = []
    last_time = START
    every = sample_every or max(CHUNK, min(SAMPLE_EVERY, n // 20))
    wall0 = time.perf_counter()

    def sample() -> None:
        index = clusterer.index
        samples.append({
            "articles": done,
            "rss_mib": round(_rss_mib(), 1),
            "active": len(clusterer.active),
            "index_keys": len(index),
            "index_postings": sum(len(v) for v in index.values()),
            "day": round((last_time - START) / DAY, 1),
            "cluster_s": round(cluster_s, 1),
        })  # fmt: skip

    def flush() -> None:
        nonlocal cluster_s, done, index_rebuilds
        t0 = time.perf_counter()
        vectorizer = clusterer.vectorizer
        counted = vectorizer.counts([d.body or d.title for d in chunk])
        titles = vectorizer.counts([d.title for d in chunk])
        index = clusterer.index
        for doc, bc, tc in zip(chunk, counted, titles, strict=True):
            pred[done] = clusterer.add(doc, bc, tc)
            done += 1
            if clusterer.index is not index:  # _evict rebuilt the inverted index
                index_rebuilds += 1
                index = clusterer.index
        if clusterer.online_merge:
            clusterer.merge_touched()
        clusterer.assignments.clear()
        cluster_s += time.perf_counter() - t0
        chunk.clear()

    for aid, when, title, body, ents in articles(n, seed, weeks, vocab, truth):
        chunk.append(StoryDoc(aid, when, title, body, ents, None))
        last_time = when
        if len(chunk) == CHUNK:
            flush()
            if done % every < CHUNK and done >= every:
                sample()
            if time.perf_counter() - wall0 > max_seconds:
                partial = True
                break
    if chunk:
        flush()
    wall = time.perf_counter() - wall0
    if not samples or samples[-1]["articles"] != done:
        sample()
    peak = _peak_rss_mib()
    stories = list(clusterer.active.values())
    result: dict[str, Any] = {
        "size": n,
        "articles": done,
        "partial": partial,
        "cluster_s": round(cluster_s, 3),
        "generate_s": round(wall - cluster_s, 3),
        "rate": round(done / cluster_s, 1) if cluster_s else 0.0,
        "peak_rss_mib": round(peak, 1),
        "rss_start_mib": round(rss_start, 1),
        "active_end": len(clusterer.active),
        "created": clusterer.next_id,
        "evicted": clusterer.evicted,
        "index_keys_end": len(clusterer.index),
        "index_rebuilds": index_rebuilds,
        "largest_active_story": max((len(st.members) for st in stories), default=0),
        "gold_stories": len(set(truth)) if truth is not None else None,
        "sample_every": every,
        "samples": samples,
    }
    if clusterer.merged_into:  # stories merged online: their articles belong to the survivor
        root = np.arange(clusterer.next_id, dtype=np.int32)
        for young in sorted(clusterer.merged_into, reverse=True):
            root[young] = clusterer.merged_into[young]
        for young in sorted(clusterer.merged_into):  # the survivor may itself have merged
            root[young] = root[root[young]]
        pred[:done] = root[pred[:done]]
    result["online_merges"] = clusterer.online_merges
    if score and truth is not None and not partial:
        from storyline.stories.metrics import scores

        t0 = time.perf_counter()
        ids = [f"a{i:07d}" for i in range(done)]
        got = scores(
            {aid: str(int(s)) for aid, s in zip(ids, pred[:done].tolist(), strict=True)},
            {aid: {str(t)} for aid, t in zip(ids, truth, strict=True)},
        )
        result["scores"] = got
        result["score_s"] = round(time.perf_counter() - t0, 2)
    return result


def run_measurement(n: int, args: argparse.Namespace, max_seconds: float) -> dict[str, Any]:
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--measure", str(n), "--seed",
        str(args.seed), "--weeks", str(args.weeks), "--window-days", str(args.window_days),
        "--max-seconds", str(max_seconds), "--score-max", str(args.score_max),
        "--sample-every", str(args.sample_every),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"measurement failed (exit {proc.returncode}): {' '.join(cmd)}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise SystemExit(f"measurement printed no result: {proc.stdout!r}")


# -- report --------------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))


def print_report(results: list[dict[str, Any]], skipped: list[str]) -> None:
    header = (
        "size", "seconds", "articles/s", "peak RSS MiB", "active at end", "stories created",
        "evicted", "BCubed F1", "gen s",
    )  # fmt: skip
    rows = []
    for r in results:
        size = f"{r['size']:,}" + (f" (partial: {r['articles']:,})" if r["partial"] else "")
        f1 = f"{r['scores']['bcubed_f1']:.4f}" if "scores" in r else "-"
        rows.append((
            size, f"{r['cluster_s']:.1f}", f"{r['rate']:,.0f}", f"{r['peak_rss_mib']:.0f}",
            f"{r['active_end']:,}", f"{r['created']:,}", f"{r['evicted']:,}", f1,
            f"{r['generate_s']:.1f}",
        ))  # fmt: skip
    _table(header, rows)
    print()
    for r in results:
        line = (
            f"{r['size']:,}: RSS after imports {r['rss_start_mib']:.0f} MiB, "
            f"index {r['index_keys_end']:,} keys at end, rebuilt {r['index_rebuilds']:,} times, "
            f"largest active story {r['largest_active_story']:,} articles"
        )
        if "scores" in r:
            s = r["scores"]
            line += (
                f"; gold stories {r['gold_stories']:,}, predicted {s['predicted_stories']:,}, "
                f"BCubed P/R {s['bcubed_precision']:.4f}/{s['bcubed_recall']:.4f}, "
                f"ARI {s['ari']:.4f} (scored in {r['score_s']:.1f} s)"
            )
        print(line)
    for note in skipped:
        print(note)
    for r in results:
        if len(r["samples"]) < 3:
            continue
        print()
        print(f"RSS every {r['sample_every']:,} articles, {r['size']:,}-article stream:")
        rows, before = [], (0, 0.0)
        for s in r["samples"]:
            seconds = s["cluster_s"] - before[1]
            rate = f"{(s['articles'] - before[0]) / seconds:,.0f}" if seconds > 0 else "-"
            before = (s["articles"], s["cluster_s"])
            rows.append((
                f"{s['articles']:,}", f"{s['day']:.1f}", f"{s['rss_mib']:.0f}",
                f"{s['active']:,}", f"{s['index_keys']:,}", f"{s['index_postings']:,}",
                f"{s['cluster_s']:.0f}", rate,
            ))  # fmt: skip
        header = (
            "articles", "stream day", "RSS MiB", "active", "index keys", "postings",
            "cluster s", "articles/s since last",
        )  # fmt: skip
        _table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--seed", type=int, default=13, help="seed of the article generator")
    parser.add_argument("--window-days", type=float, default=14.0, help="active window (days)")
    parser.add_argument("--weeks", type=float, default=6.0, help="time span of the stream")
    parser.add_argument(
        "--max-seconds", type=float, default=480.0,
        help="skip a size projected to take longer; stop a run that does",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="run sizes whatever the projection")
    parser.add_argument(
        "--score-max", type=int, default=SCORE_MAX, help="score streams of up to this size"
    )
    parser.add_argument(
        "--sample-every", type=int, default=0,
        help="articles between RSS samples (default: 50,000, or a twentieth of a shorter stream)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        result = measure(
            args.measure, args.seed, args.weeks, args.window_days, args.max_seconds,
            args.measure <= args.score_max, args.sample_every,
        )  # fmt: skip
        print(json.dumps(result))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if any(n <= 0 for n in sizes):
        raise SystemExit("sizes must be positive")
    results: list[dict[str, Any]] = []
    skipped: list[str] = []
    t0 = time.perf_counter()
    for n in sizes:
        done = [r for r in results if not r["partial"] and r["rate"]]
        if done and not args.force:
            last = max(done, key=lambda r: r["size"])
            projected = n / last["rate"]
            if projected > args.max_seconds:
                note = (
                    f"{n:,}: skipped, projected {projected:,.0f} s ({projected / 60:.1f} min) "
                    f"of clustering at the {last['size']:,}-article rate of "
                    f"{last['rate']:,.0f} articles/s, over --max-seconds {args.max_seconds:.0f}"
                    f"; run it alone with --sizes {n} --force"
                )
                skipped.append(note)
                print(note, file=sys.stderr, flush=True)
                continue
        print(f"measuring {n:,} articles ...", file=sys.stderr, flush=True)
        limit = math.inf if args.force else args.max_seconds
        results.append(run_measurement(n, args, limit))
    print_report(results, skipped)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        print(json.dumps({"results": results, "skipped": skipped}, indent=2))


if __name__ == "__main__":
    main()
