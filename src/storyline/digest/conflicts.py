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
    from storyline.stories.stream import epoch

    times = {u.article: epoch(u.published) for u in units}
    linked: dict[tuple[int, int], float] = {}
    for i in range(len(mentions)):
        ui = units[mentions[i].unit]
        for j in range(i + 1, len(mentions)):
            uj = units[mentions[j].unit]
            if ui.article == uj.article or not _same_time(times[ui.article], times[uj.article]):
                continue
            topic = (
                float(ui.vector @ uj.vector)
                if ui.vector is not None and uj.vector is not None
                else 1.0
            )
            same_noun = mentions[i].noun and mentions[i].noun == mentions[j].noun
            vi, vj = mentions[i].value, mentions[j].value
            # Figures far apart (600,000 nationwide, 22,000 in one city) count different things.
            if max(vi, vj) > _MAX_RATIO * min(vi, vj):
                continue
            if topic >= same_topic and (sims[i, j] >= same_role or same_noun):
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


def _same_time(ta: float | None, tb: float | None, days: float = 1.0) -> bool:
    """Figures in a developing story change; only reports within a day of each other that
    disagree are a conflict (unknown times are given the benefit of the doubt)."""
    return ta is None or tb is None or abs(ta - tb) <= days * 86400


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
