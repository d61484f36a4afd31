"""Conflicts: independent sources that disagree on a number or a name for the same fact.

Numbers: every number a sentence states (not years, dates or clock times) is a mention,
read with the words around it and the number itself masked ("destroyed # homes,
officials said"). Two mentions from different independent sources are about the same
quantity when those masked windows mean the same (embedding cosine at least
``same_role``) and their sentences are about the same thing (cosine at least
``same_topic``); mentions joined that way that carry different values are a conflict, and
each value is listed with the articles and outlets behind it.

Names: within one fact group, two independent sources' wordings that differ in exactly
one proper name with the same words on both sides ("Premier Drouart" / "Premier Dupont")
name different people for the same fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from storyline.digest.facts import Source
from storyline.digest.units import Unit

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
_SCALE = {"million": 1e6, "billion": 1e9, "thousand": 1e3}


@dataclass
class Mention:
    unit: int  # index into the units
    value: float
    shown: str  # the number as written
    window: str  # the words around it, the number masked


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
            value *= _SCALE.get(scale, 1.0)
            if value in (0.0, 1.0):
                continue
            left = text[: m.start()].split()[-6:]
            right = text[m.end() :].split()[:6]
            window = " ".join([*left, "#", *right])
            out.append(Mention(n, value, m.group(0).strip(), window))
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
    sims = windows @ windows.T
    parent = list(range(len(mentions)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(len(mentions)):
        ui = units[mentions[i].unit]
        for j in range(i + 1, len(mentions)):
            uj = units[mentions[j].unit]
            if ui.article == uj.article or sims[i, j] < same_role:
                continue
            if (
                ui.vector is not None
                and uj.vector is not None
                and float(ui.vector @ uj.vector) < same_topic
            ):
                continue
            parent[find(j)] = find(i)
    clusters: dict[int, list[int]] = {}
    for i in range(len(mentions)):
        clusters.setdefault(find(i), []).append(i)
    out = []
    for members in clusters.values():
        by_value: dict[float, list[Mention]] = {}
        for i in members:
            by_value.setdefault(mentions[i].value, []).append(mentions[i])
        if len(by_value) < 2:
            continue
        keys = {
            v: {sources[units[m.unit].article].key for m in ms} for v, ms in by_value.items()
        }
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


def name_conflicts(units: list[Unit], sources: dict[str, Source]) -> list[dict[str, Any]]:
    groups: dict[int, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.group, []).append(u)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                if sources[a.article].key == sources[b.article].key:
                    continue
                found = _one_name_swapped(a.text, b.text)
                if found:
                    old, new, context = found
                    out.append(
                        {
                            "fact": context,
                            "kind": "name",
                            "values": [
                                {"value": old, "articles": [a.article],
                                 "outlets": [sources[a.article].name], "sentence": a.text},
                                {"value": new, "articles": [b.article],
                                 "outlets": [sources[b.article].name], "sentence": b.text},
                            ],
                        }
                    )  # fmt: skip
    return out


def _one_name_swapped(a: str, b: str) -> tuple[str, str, str] | None:
    ta, tb = a.split(), b.split()
    ops = [op for op in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes() if op[0] != "equal"]
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
