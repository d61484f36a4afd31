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


def test_a_paragraph_with_no_sentence_end_before_its_close_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Such a paragraph is not handed to the splitter at all (most news paragraphs are one
    sentence: the splitter's time goes to the others)."""
    asked: list[str] = []

    def recording(text: str) -> list[tuple[int, int]]:
        asked.append(text)
        return SPLITTERS["pysbd"](text)

    monkeypatch.setitem(SPLITTERS, "recording", recording)
    text = (
        "The harbour board called the audit ”deeply unfair.”\n"
        "Ferries ran as usual on Monday\n"
        '"We will rebuild," Mayor Ilse Varga said. "Every house on Quay Street."'
    )
    got = [text[a:b] for a, b in split_sentences(text, "recording")]
    assert got == [
        "The harbour board called the audit ”deeply unfair.”",
        "Ferries ran as usual on Monday",
        '"We will rebuild," Mayor Ilse Varga said.',
        '"Every house on Quay Street."',
    ]
    assert asked == ['"We will rebuild," Mayor Ilse Varga said. "Every house on Quay Street."']


def test_a_closing_quote_the_splitter_parts_joins_its_sentence() -> None:
    """pysbd parts a curly closing quote from a sentence that ends a paragraph."""
    text = "”We will rebuild,” Mayor Ilse Varga said. ”Every house on Quay Street.”"
    assert [text[a:b] for a, b in SPLITTERS["pysbd"](text)][-1] == "”"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "”We will rebuild,” Mayor Ilse Varga said.",
        "”Every house on Quay Street.”",
    ]
