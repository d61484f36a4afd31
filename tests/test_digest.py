"""The digest: facts counted by independent sources, quotes with speakers, conflicts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storyline.cli import app
from storyline.corpus import Corpus
from storyline.digest.facts import _source_key, attribution
from storyline.digest.quotes import extract_quotes
from storyline.digest.units import DigestDoc, Unit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


# -- pieces -------------------------------------------------------------------------------


def test_speakers_after_before_pronoun_follow_on_and_role() -> None:
    text = (
        "Premier Ada Quill toured the valley on Monday. "
        '"We will rebuild every home on this street," she said. "Nobody will be left behind."\n\n'
        'Harbour chief Tomas Reyes said: "The water is still rising in the lower town."\n\n'
        "The regional fire chief, Lina Ostrow, spoke at noon. The chief warned "
        '"the next forty-eight hours will decide everything here."\n\n'
        'Critics called the plan a "cheap trick" and left.'
    )
    quotes = extract_quotes("a", text)
    got = {q.text: q.speaker for q in quotes}
    assert (
        got["We will rebuild every home on this street Nobody will be left behind."] == "Ada Quill"
    )
    assert got["The water is still rising in the lower town."] == "Tomas Reyes"
    assert got["the next forty-eight hours will decide everything here."] == "Lina Ostrow"
    assert "cheap trick" not in got  # two quoted words are a term, not a quote


_ROLE_PIECES = ("the city's fire chief", "Ada Brisk", "Mayor Tobias Wren", "said", ",", ", ",
                ".", ";", "“We will rebuild”", '"no"', "an official with the port authority",
                "Jan de Vries", "J.R. Holt", "O'Neil", "Smith-Jones", "\n", "\t", " ", "a" * 90,
                "spokesperson", "Kessler")  # fmt: skip


def test_roles_before_names_are_found_as_the_pattern_finds_them(example_corpus: Path) -> None:
    """``_role_first`` gives the matches of the ``_ROLE_FIRST`` pattern, the same ones in the
    same order, on the example articles and on random texts of roles, names and stops."""
    import random

    from storyline.digest.quotes import _ROLE_FIRST, _role_first

    rng = random.Random(5)
    texts = [p.read_text(encoding="utf-8") for p in sorted(example_corpus.rglob("*.txt"))]
    texts += [
        " ".join(rng.choice(_ROLE_PIECES) for _ in range(rng.randint(1, 40))) for _ in range(3000)
    ]
    found = 0
    for text in texts:
        want = [(m.group("name"), m.group("role")) for m in _ROLE_FIRST.finditer(text)]
        assert list(_role_first(text)) == want, text
        found += len(want)
    assert found > 500


def test_appositions_are_found_as_the_plain_pattern_finds_them(example_corpus: Path) -> None:
    """``_APPOSITION`` matches its name atomically (no backtracking into it); it finds the
    same names and roles, in the same places, as the pattern without the atomic group."""
    import random
    import re

    from storyline.digest.quotes import _APPOSITION, _NAME

    plain = re.compile(_APPOSITION.pattern.replace(f"(?>{_NAME})", _NAME, 1))
    assert plain.pattern != _APPOSITION.pattern
    rng = random.Random(7)
    texts = [p.read_text(encoding="utf-8") for p in sorted(example_corpus.rglob("*.txt"))]
    texts += [
        " ".join(rng.choice((*_ROLE_PIECES, "A.", "de")) for _ in range(rng.randint(1, 40)))
        .replace(" ,", ",")
        .replace(" .", ".")
        for _ in range(3000)
    ]
    found = 0
    for text in texts:
        want = [(m.span(), m.group("name"), m.group("role")) for m in plain.finditer(text)]
        assert [
            (m.span(), m.group("name"), m.group("role")) for m in _APPOSITION.finditer(text)
        ] == want, text
        found += len(want)
    assert found > 300


def test_attribution_and_source_names() -> None:
    assert attribution("Russia has 100,000 troops there, according to the US and allies.") == (
        "the US and allies"
    )
    assert attribution("The U.S. and Western allies have said Russia has amassed troops.") == (
        "the U.S. and Western allies"
    )
    assert attribution("Three people died on Monday.") is None
    assert _source_key("NBC NEWS") == _source_key("NBC News")
    assert _source_key("Continental Press Agency (CPA)") == _source_key("CPA")


def test_number_conflicts_skip_identifiers_and_years() -> None:
    from storyline.digest.conflicts import _mentions

    unit = Unit("Members of Local 418 struck in 2026, and 2,300 workers joined.", "a", 0, 0)
    assert [m.shown for m in _mentions([unit])] == ["2,300"]
    conditional = Unit(
        "If the gusts drop below 40 kilometres an hour, crews can hold it.", "b", 0, 1
    )
    assert _mentions([conditional]) == []


def test_number_pairs_are_those_of_the_plain_loop() -> None:
    """The mention pairs that may state one figure, decided in numpy blocks, are those the
    plain pairwise loop finds, in its order: figures of other articles, within a day (or of
    unknown time), within 3x of each other, in the same role or counting the same noun."""
    import random

    import numpy as np

    from storyline.digest.conflicts import Mention, _pairs
    from storyline.digest.units import Unit
    from storyline.stories.stream import epoch

    rng = random.Random(3)
    dates = [None, "2026-03-01T10:00:00Z", "2026-03-01T23:00:00Z", "2026-03-03T09:00:00Z"]
    published = [rng.choice(dates) for _ in range(40)]  # one date an article
    units = []
    for n in range(300):
        a = rng.randrange(40)
        units.append(Unit("x", f"a{a}", 0, n, published=published[a]))
    mentions = [
        Mention(rng.randrange(300), rng.choice([0.0, 1.0, 2.5, 3.0, 9.0, 10.0, 40.0, 1e6]), "",
                "", rng.choice(["", "homes", "people", "homes"]))
        for _ in range(1500)
    ]  # fmt: skip
    sims = np.random.default_rng(0).random((1500, 1500), dtype=np.float32)
    sims = (sims + sims.T) / 2
    expected = []
    for i in range(len(mentions)):
        ui = units[mentions[i].unit]
        for j in range(i + 1, len(mentions)):
            uj = units[mentions[j].unit]
            ta, tb = epoch(ui.published), epoch(uj.published)
            if ui.article == uj.article or not (ta is None or tb is None or abs(ta - tb) <= 86400):
                continue
            vi, vj = mentions[i].value, mentions[j].value
            if max(vi, vj) > 3.0 * min(vi, vj):
                continue
            if sims[i, j] >= 0.8 or (mentions[i].noun and mentions[i].noun == mentions[j].noun):
                expected.append((i, j))
    assert len(expected) > 1000
    assert _pairs(mentions, units, sims, 0.8) == expected


def test_summary_cites_its_articles_and_counts_copies_once() -> None:
    from storyline.digest import build_digest

    wire = ["Floodwater cut the coastal railway near Brenmoor on Monday, officials said."]
    docs = [
        DigestDoc("wire", [*wire, "Repairs could take a week, engineers said."], source="Wire"),
        DigestDoc("copy", list(wire), source="Copy Daily"),
        DigestDoc("own", ["Engineers expect the Brenmoor line to stay shut for a week."],
                  source="Other Times"),
    ]  # fmt: skip
    digest = build_digest(docs, {"copy": "wire", "wire": "wire"}, words=40)
    assert digest["summary"]
    for s in digest["summary"]:
        assert s["articles"]
    rail = [f for f in digest["facts"] if "railway" in f["text"]]
    assert rail and rail[0]["sources"] == 1 and set(rail[0]["articles"]) == {"wire", "copy"}


# -- the seeds ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_digest(seeds_analyzed: Corpus) -> tuple[dict, dict[str, str]]:
    ids = {Path(a.origin.path).name[:3]: a.id for a in seeds_analyzed.articles()}
    stories = seeds_analyzed.stories()
    assert len(stories) == 1
    digest = seeds_analyzed.digest(stories[0]["id"])
    assert digest is not None
    return digest, ids


def test_seeds_000_and_001_are_one_source(seed_digest: tuple[dict, dict[str, str]]) -> None:
    digest, ids = seed_digest
    assert digest["sources"][ids["000"]] == digest["sources"][ids["001"]]
    names = digest["sources"]
    for fact in digest["facts"]:
        assert fact["sources"] == len({names[a] for a in fact["articles"]})
    for item in digest["summary"]:
        assert item["sources"] <= len(item["articles"])
        if {ids["000"], ids["001"]} <= set(item["articles"]):
            assert item["sources"] < len(item["articles"])


def test_seeds_troops_fact(seed_digest: tuple[dict, dict[str, str]]) -> None:
    digest, ids = seed_digest
    troops = [
        f for f in digest["facts"]
        if any("100,000" in t and ("troops" in t or "soldiers" in t)
               for t in [f["text"], *(v["text"] for v in f["variants"])])
    ]  # fmt: skip
    assert troops, "no fact group for the 100,000 troops"
    fact = max(troops, key=lambda f: len(f["articles"]))
    # 000 (a spun copy of 001) and 001 are one source; 002 re-words CNN wire copy: two.
    assert {ids["000"], ids["001"], ids["002"]} <= set(fact["articles"])
    assert fact["sources"] == 2
    assert "Western allies" in (fact["attribution"] or "")


def test_seeds_putin_nato_quote_is_one_quote_with_variants(
    seed_digest: tuple[dict, dict[str, str]],
) -> None:
    digest, ids = seed_digest
    nato = [
        q for q in digest["quotes"]
        if any("fight" in _norm(t) and "nato" in _norm(t)
               for t in [q["text"], *(v["text"] for v in q["variants"])])
    ]  # fmt: skip
    assert len(nato) == 1
    quote = nato[0]
    assert "Putin" in quote["speaker"]
    assert {ids["002"], ids["004"]} <= set(quote["articles"])
    assert quote["variants"]


@pytest.mark.parametrize(
    ("words", "speaker"),
    [
        ("the door to diplomacy remains open", "Jen Psaki"),
        ("When we talk about mutual de-escalation", "Jen Psaki"),
        ("If they had not done this", "Vassily Nebenzia"),
    ],
)
def test_seeds_speakers(seed_digest: tuple[dict, dict[str, str]], words: str, speaker: str) -> None:
    digest, _ = seed_digest
    found = [q for q in digest["quotes"] if _norm(words) in _norm(q["text"])]
    assert found and found[0]["speaker"] == speaker


# -- the example corpus ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((EXAMPLES / "truth.json").read_text(encoding="utf-8"))


def test_example_quotes_match_the_truth(example_analyzed: Corpus, truth: dict) -> None:
    url = {a.id: a.url for a in example_analyzed.articles()}
    quotes = example_analyzed.quotes()
    for want in truth["quotes"]:
        wordings = [_norm(want["text"]), *(_norm(v) for v in want["variants"])]
        hits = [
            q for q in quotes
            if any(w in _norm(t) for w in wordings
                   for t in [q["text"], *(v["text"] for v in q["variants"])])
        ]  # fmt: skip
        assert len(hits) == 1, f"{want['text']!r}: {len(hits)} quotes"
        assert hits[0]["speaker"] == want["speaker"]
        assert {url[a] for a in hits[0]["articles"]} == set(want["articles"])


def test_example_conflicts_match_the_truth(example_analyzed: Corpus, truth: dict) -> None:
    url = {a.id: a.url for a in example_analyzed.articles()}
    found = [c for d in example_analyzed.digests() for c in d["conflicts"]]
    for want in truth["conflicts"]:
        values = {v["value"] for v in want["values"]}
        match = [c for c in found if values <= {v["value"] for v in c["values"]}]
        assert match, f"conflict not found: {want['fact']}"
        for v in match[0]["values"]:
            if v["value"] in values:
                expected = {x["url"] for x in want["values"] if x["value"] == v["value"]}
                assert {url[a] for a in v["articles"]} & expected


def test_report_carries_digests(example_analyzed: Corpus) -> None:
    report = example_analyzed.report()
    assert len(report["digests"]) == len(report["stories"])
    for d in report["digests"]:
        assert {"story", "summary", "facts", "quotes", "entities", "conflicts"} <= set(d)


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_digest_quotes_and_summarize(example_analyzed: Corpus, example_corpus: Path) -> None:
    runner = CliRunner()
    db = str(example_analyzed.store.path)
    story = example_analyzed.stories()[0]["id"]
    shown = runner.invoke(app, ["digest", story, "--db", db])
    assert shown.exit_code == 0, shown.output
    assert "[1]" in shown.output and "articles" in shown.output
    as_json = runner.invoke(app, ["digest", story, "--db", db, "--json"])
    assert json.loads(as_json.stdout)["story"] == story
    by_speaker = runner.invoke(app, ["quotes", "--db", db, "--speaker", "Fenwick", "--json"])
    rows = json.loads(by_speaker.stdout)
    assert rows and all("Fenwick" in q["speaker"] for q in rows)
    files = sorted((example_corpus / "txt").glob("*.txt"))[:3]
    plain = runner.invoke(app, ["summarize", *map(str, files), "--plain", "--words", "60"])
    assert plain.exit_code == 0, plain.output
    lines = [x for x in plain.stdout.splitlines() if x.strip()]
    assert lines and sum(len(x.split()) for x in lines[:-1]) < 60
    bad = runner.invoke(app, ["summarize", str(files[0]), "--method", "nonesuch"])
    assert bad.exit_code == 2 and "nonesuch" in bad.output


# -- review regressions --------------------------------------------------------------------


def test_a_sentence_forty_outlets_run_is_one_fact_stated_once() -> None:
    from storyline.digest import build_digest

    fact = "The regional council voted on Tuesday to close the Brenmoor bridge for six months."
    docs = [
        DigestDoc(f"a{i:02d}", [fact, f"Reporter {i} counted {i + 3} boats on the river at dawn."],
                  source=f"Outlet {i}", published=f"2026-01-01T{i % 24:02d}:00:00+00:00")
        for i in range(40)
    ]  # fmt: skip
    digest = build_digest(docs, {}, parts=("summary", "facts"))
    bridge = [f for f in digest["facts"] if "Brenmoor" in f["text"]]
    assert len(bridge) == 1 and bridge[0]["sources"] == 40
    assert sum("Brenmoor" in s["text"] for s in digest["summary"]) == 1


def test_two_people_with_one_surname_stay_two() -> None:
    from storyline.digest.quotes import quotes_of_story

    a = DigestDoc("a", [], text='"We will not leave anyone behind in this," Joe Biden said.')
    b = DigestDoc(
        "b", [], text='"I have made many mistakes in my life," Hunter Biden said. '
        '"I regret most of them now," Biden added.'
    )  # fmt: skip
    speakers = {q["text"][:10]: q["speaker"] for q in quotes_of_story([a, b], None)}
    assert speakers == {"We will no": "Joe Biden", "I have mad": "Hunter Biden"}


def test_digest_follows_recleaning(tmp_path: Path) -> None:
    """An article cleaned again (its outlet's template learned later) gets a new digest."""
    from builders import write_jsonl

    banner = "Live updates on every platform, every hour of the day and night from our team"
    filler = (
        "It was the first time in years that so many of them had come to say so in public,"
        " and they said it would not be the last."
    )
    topics = [
        ("The school board approved a new budget on Monday after a four-hour meeting.",
         "Teachers packed the hall and several spoke against cuts to the music program."),
        ("A freight train derailed outside the rail yard early Sunday, spilling grain.",
         "No one was hurt, and crews expect the line to reopen by Tuesday evening."),
        ("The city opened its third cooling center as temperatures climbed past 38 degrees.",
         "Volunteers handed out water bottles to people waiting for the buses downtown."),
    ]  # fmt: skip
    rows = [
        {"text": f"{first} {filler}\n\n{banner}\n\n{second} {filler}",
         "url": f"https://bendpost.example/{i}", "source": "Bend Post"}
        for i, (first, second) in enumerate(topics[:2])
    ]  # fmt: skip
    first, second = topics[2]
    rows.append(
        {"text": f"{first} Officers closed two streets near the station for most of the"
                 f" afternoon.\n\n{banner}\n\n{second} The mayor thanked the crews who worked"
                 " through the heat.",
         "url": "https://bendpost.example/2", "source": "Bend Post"}
    )  # fmt: skip
    write_jsonl(tmp_path / "one.jsonl", rows[:2])
    write_jsonl(tmp_path / "two.jsonl", rows[2:])
    with Corpus(tmp_path / "s.db") as corpus:
        corpus.add([str(tmp_path / "one.jsonl")])
        assert any(banner[:20] in json.dumps(d) for d in corpus.digests())
        result = corpus.add([str(tmp_path / "two.jsonl")])
        assert result.counts.get("recleaned")
        assert not any(banner[:20] in json.dumps(d) for d in corpus.digests())


def test_entities_join_a_surname_to_the_one_full_name() -> None:
    from storyline.digest import entities_of

    doc = DigestDoc(
        "a", [], text="Mayor Ada Kessler spoke on Monday. Kessler said the city would recover. "
        "Joe Biden and Hunter Biden met in Dover. Biden left early."
    )  # fmt: skip
    ents = entities_of([doc])
    if ents["extractor"].startswith("rules"):
        pytest.skip("spaCy's model is not installed: entity types unknown")
    people = {p["name"]: p["mentions"] for p in ents["people"]}
    assert people["Ada Kessler"] == 2 and "Kessler" not in people
    assert "Joe Biden" in people and "Hunter Biden" in people


@pytest.mark.parametrize(
    ("text", "dateline", "rest"),
    [
        ("PORT HALLORAN, March 16 (CPA) — Transit workers walked out.", "PORT HALLORAN, March 16 (CPA)", "Transit workers walked out."),
        ("WASHINGTON (AP) _ The Senate voted.", "WASHINGTON (AP)", "The Senate voted."),
        ("LONDON, Jan. 5 (Reuters) - Prices rose.", "LONDON, Jan. 5 (Reuters)", "Prices rose."),
        ("ST. LOUIS, Mo. — A storm hit.", "ST. LOUIS, Mo.", "A storm hit."),
        ("NASA said on Monday it would launch.", None, "NASA said on Monday it would launch."),
        ("The mayor — re-elected — spoke.", None, "The mayor — re-elected — spoke."),
        ("FBI — the bureau said so.", None, "FBI — the bureau said so."),
    ],
)  # fmt: skip
def test_split_dateline(text: str, dateline: str | None, rest: str) -> None:
    from storyline.text.dateline import split_dateline

    assert split_dateline(text) == (dateline, rest)


def test_digests_show_sentences_without_their_datelines(example_analyzed) -> None:
    from storyline.text.dateline import split_dateline

    kept = []
    for d in example_analyzed.digests():
        for entry in [*d["summary"], *d["facts"]]:
            assert split_dateline(entry["text"])[0] is None, entry["text"]
            if "dateline" in entry:
                kept.append(entry["dateline"])
    assert "PORT HALLORAN, March 16 (CPA)" in kept  # the CPA strike report's lead
