"""Sentence splitting: spans point into the clean text; news abbreviations do not split."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyline.text.segment import SPLITTERS, split_sentences

TEXT = (
    'The U.S. and Gen. Mara Voss met on Dec. 23 in Port Halloran. "We will not leave," Voss said. '
    "Shares fell 2.5% to $3.50.\n"
    "Dr. Ilse Brandt of St. Clement's hospital said the U.N. team arrived at 9 a.m. on Monday. It left soon after."
)
EXPECTED = [
    "The U.S. and Gen. Mara Voss met on Dec. 23 in Port Halloran.",
    '"We will not leave," Voss said.',
    "Shares fell 2.5% to $3.50.",
    "Dr. Ilse Brandt of St. Clement's hospital said the U.N. team arrived at 9 a.m. on Monday.",
    "It left soon after.",
]


@pytest.mark.parametrize("name", ["syntok", "pysbd", "regex"])
def test_spans_and_abbreviations(name: str) -> None:
    spans = split_sentences(TEXT, name)
    assert [TEXT[a:b] for a, b in spans] == EXPECTED


def test_unknown_splitter_is_named() -> None:
    with pytest.raises(ValueError, match="unknown sentence splitter 'nltk'"):
        split_sentences(TEXT, "nltk")


def test_time_cap_falls_back_to_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def slow(text: str) -> list[tuple[int, int]]:
        calls.append(text)
        return [(0, len(text))]

    monkeypatch.setitem(SPLITTERS, "slow", slow)
    spans = split_sentences(TEXT, "slow", time_cap_s=0.0)
    assert calls == []  # the cap was already spent: the fallback split everything
    assert [TEXT[a:b] for a, b in spans] == EXPECTED


def test_a_failing_splitter_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> list[tuple[int, int]]:
        raise RuntimeError("boom")

    monkeypatch.setitem(SPLITTERS, "broken", broken)
    assert [TEXT[a:b] for a, b in split_sentences(TEXT, "broken")] == EXPECTED


def test_clock_times_do_not_end_a_sentence_that_goes_on() -> None:
    text = "Workers will strike at 4 a.m. Monday unless talks resume. They met at 9 a.m. The talks failed."
    got = [text[a:b] for a, b in split_sentences(text)]
    assert got == [
        "Workers will strike at 4 a.m. Monday unless talks resume.",
        "They met at 9 a.m.",
        "The talks failed.",
    ]


def test_pysbd_spans_found_without_a_regex_per_sentence_equal_pysbd_own(
    example_corpus: Path,
) -> None:
    """pysbd's spans are found by ``str.find`` instead of a regex compiled per sentence: the
    same spans as pysbd's own way on every paragraph of the example corpus and on texts that
    repeat a sentence, end in odd white space or hold regex metacharacters."""
    import pysbd

    own = pysbd.Segmenter(language="en", clean=False, char_span=True)
    paragraphs = [
        line
        for p in sorted(example_corpus.rglob("*"))
        if p.is_file() and p.suffix in {".txt", ".html", ".jsonl", ".xml"}
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip()
    ]
    paragraphs += [
        "It rained. It rained. It rained.",
        "Yes.\u00a0\u2003Yes.\u2029 No (really?) [a+b]*c. $5.00 ^ up.  ",
        "Mr. A said so.Mr. A said so. Then (?) again.\t\t",
        "One.  Two!\n",
    ]
    assert len(paragraphs) > 100
    for text in paragraphs:
        expected = [(s.start, s.end) for s in own.segment(text)]
        assert SPLITTERS["pysbd"](text) == expected, text


def test_a_paragraph_with_no_sentence_end_before_its_own_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Such a paragraph (and no closing quotation mark in it) is not handed to the splitter."""
    asked: list[str] = []

    def recording(text: str) -> list[tuple[int, int]]:
        asked.append(text)
        return SPLITTERS["pysbd"](text)

    monkeypatch.setitem(SPLITTERS, "recording", recording)
    text = (
        "The harbour board called the audit unfair on Monday.\n"
        "Ferries ran as usual\n"
        "The board called the audit ”deeply unfair.”\n"
        '"We will rebuild," Mayor Ilse Varga said. Crews arrived at dawn.'
    )
    got = [text[a:b] for a, b in split_sentences(text, "recording")]
    assert got == [
        "The harbour board called the audit unfair on Monday.",
        "Ferries ran as usual",
        "The board called the audit ”deeply unfair.",
        "”",
        '"We will rebuild," Mayor Ilse Varga said.',
        "Crews arrived at dawn.",
    ]  # pysbd's own way with a closing quote at a paragraph's end, kept as it was
    assert asked == [
        "The board called the audit ”deeply unfair.”",
        '"We will rebuild," Mayor Ilse Varga said. Crews arrived at dawn.',
    ]


def test_one_sentence_paragraphs_split_as_the_splitter_splits_them(
    example_corpus: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every paragraph of the example corpus and the seeds splits the same with and without
    the one-sentence shortcut."""
    import storyline.text.segment as segment

    texts = [
        p.read_text(encoding="utf-8", errors="replace")
        for where in (example_corpus, seeds_dir)
        for p in sorted(where.rglob("*"))
        if p.is_file() and p.suffix in {".txt", ".html", ".jsonl", ".xml", ""}
    ]
    fast = [split_sentences(t) for t in texts]
    assert sum(segment._one_sentence(line) for t in texts for line in t.splitlines()) > 100
    monkeypatch.setattr(segment, "_one_sentence", lambda paragraph: False)
    assert [split_sentences(t) for t in texts] == fast
