"""Sentence splitters on news text: accuracy on hand-written gold cases, and speed.

Compares the splitters in ``storyline.text.segment.SPLITTERS`` (syntok, pysbd, blingfire
and the regex fallback). Each gold case is a list of expected sentences; the input is those
sentences joined with a single space, so every case is one paragraph. The cases are
invented for this benchmark and cover what trips splitters up in news copy: abbreviations
(U.S., Gen., Dec., Inc., a.m., e.g., vs.), initials, decimals and money, quotes that end a
sentence or hold a question mark, ellipses, parentheses, numbered lists, headlines without
a final period, curly and straight quotes, dashes, and sentences that start with a digit or
a quote mark.

Scores per splitter:

* exact F1: a predicted sentence counts when its span text, stripped, equals a gold
  sentence of the same case (micro-averaged over all cases);
* cases all right: the share of cases whose predicted sentences equal the gold list;
* speed: the cases repeated into ~2 MB of paragraphs, each splitter run once over all of
  them, best of 3 runs (``time.perf_counter``), as sentences/s and MB/s (UTF-8 bytes).

blingfire's offsets are probed on non-ASCII text first: some versions return UTF-8 byte
offsets instead of character offsets; if so they are converted here (in this benchmark
only) and the table says so.

Run it from the repository root::

    .venv/bin/python benchmarks/sentence_splitters.py
    .venv/bin/python benchmarks/sentence_splitters.py --errors --json
    .venv/bin/python benchmarks/sentence_splitters.py --mb 0.5 --only syntok,regex

A second table runs each splitter as storyline's segment stage does (``split_sentences``: a
paragraph with no sentence end but at its very end, and no closing quotation mark, is one
sentence without asking the splitter; clock times rejoined)
on the gold cases and on real news paragraphs (DUC 2003's documents, read from
``../shared/eval/duc2003`` or ``--news DIR``; skipped when absent): exact F1 on the cases,
seconds over the distinct paragraphs for the splitter alone and as storyline splits, and
how many paragraphs come out differently.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storyline.text.segment import SPLITTERS, _one_sentence, _split_paragraph, split_sentences

Span = tuple[int, int]
Splitter = Callable[[str], list[Span]]

#: Module each splitter needs; a missing one gives a "not installed" row.
REQUIRES = {"syntok": "syntok", "pysbd": "pysbd", "blingfire": "blingfire", "regex": None}

# Invented sentences; each case is joined with one space into a paragraph.
CASES: list[tuple[str, list[str]]] = [
    # abbreviations
    ("U.S. mid-sentence", [
        "The U.S. Senate approved the harbour bill on Thursday.",
        "It now goes to the lower house.",
    ]),
    ("U.N. mid-sentence", [
        "Officials at the U.N. said the relief convoy was held at the border.",
        "Aid groups asked for patience.",
    ]),
    ("U.K. mid-sentence", [
        "Food prices in the U.K. rose more slowly in March.",
        "Analysts had forecast a sharper drop.",
    ]),
    ("Gen. title", [
        "Gen. Amara Holt toured the northern base on Monday.",
        "She left before noon.",
    ]),
    ("Sen. and Gov.", [
        "Sen. Ruiz voted against the measure.",
        "Gov. Patel signed it into law anyway.",
    ]),
    ("Dr., St., Mr. and Mrs.", [
        "Dr. Lena Ortiz runs the clinic on Elm St. in the old town.",
        "Mr. and Mrs. Baker were her first patients.",
    ]),
    ("Mrs. and St. near the pier", [
        "Mrs. Chen, 54, owns a bakery on Bay St. near the pier.",
        "She opened it in 1998.",
    ]),
    ("St. ending a sentence", [
        "The parade will end on Harbour St.",
        "Large crowds are expected.",
    ]),
    ("Dec. and Jan. dates", [
        "The deadline was moved from Dec. 15 to Jan. 9.",
        "Nobody on the committee objected.",
    ]),
    ("Feb. and Sept. dates", [
        "Talks resumed on Feb. 3 and collapsed in Sept. 2024.",
        "Each side blamed the other.",
    ]),
    ("Jan. opening a sentence", [
        "Jan. 6 was the coldest day of the winter.",
        "Roads across the valley were icy.",
    ]),
    ("Feb. ending a sentence", [
        "The co-founder stepped down in Feb.",
        "A successor was named in April.",
    ]),
    ("Inc. and Corp.", [
        "Shares of Norvane Inc. rose 4 percent after the report.",
        "Rival Delmar Corp. fell.",
    ]),
    ("Co. mid-sentence", [
        "Harlan & Co. agreed to pay the fine.",
        "The firm denied any wrongdoing.",
    ]),
    ("No. 3", [
        "Route No. 3 will close for repairs next week.",
        "Replacement buses will run every ten minutes.",
    ]),
    ("a.m. and p.m. mid-sentence", [
        "The hearing starts at 9 a.m. and ends at 1 p.m. on weekdays.",
        "Lunch is not provided.",
    ]),
    ("p.m. ending a sentence", [
        "The day shift ends at 6 p.m.",
        "Then the night crew takes over.",
    ]),
    ("a.m. before a weekday", [
        "Polls open at 7 a.m. Tuesday and close at 8 in the evening.",
        "Results are due on Wednesday.",
    ]),
    ("e.g.", [
        "Some crops, e.g. barley and oats, suffered the most.",
        "Bread prices rose.",
    ]),
    ("i.e.", [
        "The fund's main goal, i.e. lower fees, was not met.",
        "Investors were not pleased.",
    ]),
    ("vs.", [
        "The final was Lyon vs. Porto.",
        "Porto won on penalties.",
    ]),
    ("military ranks", [
        "Lt. Col. Reyes and Prof. Ito met in Washington on Monday.",
        "The talks went well.",
    ]),
    ("Rep. with party tag", [
        "Rep. Hale (D-Ore.) introduced the bill.",
        "It has twelve co-sponsors.",
    ]),
    ("No. 2 and No as a word", [
        "The No. 2 official at the U.S. embassy resigned.",
        "No reason was given.",
    ]),
    ("D.C. ending a sentence", [
        "The company moved its head office to Washington, D.C.",
        "Staff were told last week.",
    ]),
    # initials
    ("J.R.R. Tolkien", [
        "J.R.R. Tolkien wrote much of the book by hand.",
        "The drafts are now kept in a library.",
    ]),
    ("George W. Bush", [
        "George W. Bush visited the plant in 2004.",
        "Workers there still talk about it.",
    ]),
    ("spaced initials", [
        "The novel's author, E. B. Marsh, declined to comment.",
        "Her agent confirmed the deal.",
    ]),
    # decimals and money
    ("$3.5 million", [
        "The town will borrow $3.5 million for the project.",
        "Repayment starts next year.",
    ]),
    ("2.5%", [
        "Unemployment fell to 2.5% in June.",
        "It was 3.1% a year earlier.",
    ]),
    ("decimal at sentence end", [
        "The index closed at 4,512.37.",
        "Traders were relieved.",
    ]),
    ("euro and dollar amounts", [
        "The bridge will cost €1.2bn, or about $1.3 billion.",
        "Taxpayers will cover most of it.",
    ]),
    # quotes
    ("curly quote ends a sentence", [
        "“We will stay,” she said.",
        "The crowd cheered.",
    ]),
    ("colon then quoted sentence", [
        "He said: “Go now.”",
        "Then he left.",
    ]),
    ("question inside quotes", [
        "“Why now?” asked the mayor.",
        "Nobody answered.",
    ]),
    ("exclamation inside quotes", [
        "“Enough!” shouted a man at the back.",
        "The chair called for order.",
    ]),
    ("long quoted question", [
        "“Is this really the best we can do?” she wrote in a letter to the board.",
        "The board did not reply.",
    ]),
    ("straight double quotes", [
        "\"We are ready,\" the coach said.",
        "Training starts on Monday.",
    ]),
    ("straight single quotes", [
        "'It works,' the engineer said.",
        "The test was repeated twice.",
    ]),
    ("straight quoted question at end", [
        "She asked: \"Is it safe?\"",
        "Nobody knew.",
    ]),
    ("sentence starting with a curly quote", [
        "Officials confirmed the closure.",
        "“It is only temporary,” a spokesman said.",
    ]),
    ("non-ASCII text and quotes", [
        "São Paulo's mayor, José Araújo, called the plan “über-ambitious.”",
        "Critics in Zürich agreed.",
    ]),
    # ellipses and parentheses
    ("ellipsis inside a sentence", [
        "He paused... then kept reading from the statement.",
        "The room was silent.",
    ]),
    ("ellipsis ending a sentence", [
        "The lights flickered and went out…",
        "By morning the power was back.",
    ]),
    ("parenthetical clause", [
        "The agency (founded in 1991) cut a third of its staff.",
        "More cuts may follow.",
    ]),
    ("parenthesised sentence", [
        "The law passed 40 to 2.",
        "(Two members abstained.)",
        "It takes effect in May.",
    ]),
    # lists, headlines, dashes, digits
    ("numbered list items", [
        "There are three steps.",
        "1. Register online.",
        "2. Pay the fee.",
        "3. Collect the permit.",
    ]),
    ("inline numbered list", [
        "The plan has three parts: 1. new buses, 2. more stops and 3. lower fares.",
        "Critics call it modest.",
    ]),
    ("headline without period", ["Council backs new harbour plan after long night of talks"]),
    ("headline with abbreviations", ["U.S. and U.K. agree on new fishing quotas"]),
    ("question headline", [
        "Is the old bridge safe?",
        "Engineers say it is.",
    ]),
    ("em dashes", [
        "The mayor — who rarely speaks to reporters — called it a mistake.",
        "Her office later softened the remark.",
    ]),
    ("closed em dash", [
        "The result was clear—a landslide.",
        "Turnout was the highest in decades.",
    ]),
    ("sentence starting with a number", [
        "The fire destroyed six homes.",
        "12 people were treated at the scene.",
    ]),
    ("sentence starting with a year", [
        "Sales fell in 2023.",
        "2024 was much better.",
    ]),
    ("question and exclamation", [
        "Will the plan work?",
        "Nobody knows!",
        "The vote is next week.",
    ]),
    ("etc. ending a sentence", [
        "The market sells fruit, bread, cheese, etc.",
        "Prices are low.",
    ]),
    ("web address", [
        "Details are posted at www.harbourtown.example.",
        "Registration closes on Friday.",
    ]),
]  # fmt: skip


@dataclass
class Score:
    name: str
    installed: bool = True
    error: str | None = None
    true_pos: int = 0
    predicted: int = 0
    gold: int = 0
    cases_right: int = 0
    cases: int = 0
    crashes: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float | None = None
    sentences: int = 0
    chars: int = 0
    bytes: int = 0

    @property
    def precision(self) -> float:
        return self.true_pos / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_pos / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"splitter": self.name, "installed": self.installed}
        if self.error:
            out["error"] = self.error
        if not self.installed or self.error:
            return out
        out.update(
            exact_f1=round(self.f1, 4),
            precision=round(self.precision, 4),
            recall=round(self.recall, 4),
            cases_all_right=self.cases_right,
            cases=self.cases,
            crashes=self.crashes,
            failures=self.failures,
        )
        if self.seconds:
            out.update(
                speed_seconds_best_of_3=round(self.seconds, 4),
                speed_sentences=self.sentences,
                speed_chars=self.chars,
                speed_bytes=self.bytes,
                sentences_per_s=round(self.sentences / self.seconds),
                chars_per_s=round(self.chars / self.seconds),
                mb_per_s=round(self.bytes / self.seconds / 1e6, 3),
            )
        return out


def case_text(sentences: list[str]) -> str:
    return " ".join(sentences)


# -- blingfire offsets ---------------------------------------------------------------------


def _byte_to_char(text: str) -> list[int]:
    """``table[b]`` is the character index at UTF-8 byte offset ``b`` (and at the end)."""
    table: list[int] = []
    for i, ch in enumerate(text):
        table.extend([i] * len(ch.encode("utf-8")))
    table.append(len(text))
    return table


def probe_offsets(split: Splitter) -> str:
    """ "chars" or "bytes": what a splitter's offsets count, judged on non-ASCII text."""
    sample = "Zürich’s café “Große Straße” reopened — naïve? Oui. Über 5 € 😀 mehr. Gut."
    spans = split(sample)
    as_chars = [sample[a:b].strip() for a, b in spans]
    data = sample.encode("utf-8")
    as_bytes = [data[a:b].decode("utf-8", "replace").strip() for a, b in spans]
    if "".join(as_chars).replace(" ", "") == sample.replace(" ", "") and all(
        s and "\ufffd" not in s for s in as_chars
    ):
        return "chars"
    if "".join(as_bytes).replace(" ", "") == sample.replace(" ", ""):
        return "bytes"
    return "unknown"


def bytes_to_chars(split: Splitter) -> Splitter:
    """Wrap a splitter whose spans are UTF-8 byte offsets so it returns character offsets."""

    def wrapped(text: str) -> list[Span]:
        spans = split(text)
        if text.isascii():
            return spans
        table = _byte_to_char(text)
        return [(table[a], table[b]) for a, b in spans]

    return wrapped


# -- scoring -------------------------------------------------------------------------------


def sentences_of(split: Splitter, text: str) -> list[str]:
    return [s for s in (text[a:b].strip() for a, b in split(text)) if s]


def score_accuracy(score: Score, split: Splitter) -> None:
    for label, gold in CASES:
        text = case_text(gold)
        crashed = False
        try:
            predicted = sentences_of(split, text)
        except Exception as exc:  # a crash on one case counts as getting it wrong
            crashed = True
            score.crashes += 1
            predicted = []
            score.failures.append({"case": label, "crash": f"{type(exc).__name__}: {exc}"})
        matched = Counter(predicted) & Counter(gold)
        score.true_pos += sum(matched.values())
        score.predicted += len(predicted)
        score.gold += len(gold)
        score.cases += 1
        if predicted == gold:
            score.cases_right += 1
        elif not crashed:
            score.failures.append({"case": label, "gold": gold, "predicted": predicted})


def speed_corpus(target_bytes: int) -> list[str]:
    """The cases' paragraphs, repeated until they hold about ``target_bytes`` of UTF-8."""
    paragraphs: list[str] = []
    size = 0
    while size < target_bytes:
        for _, gold in CASES:
            text = case_text(gold)
            paragraphs.append(text)
            size += len(text.encode("utf-8")) + 1
            if size >= target_bytes:
                break
    return paragraphs


def score_speed(score: Score, split: Splitter, paragraphs: list[str], repeats: int = 3) -> None:
    best = float("inf")
    count = 0
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        for paragraph in paragraphs:
            count += len(split(paragraph))
        best = min(best, time.perf_counter() - start)
    score.seconds = best
    score.sentences = count
    score.chars = sum(len(p) for p in paragraphs)
    score.bytes = sum(len(p.encode("utf-8")) for p in paragraphs)


# -- report --------------------------------------------------------------------------------


def print_table(scores: list[Score], notes: list[str]) -> None:
    header = ("splitter", "exact F1", "cases all right", "sentences/s", "MB/s")
    rows: list[tuple[str, ...]] = []
    for s in scores:
        if not s.installed:
            rows.append((s.name, "not installed"))
            continue
        if s.error:
            rows.append((s.name, f"failed: {s.error}"))
            continue
        speed = ("", "")
        if s.seconds:
            speed = (f"{s.sentences / s.seconds:,.0f}", f"{s.bytes / s.seconds / 1e6:.2f}")
        rows.append(
            (
                s.name,
                f"{s.f1:.3f}",
                f"{s.cases_right}/{s.cases} ({100 * s.cases_right / s.cases:.0f}%)",
                *speed,
            )
        )
    # Status rows (two cells) only set the width of the name column.
    widths = [
        max([len(h), *(len(r[i]) for r in rows if len(r) == len(header) or i == 0)])
        for i, h in enumerate(header)
    ]

    def fmt(cells: tuple[str, ...]) -> str:
        if len(cells) < len(header):
            return "  ".join([cells[0].ljust(widths[0]), *cells[1:]])
        out = [cells[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))
    for note in notes:
        print(note)


def print_failures(scores: list[Score]) -> None:
    for s in scores:
        if not s.installed or s.error or not s.failures:
            continue
        print(f"\n{s.name}: {len(s.failures)} case(s) not all right")
        for f in s.failures:
            if "crash" in f:
                print(f"  [{f['case']}] crashed: {f['crash']}")
                continue
            print(f"  [{f['case']}]")
            for sentence in f["predicted"]:
                print(f"    | {sentence}")


def news_paragraphs(root: str) -> list[str]:
    """The distinct paragraphs of DUC 2003's documents, or [] when the folder is absent."""
    import re
    from pathlib import Path

    if not Path(root).is_dir():
        return []
    from storyline.eval.datasets import duc_stream

    texts = [d.body for d in duc_stream(root, "all")]
    return list(dict.fromkeys(p for t in texts for p in re.findall(r"[^\n]+", t) if p.strip()))


def as_storyline(name: str) -> Splitter:
    return lambda text: split_sentences(text, name, time_cap_s=3600.0)


def print_pipeline_table(names: list[str], paragraphs: list[str]) -> list[dict[str, Any]]:
    """Each splitter alone against the segment stage's way, on the cases and on news."""
    header = ("splitter", "cases F1 alone", "as storyline", "news s alone", "as storyline",
              "one-sentence paragraphs", "split differently")  # fmt: skip
    rows, out = [], []
    one = sum(_one_sentence(p) for p in paragraphs)
    for name in names:
        module = REQUIRES.get(name)
        if module and importlib.util.find_spec(module) is None:
            continue
        if probe_offsets(SPLITTERS[name]) != "chars":
            continue
        alone, ours = Score(name), Score(name)
        score_accuracy(alone, SPLITTERS[name])
        score_accuracy(ours, as_storyline(name))
        row = {"splitter": name, "cases_f1_alone": alone.f1, "cases_f1_storyline": ours.f1}
        if paragraphs:
            split, mine = SPLITTERS[name], as_storyline(name)
            start = time.perf_counter()
            theirs = [sentences_of(split, p) for p in paragraphs]
            row["news_seconds_alone"] = time.perf_counter() - start
            _split_paragraph.cache_clear()
            start = time.perf_counter()
            ours_news = [sentences_of(mine, p) for p in paragraphs]
            row["news_seconds_storyline"] = time.perf_counter() - start
            row["news_paragraphs"] = len(paragraphs)
            row["one_sentence_paragraphs"] = one
            row["split_differently"] = sum(a != b for a, b in zip(theirs, ours_news, strict=True))
        out.append(row)
        rows.append((
            name, f"{alone.f1:.3f}", f"{ours.f1:.3f}",
            *((f"{row['news_seconds_alone']:.2f}", f"{row['news_seconds_storyline']:.2f}",
               f"{one:,} of {len(paragraphs):,}", f"{row['split_differently']:,}")
              if paragraphs else ("", "", "", "")),
        ))  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs)

    print()
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print("news: " + (f"{len(paragraphs):,} distinct paragraphs of DUC 2003, each splitter run "
                      "once over them" if paragraphs else "DUC 2003 not found: skipped"))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=2.0, help="size of the speed text in MB")
    parser.add_argument("--only", help="comma-separated splitter names (default: all)")
    parser.add_argument("--errors", action="store_true", help="list the cases each got wrong")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--news", default="../shared/eval/duc2003",
                        help="DUC 2003 folder for the real-news paragraphs (skipped if absent)")  # fmt: skip
    args = parser.parse_args()

    names = list(SPLITTERS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in SPLITTERS]
        if unknown:
            raise SystemExit(f"unknown splitter(s) {unknown}; known: {', '.join(SPLITTERS)}")

    paragraphs = speed_corpus(int(args.mb * 1e6))
    notes = [
        f"\n{len(CASES)} gold cases, {sum(len(g) for _, g in CASES)} gold sentences; speed text "
        f"{sum(len(p.encode('utf-8')) for p in paragraphs) / 1e6:.2f} MB in "
        f"{len(paragraphs):,} paragraphs, best of 3 runs."
    ]
    scores: list[Score] = []
    for name in names:
        score = Score(name)
        scores.append(score)
        module = REQUIRES.get(name)
        if module and importlib.util.find_spec(module) is None:
            score.installed = False
            continue
        split = SPLITTERS[name]
        try:
            kind = probe_offsets(split)
        except Exception as exc:
            score.error = f"{type(exc).__name__}: {exc}"
            continue
        if kind == "bytes":
            split = bytes_to_chars(split)
            notes.append(f"{name}: returns UTF-8 byte offsets; converted to characters here.")
        elif kind != "chars":
            notes.append(f"{name}: offsets match neither characters nor bytes on non-ASCII text.")
        elif name == "blingfire":
            notes.append("blingfire: offsets checked on non-ASCII text: character offsets.")
        score_accuracy(score, split)
        score_speed(score, split, paragraphs)

    print_table(scores, notes)
    pipeline = print_pipeline_table(names, news_paragraphs(args.news))
    if args.errors:
        print_failures(scores)
    if args.json:
        print(json.dumps({"splitters": [s.as_dict() for s in scores], "as_storyline": pipeline},
                         indent=2, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
