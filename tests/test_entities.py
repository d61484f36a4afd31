"""The rule-based entity extractor: name phrases and where they must end."""

from __future__ import annotations

from storyline.entities import Entity, RuleExtractor, resolve


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


def _resolved(text: str) -> list[str]:
    [found] = RuleExtractor().extract([text])
    return [e.key for e in resolve(found)]


def test_mentions_resolve_to_the_names_they_refer_to() -> None:
    keys = _resolved(
        "Mayor Ada Kessler and Councillor Desmond Achterberg debated on Friday. "
        "Kessler and Achterberg then shook hands. Some of Kessler's aides left. "
        "General Motors said nothing. The Justice Department and Major League Baseball did not. "
        "Neither did the Secretary of State."
    )
    # Roles go, coordinated names are two, and a lone surname is the one full name.
    assert keys.count("ada kessler") == 3
    assert keys.count("desmond achterberg") == 2
    # Role words that also begin names of things stay, and a role with no name after it.
    assert {"general motors", "justice department", "major league baseball"} <= set(keys)
    assert "secretary of state" in keys
    assert not any(k.startswith(("mayor", "councillor", "some")) for k in keys)


def test_a_surname_shared_by_two_people_stays_as_written() -> None:
    keys = _resolved("Joe Biden and Hunter Biden met in Dover. Biden left early.")
    assert {"joe biden", "hunter biden", "biden"} <= set(keys)


def test_resolve_splits_only_names_of_people_or_unknown_type() -> None:
    got = resolve([Entity("Procter and Gamble", "ORG"), Entity("Kessler and Achterberg", "NAME")])
    assert [e.key for e in got] == ["procter and gamble", "kessler", "achterberg"]


def test_acronyms_are_not_function_words() -> None:
    keys = _keys(
        "The WHO warned on Monday. IT staff at Harbour University were told. Why Eastside voted."
    )
    assert "who" in keys and "it" in keys
    assert "eastside" in keys and "why eastside" not in keys


def test_a_sentence_start_is_read_back_from_the_name_as_the_pattern_reads_it() -> None:
    """``_starts_sentence`` reads the text before a name from its end; it says what searching
    all of it with ``_SENTENCE_START`` says, for random texts of stops, quotes and spaces
    (Unicode ones too) at every place."""
    import random

    from storyline.entities import _SENTENCE_START, _starts_sentence

    rng = random.Random(1)
    pieces = ["a", "B", ".", "!", "?", " ", "\n", "\t", "\r", "\x0b", "\x1c", "\u00a0",
              "\u2003", "\u2028", '"', "“", "(", ")", ",", "Dr.", "word"]  # fmt: skip
    checked = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        for at in range(len(text) + 1):
            assert _starts_sentence(text, at) == bool(_SENTENCE_START.search(text[:at])), (
                text,
                at,
            )
            checked += 1
    assert checked > 100000


def test_a_title_case_headline_gives_its_names_not_the_whole_line() -> None:
    """In a headline Written Like This every word is capitalised, so the capitalised run is
    the line, not a name. Its names are the words the article's own sentences capitalise,
    acronyms and uncommon words; a headline in sentence case reads as before."""
    from storyline.entities import _title_case

    assert _title_case("Noyer Says Strong Euro Creates Unwarranted Economic Pressure")
    assert _title_case("Strike Threat Hangs Over Final Weekend of Port Halloran Mayoral Race")
    assert not _title_case("Strike threat hangs over final weekend of Port Halloran mayoral race")
    assert not _title_case("Fed Speaks Today")  # too few words to tell
    alone = _keys("Noyer Says Strong Euro Creates Unwarranted Economic Pressure")
    assert "noyer" in alone
    assert not any(w in k for k in alone for w in ("says", "strong", "creates", "economic"))
    # An acronym is a name whatever its frequency, a possessive too (as in a sentence).
    assert _keys("ECB's Noyer: Low Inflation May Hamper Adjustment In Euro Zone") == ["ecb noyer"]
    headline = "Strike Threat Hangs Over Final Weekend of Port Halloran Mayoral Race"
    body = (
        "Transit workers in Port Halloran may walk out on Saturday, the Transit Workers Union "
        "said. Mayor Ilse Brandt called the threat a stunt."
    )
    keys = _keys(f"{headline}\n\n{body}")
    # "Port Halloran" is capitalised inside the body's first sentence: a name in the headline.
    assert keys.count("port halloran") == 2
    assert not any(w in k for k in keys for w in ("threat", "hangs", "weekend", "mayoral"))
    sentence_case = "Strike threat hangs over final weekend of Port Halloran mayoral race"
    assert _keys(f"{sentence_case}\n\n{body}").count("port halloran") == 2
    assert _keys(sentence_case) == ["port halloran"]
