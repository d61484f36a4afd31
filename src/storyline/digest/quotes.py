"""Direct quotations with their speakers, grouped across articles into one quote with variants.

A quote is a quoted span of ``min_words`` words or more (shorter quoted words — "tool",
"conned" — are terms, not quotes). Its speaker comes from the words around it:

- after it: ``“…,” Putin said`` / ``“…,” said White House Press Secretary Jen Psaki`` /
  ``“…,” he added``;
- before it: ``Psaki said “…”`` / ``Putin added: “…”``;
- a pronoun, or a quote with no attribution that follows a quote, takes the last named
  speaker of the article;
- a role ("Russia's ambassador to the U.N.") becomes a name when the article names the
  person who holds it (an apposition "role, Name" or "Name, role", or the next named
  speaker of a quote that the role introduced).

Names are made canonical per article (titles dropped; "Putin" → "Vladimir Putin" when the
article says so) and across articles by surname. One speaker's quotes in different
articles are one quote when their closest sentences are close in embedding space:
different outlets' English renderings of the same words become its variants.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storyline.digest.units import DigestDoc

Embed = Callable[[list[str]], np.ndarray]

_OPEN, _CLOSE = '“"«', '”"»'
_QUOTE = re.compile(r"[“\"«]([^“”\"«»]+?)[”\"»]")
_VERBS = (
    r"said|says|say|added|adds|told|tells|asked|asks|warned|warns|stated|states|declared|"
    r"noted|notes|explained|wrote|writes|insisted|insists|argued|argues|continued|replied|"
    r"claimed|claims|remarked|emphasized|emphasised|stressed|acknowledged|recalled|urged|"
    r"pledged|promised|vowed|conceded|admitted|announced|predicted|cautioned"
)
_TITLES = frozenset(
    """president prime minister secretary press spokesman spokeswoman spokesperson chief
    chancellor senator sen. rep. representative governor gov. mayor councillor councilor
    minister foreign deputy general director ambassador dr. dr mr. mr mrs. mrs ms. ms
    premier sheriff judge justice commissioner chairman chairwoman chair ceo executive
    officer professor prof. captain capt. lieutenant sergeant sgt. colonel col. commander
    fire union leader head the white house state defense u.s. us uk un u.n. russian
    russia's hungarian american british french german chinese ukrainian of and to for
    former acting vice interim police""".split()
)
_PRONOUNS = frozenset("he she they we i".split())
_ROLES = frozenset(
    """ambassador envoy spokesman spokeswoman spokesperson secretary minister president premier
    chief mayor governor senator official officials director chairman chairwoman ceo
    commissioner leader head adviser advisor negotiator mediator judge captain""".split()
)
# A name word: capitalised with a lower-case letter ("Putin", "O'Brien", "Salazar-Moe"),
# an initial ("J."), or an abbreviation ("U.S."); never a word that ends a sentence.
_NAME_WORD = r"(?:[A-Z][\w’'-]*[a-z][\w’'-]*|[A-Z]\.(?:[A-Z]\.)*)"
_NAME = (
    rf"(?<![\w’'.-]){_NAME_WORD}(?:[ \t]+(?:de|van|von|al|bin|da|la|le)?[ \t]*{_NAME_WORD}){{0,6}}"
)
_SUBJECT = r"(?:[\w’'.-]+[ \t]+){0,8}?"

_AFTER = re.compile(
    rf"^[ \t]*[,.!?]?[ \t]*(?:(?:{_VERBS})\s+(?P<who1>(?:[\w’'.-]+[ \t]+){{0,8}}?{_NAME}|he|she|they)"
    rf"|(?P<who2>{_SUBJECT}{_NAME}|[Hh]e|[Ss]he|[Tt]hey|I|[Ww]e)"
    rf"\s+(?:has\s+|had\s+|also\s+|then\s+|later\s+)?(?:{_VERBS})"
    rf"|(?P<who3>{_SUBJECT}{_NAME}),[^,“”\"]{{1,90}},\s+(?:{_VERBS}))\b"
)
_TITLED = re.compile(
    r"\b(?:President|Prime Minister|Premier|Mayor|Dr\.|Mr\.|Mrs\.|Ms\.|Chief|Secretary|"
    r"Minister|Governor|Senator|Councillor|Ambassador|Judge|Professor|Captain|Commissioner|"
    rf"Chancellor|Director|Sen\.|Rep\.|Gov\.)\s+(?P<name>{_NAME})"
)
_BEFORE_VERBS = (
    _VERBS
    + r"|accused|accuses|called|calls|described|describes|dismissed|criticized|criticised|denounced|blamed"
)
_BEFORE = re.compile(
    rf"(?:^|[,;]\s+|\b(?:and|but|while|Meanwhile,?|However,?)\s+)(?P<who>[^,;“”\"]{{1,80}}?)\s+"
    rf"(?:also\s+|then\s+|later\s+|has\s+|had\s+)?(?:{_BEFORE_VERBS})\b[^“”\".!?]{{0,160}}?[:,]?\s*$"
)
# The name is matched atomically: a shorter match of it (fewer words, or part of a word) is
# followed by a space or a word's letter, never the comma, so trying them again found nothing
# and cost most of a digest's quote time (backtracking through each word's letters).
_APPOSITION = re.compile(rf"(?P<name>(?>{_NAME})),\s+(?P<role>[^,.;“”\"]{{6,80}}?)[,.;]")
_ROLE_FIRST = re.compile(rf"(?P<role>[^,.;“”\"]{{6,80}}?),\s+(?P<name>{_NAME})[,.;\s]")
_ROLE_STOP = re.compile(r"[,.;“”\"]")
_NAME_AFTER_COMMA = re.compile(rf",(?=\s+(?P<name>{_NAME})[,.;\s])")


def _role_first(text: str) -> Iterator[tuple[str, str]]:
    """(name, role) of each match of ``_ROLE_FIRST`` ("the city's fire chief, Ada Brisk,"),
    the same matches in the same order, found from the commas a name follows. The pattern
    itself tries up to 75 role lengths at every character of the text (5.7 ms an article,
    most of the quotes' cost); a role runs from the last stop character before its comma
    (or 80 characters back, or the end of the previous match) and has 6 characters or more."""
    stops = [m.start() for m in _ROLE_STOP.finditer(text)]
    pos = 0
    for m in _NAME_AFTER_COMMA.finditer(text):
        comma = m.start()
        at = bisect.bisect_left(stops, comma)  # stops[at] is this comma
        start = max(pos, stops[at - 1] + 1 if at else 0, comma - 80)
        if comma - start < 6:
            continue
        yield m.group("name"), text[start:comma]
        pos = m.end("name") + 1  # the character after the name is part of the match


@dataclass
class Quote:
    """One quoted span in one article."""

    text: str
    article: str
    speaker: str | None
    start: int  # character offset in the article text


@dataclass
class QuoteGroup:
    speaker: str | None
    quotes: list[Quote] = field(default_factory=list)


def _strip_titles(name: str) -> str:
    words = name.replace("’s", "").replace("'s", "").split()
    while len(words) > 1 and words[0].lower().strip(",") in _TITLES:
        words = words[1:]
    return " ".join(words).strip(" ,.")


def _is_name(phrase: str) -> bool:
    words = phrase.split()
    return bool(words) and all(w[:1].isupper() for w in words) and phrase.lower() not in _PRONOUNS


def _last_name_in(phrase: str) -> str | None:
    """The trailing proper name of a speaker phrase ("White House Press Secretary Jen Psaki")."""
    words = phrase.split()
    tail: list[str] = []
    for w in reversed(words):
        if w[:1].isupper():
            tail.insert(0, w)
        else:
            break
    return _person(" ".join(tail)) or None


def _person(phrase: str) -> str:
    """A person's name without the titles and places before it ("Caddock Falls Mayor Tobias
    Wren" -> "Tobias Wren")."""
    words = phrase.split()
    titled = [i for i, w in enumerate(words) if w.lower().strip(",") in _TITLES]
    if titled and titled[-1] < len(words) - 1:
        words = words[titled[-1] + 1 :]
    return _strip_titles(" ".join(words))


class _Article:
    """Speaker resolution within one article."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.full_names: dict[str, str] = {}  # surname -> the one full name that ends in it
        ambiguous: set[str] = set()
        for m in re.finditer(_NAME, text):
            name = _person(m.group(0))
            if len(name.split()) >= 2 and _is_name(name):
                surname = name.split()[-1]
                known = self.full_names.get(surname)
                if known is None or known.endswith(" " + name):
                    self.full_names.setdefault(surname, name)
                elif name.endswith(" " + known):
                    self.full_names[surname] = name
                elif known != name:
                    ambiguous.add(surname)  # Joe Biden and Hunter Biden
        for surname in ambiguous:
            del self.full_names[surname]
        # People the text introduces with a title ("Premier Hélène Drouart"), by position.
        self.mentions: list[tuple[int, str]] = [
            (m.start(), _strip_titles(m.group("name"))) for m in _TITLED.finditer(text)
        ]
        # ...and people named before (their surnames), places and bodies left out.
        for surname, full in self.full_names.items():
            if full.split()[0].lower() in _NOT_PEOPLE or surname.lower() in _NOT_PEOPLE:
                continue
            for m in re.finditer(rf"\b{re.escape(surname)}\b(?![ \t]+[A-Z])", text):
                self.mentions.append((m.start(), full))
        self.roles: list[tuple[str, str]] = []
        self.spoke: list[tuple[int, str]] = []
        found = [(m.group("name"), m.group("role")) for m in _APPOSITION.finditer(text)]
        for raw_name, raw_role in [*found, *_role_first(text)]:
            name, role = _strip_titles(raw_name), raw_role.strip().lower()
            if len(name.split()) >= 2 and _is_name(name) and not role[:1].isupper():
                self.roles.append((role, name))

    def canonical(self, name: str) -> str:
        name = _person(name)
        surname = name.split()[-1] if name else name
        return self.full_names.get(surname, name)

    def role_name(self, role: str) -> str | None:
        """The person the article names for a role ("Russia's UN envoy, Vassily Nebenzia")."""
        words = re.findall(r"[\w’'.]+", role)
        nouns = [w.lower() for w in words if w.lower() in _ROLES]
        qualifiers = {_plain(w) for w in words if w[:1].isupper()}
        for known, name in self.roles:
            known_words = {_plain(w) for w in re.findall(r"[\w’'.]+", known)}
            if nouns and nouns[-1] in known_words and (not qualifiers or qualifiers & known_words):
                return name
        return None

    def _subject_like(self, pos: int) -> bool:
        """A mention that can be what a later "he"/"she" means: not a possessive ("under
        Kessler's leadership") and not the object of a preposition ("beating Kessler")."""
        after = self.text[pos : pos + 60]
        name = re.match(r"[\w.-]+(?:[ \t]+[A-Z][\w.-]*)*", after)
        end = pos + (name.end() if name else 0)
        if self.text[end : end + 2] in ("’s", "'s"):
            return False
        before = self.text[max(0, pos - 30) : pos].split()
        return not before or before[-1].lower() not in _OBJECT_MARKERS

    def person_before(self, pos: int, last: str | None) -> str | None:
        """Whom a pronoun at ``pos`` means: the person last introduced before it (by title,
        or as a speaker), else the last speaker."""
        best = max(
            (
                (p, n)
                for p, n in [*self.mentions, *self.spoke]
                if p < pos and pos - p < 600 and self._subject_like(p)
            ),
            default=None,
        )
        return self.canonical(best[1]) if best else last

    def speaker(self, raw: str, last: str | None, pos: int = 0) -> tuple[str | None, bool]:
        """The speaker a phrase names, and whether it is an unresolved role."""
        raw = re.sub(r"^(?:Meanwhile|However|But|And|Then),?\s+", "", raw.strip())
        if raw.lower() in _PRONOUNS:
            return self.person_before(pos, last), False
        name = _last_name_in(raw)
        if name and _is_name(name) and name.lower() not in _TITLES and not _ABBREV.match(name):
            return self.canonical(name), False
        if any(w.lower() in _ROLES for w in re.findall(r"[\w’'.]+", raw)):
            role = re.sub(r"(?:\s+(?:\w+ly|further|also|again|then))+$", "", raw)
            return self.role_name(role) or role, True
        return None, False


_NOT_PEOPLE = frozenset(
    """port fort lake mount mt. north south east west new san santa saint st. university
    college school hospital street road bridge river valley county city state district
    union party council board agency authority department ministry company bank group
    court house center centre airport station park bay island hills falls united states
    kingdom nations republic""".split()
)
_OBJECT_MARKERS = frozenset(
    """of under to for with against by from than about over beating defeating unseating
    and or the a an""".split()
)
# A sentence ends at . ! ? after a lower-case word (not after "U.N." or "Dr.").
_BOUNDARY = re.compile(r"[.!?][”\"’)]*\s+(?=[A-Z“\"‘(])|\n")
_NOT_AN_END = re.compile(r"(?:\b(?:[A-Z]\.)+|\b(?:Mr|Mrs|Ms|Dr|St|Sen|Rep|Gov|Gen|Lt|Col|Prof)\.)$")


def _last_sentence(text: str) -> str:
    """The sentence that ``text`` ends in (not cut at "U.N." or "Dr.", cut at "NATO.")."""
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group(0) == "\n" or not _NOT_AN_END.search(text[: m.start() + 1]):
            start = m.end()
    return text[start:]


_ABBREV = re.compile(r"^[A-Z](?:\.?[A-Z])+\.?$")


def _plain(word: str) -> str:
    return re.sub(r"[’'.]|’s$|'s$", "", word.lower().removesuffix("’s").removesuffix("'s"))


@dataclass
class _Found:
    text: str
    start: int
    end: int  # where the quote and its attribution end
    speaker: str | None
    attributed: bool


def extract_quotes(doc_id: str, text: str, min_words: int = 4) -> list[Quote]:
    """The article's direct quotations of ``min_words`` words or more, with speakers."""
    art = _Article(text)
    found: list[_Found] = []
    last: str | None = None
    for m in _QUOTE.finditer(text):
        inner = " ".join(m.group(1).split())
        after = text[m.end() : m.end() + 200]
        sentence_before = _last_sentence(text[max(0, m.start() - 200) : m.start()])
        raw, end = None, m.end()
        a = _AFTER.match(after)
        if a:
            raw = a.group("who1") or a.group("who2") or a.group("who3")
            end = m.end() + a.end()
        else:
            b = _BEFORE.search(sentence_before)
            if b:
                raw = b.group("who")
        speaker, _role = art.speaker(raw, last, m.start()) if raw else (None, False)
        if speaker is None and found and not raw:
            gap = text[found[-1].end : m.start()]
            if len(re.findall(r"\w+", gap)) <= 8 and "\n\n" not in gap and found[-1].speaker:
                speaker = found[-1].speaker  # a follow-on quote: the same speaker goes on
        if speaker and not _role:
            last = speaker
            art.spoke.append((m.start(), speaker))
        found.append(_Found(inner, m.start(), end, speaker, bool(raw)))
    # One utterance quoted in pieces ("“…,” Putin warned. “Should we…?” “Has anyone…?”).
    merged: list[_Found] = []
    for f in found:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.speaker
            and f.speaker == prev.speaker
            and len(re.findall(r"\w+", text[prev.end : f.start])) <= 2
            and len(prev.text.split()) >= 3
            and len(f.text.split()) >= 3
        ):
            prev.text = f"{prev.text.rstrip(',')} {f.text}"
            prev.end = f.end
            continue
        merged.append(f)
    return [
        Quote(f.text.rstrip(","), doc_id, f.speaker, f.start)
        for f in merged
        if len(re.findall(r"\w+", f.text)) >= min_words
    ]


def _surname(name: str | None) -> str | None:
    return name.split()[-1].lower() if name else None


def group_quotes(
    quotes: list[Quote], embed: Embed | None, min_cosine: float = 0.7
) -> list[QuoteGroup]:
    """One speaker's quotes across articles, joined when their closest sentences agree."""
    if not quotes:
        return []
    pieces: list[list[str]] = [
        [s for s in re.split(r"(?<=[.!?])\s+", q.text) if len(s.split()) >= 3] or [q.text]
        for q in quotes
    ]
    flat = [s for p in pieces for s in p]
    vectors = np.asarray(embed(flat), dtype=np.float32) if embed else None
    spans: list[tuple[int, int]] = []
    n = 0
    for p in pieces:
        spans.append((n, n + len(p)))
        n += len(p)
    parent = list(range(len(quotes)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def norm(t: str) -> str:
        return " ".join(re.findall(r"\w+", t.lower()))

    for i in range(len(quotes)):
        for j in range(i + 1, len(quotes)):
            qi, qj = quotes[i], quotes[j]
            si, sj = _surname(qi.speaker), _surname(qj.speaker)
            if si and sj and si != sj:
                continue
            a, b = norm(qi.text), norm(qj.text)
            same = a == b or (len(a) > 20 and len(b) > 20 and (a in b or b in a))
            # One article's two quotes are two things said, unless one repeats the other.
            if not same and vectors is not None and si and sj and qi.article != qj.article:
                (i0, i1), (j0, j1) = spans[i], spans[j]
                same = float(np.max(vectors[i0:i1] @ vectors[j0:j1].T)) >= min_cosine
            if same:
                parent[find(j)] = find(i)
    groups: dict[int, QuoteGroup] = {}
    for i, q in enumerate(quotes):
        g = groups.setdefault(find(i), QuoteGroup(None))
        g.quotes.append(q)
    # A bare or shorter name ("Putin") becomes the one longer name of the story that ends in
    # it ("Vladimir Putin"); two different people with one surname are left as they are.
    names = {q.speaker for q in quotes if q.speaker and _is_name(q.speaker)}
    for q in quotes:
        if q.speaker in names:
            longer = {n for n in names if n != q.speaker and n.endswith(" " + q.speaker)}
            if len(longer) == 1:
                q.speaker = longer.pop()
    for g in groups.values():
        named = [q.speaker for q in g.quotes if q.speaker]
        if named:
            g.speaker = max(named, key=lambda s: (named.count(s), len(s)))
    return list(groups.values())


def quotes_of_story(
    docs: list[DigestDoc],
    embed: Embed | None,
    min_words: int = 4,
    min_cosine: float = 0.7,
    sources: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The story's quotes, each with its speaker, wordings (variants) and articles."""
    found: list[Quote] = []
    for d in docs:
        found.extend(extract_quotes(d.id, d.text or " ".join(d.sentences), min_words))
    order = {d.id: (d.published or "9999", d.id) for d in docs}
    out: list[dict[str, Any]] = []
    for g in group_quotes(found, embed, min_cosine):
        wordings: dict[str, list[str]] = {}
        for q in sorted(g.quotes, key=lambda q: order[q.article]):
            arts = wordings.setdefault(q.text, [])
            if q.article not in arts:
                arts.append(q.article)
        # The wording most articles use; on a tie, the earliest published.
        main = max(wordings, key=lambda t: len(wordings[t]))
        articles = sorted({q.article for q in g.quotes}, key=lambda a: order[a])
        out.append(
            {
                "text": main,
                "speaker": g.speaker,
                "articles": articles,
                "variants": [{"text": t, "articles": a} for t, a in wordings.items() if t != main],
                "sources": len({(sources or {}).get(a, a) for a in articles}),
            }
        )
    out.sort(key=lambda q: (-len(q["articles"]), order[q["articles"][0]]))
    return out
