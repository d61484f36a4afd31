"""Stable story ids across runs, users' corrections, and what each story shows.

Every run clusters all articles again (batch mode gives the same stories for the same
articles whatever the file order), then carries the ids over from the last run:

* oldest story first, an old id goes to the new story that holds most of its articles
  (if that story has no id yet) — so a story that only grows keeps its id, and when two
  stories merge the older id survives;
* an old id that found no story of its own becomes an alias of the story that holds most
  of its articles (aliases still resolve);
* a story with no old id gets a new one, from its first article: ``s-<article id>``.

Users' corrections are kept as constraints on articles, applied after clustering in the
order they were made: ``merge`` keeps a set of articles together, ``split`` sets a set of
articles apart as a story of their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any


def apply_overrides(
    groups: list[list[str]], overrides: Iterable[dict[str, Any]]
) -> list[list[str]]:
    """Groups (lists of article ids) after the users' merges and splits."""
    story_of = {a: n for n, g in enumerate(groups) for a in g}
    sets: dict[int, set[str]] = {n: set(g) for n, g in enumerate(groups)}
    next_n = len(groups)
    for o in overrides:
        present = [a for a in o["articles"] if a in story_of]
        if not present:
            continue
        if o["kind"] == "merge":
            target = story_of[present[0]]
            for a in present[1:]:
                src = story_of[a]
                if src == target:
                    continue
                for b in sets.pop(src):
                    story_of[b] = target
                    sets[target].add(b)
        elif o["kind"] == "split":
            for a in present:
                sets[story_of[a]].discard(a)
            sets[next_n] = set(present)
            for a in present:
                story_of[a] = next_n
            next_n += 1
    return [sorted(s) for s in sets.values() if s]


def carry_ids(
    groups: list[list[str]],
    previous: dict[str, list[str]],
    order: dict[str, int],
    age: dict[str, int],
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Ids for the new groups, and new aliases (old id -> surviving id).

    ``order`` ranks articles canonically (for new ids), ``age`` ranks old story ids
    (lower is older).
    """
    group_of = {a: n for n, g in enumerate(groups) for a in g}
    named: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for old in sorted(previous, key=lambda s: (age.get(s, 0), s)):
        where = Counter(group_of[a] for a in previous[old] if a in group_of)
        if not where:
            continue
        best = min(where, key=lambda n: (-where[n], n))
        if best not in named:
            named[best] = old
    ids: dict[int, str] = dict(named)
    taken = set(named.values())
    for n, members in enumerate(groups):
        if n in ids:
            continue
        sid = "s-" + min(members, key=lambda a: order.get(a, 0))
        while sid in taken:  # a new id colliding with a kept one (rare)
            sid += "+"
        ids[n] = sid
        taken.add(sid)
    result = {
        ids[n]: sorted(members, key=lambda a: order.get(a, 0)) for n, members in enumerate(groups)
    }
    for old, members in previous.items():
        if old in taken:
            continue
        where = Counter(group_of[a] for a in members if a in group_of)
        if where:
            aliases[old] = ids[min(where, key=lambda n: (-where[n], n))]
    return result, aliases
