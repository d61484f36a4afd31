"""Conflicts: independent sources that disagree on a number or a name for the same fact.

Numbers: every number a sentence states (not years, dates, clock times, identifiers such
as "Local 418", or figures in a condition: "if the gusts drop below 40") is a mention, read with the words around it and the number itself
masked ("destroyed # homes, officials said"). Two mentions from different articles are
about the same quantity when their sentences are about the same thing (cosine at least
``same_topic``) and either the masked windows mean the same (cosine at least
``same_role``) or they count the same noun ("41 homes" / "47 homes"); mentions joined that way that carry different values are a conflict, and
each value is listed with the articles and outlets behind it.

Names: within one fact group, two independent sources' wordings that differ in exactly
one proper name with the same words on both sides ("Premier Drouart" / "Premier Dupont")
name different people for the same fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from storyline.digest.facts import Source
from storyline.digest.summary import gram
from storyline.digest.units import Unit
from storyline.ingest.clean import stopwords
from storyline.text.seqmatch import SequenceMatcher

Embed = Callable[[list[str]], np.ndarray]

_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december"
)
_NUMBER = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s*(?:%|percent|per cent|million|billion|"
    r"thousand))?(?![\w])"
)
_SKIP_BEFORE = re.compile(rf"(?:\b(?:{_MONTHS})\.?|\bno\.|\bNo\.|\$|€|£)\s*$", re.I)
_SKIP_AFTER = re.compile(r"^\s*(?:a\.m\.|p\.m\.|am\b|pm\b|o'clock|mg\b|ml\b|:\d)", re.I)
_MAX_RATIO = 3.0
_CONDITIONAL = re.compile(r"\b(?:if|unless|whether|should)\b", re.I)
_SCALE = {"million": 1e6, "billion": 1e9, "thousand": 1e3}


@dataclass
class Mention:
    unit: int  # index into the units
    value: float
    shown: str  # the number as written
    window: str  # the words around it, the number masked
    noun: str  # the word it counts ("homes", "bottles"), singular, lower case


def _mentions(units: list[Unit]) -> list[Mention]:
    out = []
    for n, u in enumerate(units):
        text = u.text
        for m in _NUMBER.finditer(text):
            digits, scale = m.group(1), (m.group(2) or "").strip().lower()
            if _SKIP_BEFORE.search(text[: m.start()]) or _SKIP_AFTER.match(text[m.end() :]):
                continue
            value = float(digits.replace(",", ""))
            if not scale and 1900 <= value <= 2100 and "," not in digits and "." not in digits:
                continue  # a year
            clause = re.split(r"[,;:—(]", text[: m.start()])[-1]
            if _CONDITIONAL.search(clause):
                continue  # "if the gusts drop below 40 …" states no figure
            before = text[: m.start()].split()
            if len(before) > 1 and before[-1][:1].isupper() and not before[-2].endswith((".", ":")):
                continue  # an identifier: "Local 418", "Route 9"
            value *= _SCALE.get(scale, 1.0)
            if value in (0.0, 1.0):
                continue
            left = text[: m.start()].split()[-6:]
            right = text[m.end() :].split()[:6]
            window = " ".join([*left, "#", *right])
            nouns = [w.lower().strip(".,;:") for w in right if w[:1].isalpha()]
            noun = next((w for w in nouns if w not in stopwords()), "")
            out.append(Mention(n, value, m.group(0).strip(), window, noun.removesuffix("s")))
    return out


def number_conflicts(
    units: list[Unit],
    sources: dict[str, Source],
    embed: Embed | None,
    same_role: float = 0.8,
    same_topic: float = 0.5,
) -> list[dict[str, Any]]:
    mentions = _mentions(units)
    if len(mentions) < 2 or embed is None:
        return []
    windows = np.asarray(embed([m.window for m in mentions]), dtype=np.float32)
    # The topic check reads the mentions' sentence vectors; fact grouping embeds only the
    # sentences its words could not decide, so the rest are embedded here.
    bare = sorted({m.unit for m in mentions if units[m.unit].vector is None})
    if bare:
        vectors = np.asarray(embed([units[u].text for u in bare]), dtype=np.float32)
        for u, v in zip(bare, vectors, strict=True):
            units[u].vector = v
    sims = gram(windows)
    linked: dict[tuple[int, int], float] = {}
    for i, j in _pairs(mentions, units, sims, same_role):
        ui, uj = units[mentions[i].unit], units[mentions[j].unit]
        topic = (
            float(ui.vector @ uj.vector) if ui.vector is not None and uj.vector is not None else 1.0
        )
        same_noun = mentions[i].noun and mentions[i].noun == mentions[j].noun
        if topic >= same_topic:
            linked[(i, j)] = float(sims[i, j]) + (1.0 if same_noun else 0.0)
    # Complete linkage: a mention joins a cluster only when it is linked to every member, so
    # "14 lots" never rides into the bottles' cluster on one shared neighbour.
    clusters: dict[int, list[int]] = {i: [i] for i in range(len(mentions))}
    where = list(range(len(mentions)))
    for (i, j), _s in sorted(linked.items(), key=lambda kv: -kv[1]):
        ci, cj = where[i], where[j]
        if ci == cj:
            continue
        if all((min(x, y), max(x, y)) in linked for x in clusters[ci] for y in clusters[cj]):
            clusters[ci].extend(clusters[cj])
            for x in clusters[cj]:
                where[x] = ci
            del clusters[cj]
    out = []
    for members in clusters.values():
        by_value: dict[float, list[Mention]] = {}
        for i in members:
            by_value.setdefault(mentions[i].value, []).append(mentions[i])
        if len(by_value) < 2:
            continue
        keys = {v: {sources[units[m.unit].article].key for m in ms} for v, ms in by_value.items()}
        # A disagreement between sources, not one source revising its own figure.
        all_keys = set().union(*keys.values())
        if len(all_keys) < 2 or any(k == all_keys for k in keys.values()):
            continue
        values = []
        for _v, ms in sorted(by_value.items(), key=lambda kv: -len(kv[1])):
            arts = sorted({units[m.unit].article for m in ms})
            outlets = sorted({sources[a].name for a in arts})
            values.append(
                {
                    "value": ms[0].shown,
                    "articles": arts,
                    "outlets": outlets,
                    "sentence": units[ms[0].unit].text,
                }
            )
        first = mentions[members[0]]
        out.append({"fact": first.window.replace("#", "…"), "kind": "number", "values": values})
    return out


def _pairs(
    mentions: list[Mention], units: list[Unit], sims: np.ndarray, same_role: float
) -> list[tuple[int, int]]:
    """The mention pairs (i < j, in that order) that may state one figure: of different
    articles reported within a day of each other (figures in a developing story change; an
    unknown time is given the benefit of the doubt), figures within ``_MAX_RATIO`` of each
    other (600,000 nationwide and 22,000 in one city count different things), and either in
    the same role (window cosine ``same_role``) or counting the same noun. Decided a block of
    rows at a time in numpy; the sentences' topic is left to the caller."""
    from storyline.stories.stream import epoch

    m = len(mentions)
    arts = {a: n for n, a in enumerate(dict.fromkeys(units[x.unit].article for x in mentions))}
    article = np.array([arts[units[x.unit].article] for x in mentions], dtype=np.int64)
    when = {u.article: epoch(u.published) for u in units}
    times = np.array(
        [np.nan if (t := when[units[x.unit].article]) is None else t for x in mentions],
        dtype=np.float64,
    )
    nouns = {w: n for n, w in enumerate(dict.fromkeys(x.noun for x in mentions if x.noun))}
    noun = np.array([nouns[x.noun] if x.noun else -1 for x in mentions], dtype=np.int64)
    value = np.array([x.value for x in mentions], dtype=np.float64)
    out: list[tuple[int, int]] = []
    for start in range(0, m, 1024):
        i = np.arange(start, min(m, start + 1024))[:, None]
        j = np.arange(m)[None, :]
        ti, tj = times[i], times[j]
        ok = (
            (j > i)
            & (article[i] != article[j])
            & (np.isnan(ti) | np.isnan(tj) | (np.abs(ti - tj) <= 86400.0))
            & ~(np.maximum(value[i], value[j]) > _MAX_RATIO * np.minimum(value[i], value[j]))
            & ((sims[start : start + 1024] >= same_role) | ((noun[i] >= 0) & (noun[i] == noun[j])))
        )
        rows, cols = np.nonzero(ok)
        out.extend(zip((rows + start).tolist(), cols.tolist(), strict=True))
    return out


def name_conflicts(units: list[Unit], sources: dict[str, Source]) -> list[dict[str, Any]]:
    groups: dict[int, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.group, []).append(u)
    # One disagreement per fact group and pair of names, each name with all its articles.
    found: dict[tuple[int, frozenset[str]], dict[str, Any]] = {}
    for g, members in groups.items():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                if sources[a.article].key == sources[b.article].key:
                    continue
                swapped = _one_name_swapped(a.text, b.text)
                if not swapped:
                    continue
                old, new, context = swapped
                entry = found.setdefault(
                    (g, frozenset((old, new))), {"fact": context, "kind": "name", "by_value": {}}
                )
                for name, unit in ((old, a), (new, b)):
                    value = entry["by_value"].setdefault(
                        name, {"articles": [], "sentence": unit.text}
                    )
                    if unit.article not in value["articles"]:
                        value["articles"].append(unit.article)
    out = []
    for entry in found.values():
        values = []
        for name, v in entry["by_value"].items():
            arts = sorted(v["articles"])
            outlets = sorted({sources[a].name for a in arts})
            values.append(
                {"value": name, "articles": arts, "outlets": outlets, "sentence": v["sentence"]}
            )
        out.append({"fact": entry["fact"], "kind": "name", "values": values})
    return out


def _one_name_swapped(a: str, b: str) -> tuple[str, str, str] | None:
    ta, tb = a.split(), b.split()
    ops = [
        op for op in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes() if op[0] != "equal"
    ]
    if len(ops) != 1 or ops[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = ops[0]
    old, new = " ".join(ta[i1:i2]), " ".join(tb[j1:j2])
    if i2 - i1 > 3 or j2 - j1 > 3 or i1 == 0:
        return None
    if not all(w[:1].isupper() for w in ta[i1:i2] + tb[j1:j2]):
        return None
    if i1 < 2 or i2 + 2 > len(ta):
        return None
    context = " ".join([*ta[i1 - 2 : i1], "…", *ta[i2 : i2 + 2]])
    return old.strip(".,;:"), new.strip(".,;:"), context


def conflicts(
    units: list[Unit], sources: dict[str, Source], embed: Embed | None
) -> list[dict[str, Any]]:
    return number_conflicts(units, sources, embed) + name_conflicts(units, sources)
