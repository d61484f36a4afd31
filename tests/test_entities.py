"""The rule-based entity extractor: name phrases and where they must end."""

from __future__ import annotations

from storyline.entities import RuleExtractor


def _keys(text: str) -> list[str]:
    [found] = RuleExtractor().extract([text])
    return [e.key for e in found]


def test_names_do_not_run_across_a_sentence_end() -> None:
    keys = _keys(
        "Talks with Harbour University stalled. Kessler said so on Tuesday. "
        "Dr. Aurelia Banfield of St. Columba Hospital spoke for the U.S. Army."
    )
    assert "harbour university" in keys
    assert "kessler" in keys
    assert not any(". kessler" in k for k in keys)
    # Titles, initials and dotted acronyms do not end a sentence.
    assert "dr. aurelia banfield of st. columba hospital" in keys
    assert "u.s. army" in keys


def test_names_do_not_run_across_a_line_break() -> None:
    keys = _keys(
        "Strike talks resume in Port Halloran\n\nPort Halloran transit workers met Ada Kessler."
    )
    assert keys.count("port halloran") == 2
    assert "port halloran port halloran" not in keys
    assert "ada kessler" in keys
