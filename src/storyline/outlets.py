"""Outlets: what each one publishes, copies and misses.

An article has two outlets that matter here:

- its **publisher**: the outlet it came from (its ``source``: metadata, the feed, the URL's
  domain); an article that names none has the outlet of its own dateline credit ("MOSCOW
  (Washington Insider Magazine) –"), else it is an unnamed outlet of its own;
- its **independent source**, as the digest counts facts (``digest.facts.sources_of``): the
  outlet credited by the root of its copy family ("Source: CNN", "(CPA) —"), else that root's
  publisher. Ten copies of one wire story are one source.

An article is a **copy** when the two differ: it is in another outlet's copy family, or it
credits another outlet as its source. So an outlet that is not in the corpus at all (CNN,
credited by a republisher) still appears, with no articles of its own, copied by those who
credit it. Copies never count as independent.

For each outlet: its articles and stories, the share of its articles that are copies and of
whom, who copies it, its **exclusives** (facts of the digests that only its copy family
states: one independent source, and it is this outlet; no sentence of another source in the
story comes within ``[digest] fact_min_cosine`` of it nor gives one of its figures) and its **blindspots** (stories at
least ``min_sources`` independent sources covered, in which neither it nor any copy of it
appears).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from storyline.alerts import _norm
from storyline.config import Settings
from storyline.digest.facts import _source_key
from storyline.store import Store

#: Credits that say whose story an article is (as the digest reads them), in order.
_STORY_CREDITS = ("source_line", "dateline", "byline")


@dataclass
class _Article:
    id: str
    title: str | None
    published: str | None
    story: str | None
    publisher: str  # outlet key
    source: str  # independent source key


_FIGURE = re.compile(
    r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|(?<![\w.,])\d+(?:\.\d+)?%|(?<![\w.,])\d{3,}(?:\.\d+)?"
)


def _figures(text: str) -> set[str]:
    """The specific numbers of a sentence (1,400; 6.5%; 380), not years nor small counts:
    the same figure in another source's sentence of the story is the same fact reported."""
    out = set()
    for m in _FIGURE.findall(text):
        if re.fullmatch(r"(1[89]|20)\d\d", m):
            continue  # a year
        out.add(m)
    return out


def _unnamed(article_id: str) -> tuple[str, str]:
    return f"article:{article_id}", f"unnamed outlet (article {article_id[:8]})"


class Outlets:
    """Every outlet of a store, read at once (a few columns per article, the digests' facts)."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.settings = settings
        self.min_sources = settings.outlets.blindspot_sources if settings else 3
        self._embedder: Any = None
        names: dict[str, Counter[str]] = defaultdict(Counter)
        rows = store.article_outlets()
        credit: dict[str, str] = {}
        for r in rows:
            for kind in _STORY_CREDITS:
                if r[kind]:
                    credit[r["id"]] = r[kind]
                    break
        publisher: dict[str, str] = {}
        for r in rows:
            named = r["source"] or r["dateline"]
            if named:
                key = _source_key(named) or named
                names[key][named] += 2 if r["source"] else 1
            else:
                key, name = _unnamed(r["id"])
                names[key][name] += 1
            publisher[r["id"]] = key
        self.articles: dict[str, _Article] = {}
        for r in rows:
            root = r["root"] or r["id"]
            if root in credit:
                key = _source_key(credit[root]) or credit[root]
                names[key][credit[root]] += 0  # known by name, even with no article of its own
            else:
                key = publisher.get(root, publisher[r["id"]])
            self.articles[r["id"]] = _Article(r["id"], r["title"], r["published"], r["story"],
                                              publisher[r["id"]], key)  # fmt: skip
        self.names = {k: c.most_common(1)[0][0] for k, c in names.items()}
        self._store = store

    def name(self, key: str) -> str:
        return self.names.get(key, key)

    def find(self, name: str) -> str:
        """An outlet's key from its name (any case and spelling the keys merge), or KeyError."""
        key = _source_key(name) or name
        if key in self.names:
            return key
        for k, shown in self.names.items():
            if shown.lower() == name.strip().lower() or k == name:
                return k
        raise KeyError(f"no outlet {name!r}; list them with `storyline outlets`")

    # -- the figures ------------------------------------------------------------------------
    @cached_property
    def _story_sources(self) -> dict[str, dict[str, set[str]]]:
        return self._stories()

    @cached_property
    def _exclusive_facts(self) -> dict[str, list[dict[str, Any]]]:
        """Worked out once per instance: every outlet's row and page reads them."""
        return self._exclusives()

    def _stories(self) -> dict[str, dict[str, set[str]]]:
        """Each story's publishers and independent sources."""
        out: dict[str, dict[str, set[str]]] = {}
        for a in self.articles.values():
            if a.story is None:
                continue
            st = out.setdefault(a.story, {"publishers": set(), "sources": set()})
            st["publishers"].add(a.publisher)
            st["sources"].add(a.source)
        return out

    def _exclusives(self) -> dict[str, list[dict[str, Any]]]:
        """Facts of every digest whose articles all have one independent source, by source.

        A fact that quotes words the digest's quotes find in other sources' articles is not
        exclusive, however differently those sources framed the quote (the fact groups keep
        "…," said X, a spokeswoman and "…," union spokeswoman X said apart)."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        found: list[tuple[str, str, dict[str, Any]]] = []
        for d in self._store.digests():
            quotes = [(_norm(q["text"]), q.get("articles", [])) for q in d.get("quotes", [])]
            for f in d.get("facts", []):
                arts = list(f["articles"])
                said = _norm(f["text"])
                for words, carried in quotes:
                    if len(words) >= 4 and f" {words} " in f" {said} ":
                        arts += carried
                keys = {self.articles[a].source for a in arts if a in self.articles}
                if len(keys) == 1:
                    (key,) = keys
                    found.append((key, d["story"], f))
        # Last, no other source may have a sentence the sentence model finds close enough
        # to be the same statement ([digest] fact_min_cosine: under it, never one fact).
        for key, sid, f in self._not_said_elsewhere(found):
            out[key].append({"story": sid, "fact": f.get("id"), "text": f["text"],
                             "articles": f["articles"]})  # fmt: skip
        return out

    def _not_said_elsewhere(
        self, found: list[tuple[str, str, dict[str, Any]]]
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        if self.settings is None:
            yield from found
            return
        import numpy as np

        members: dict[str, list[str]] = defaultdict(list)
        for a in self.articles.values():
            if a.story is not None:
                members[a.story].append(a.id)
        by_story: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for key, sid, f in found:
            by_story[sid].append((key, f))
        bound = self.settings.digest.fact_min_cosine
        for sid, facts in by_story.items():
            sentences = self._store.sentences_of(members[sid])
            for key, f in facts:
                others = [t for a, t in sentences if self.articles[a].source != key]
                if not others:
                    yield key, sid, f
                    continue
                texts = [f["text"], *(v["text"] for v in f.get("variants", []))]
                figures = set().union(*(_figures(t) for t in texts))
                if figures and any(figures & _figures(t) for t in others):
                    continue  # another source gives the same figure ("about 1,400 people")
                mine, theirs = self._vectors(texts), self._vectors(others)
                if float(np.max(mine @ theirs.T)) < bound:
                    yield key, sid, f

    def _vectors(self, texts: list[str]) -> Any:
        """Unit sentence vectors: the store's (the runs embedded them), the model's for any
        it lacks (not written back: this is a read)."""
        import numpy as np

        from storyline.embed import embedder_of, text_key

        if self._embedder is None:
            self._embedder = embedder_of(self.settings.embed)  # type: ignore[union-attr]
        keys = [text_key(t) for t in texts]
        stored = self._store.load_embeddings(self._embedder.name, keys)
        todo = [t for k, t in zip(keys, texts, strict=True) if k not in stored]
        fresh = (
            dict(zip((text_key(t) for t in todo), self._embedder.encode(todo), strict=True))
            if todo
            else {}
        )
        m = np.stack([np.asarray(stored.get(k, fresh.get(k)), dtype=np.float32) for k in keys])
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms == 0, 1, norms)

    def summary(self) -> list[dict[str, Any]]:
        """One row per outlet, most articles first."""
        stories = self._story_sources
        exclusives = self._exclusive_facts
        rows = []
        for key in self.names:
            rows.append(self._row(key, stories, exclusives, detail=False))
        rows.sort(key=lambda r: (-r["articles"], -r["copied_by_count"], r["name"].lower()))
        return rows

    def outlet(self, name: str) -> dict[str, Any]:
        """One outlet in full: its articles, copies, who copies it, exclusives, blindspots."""
        return self._row(self.find(name), self._story_sources, self._exclusive_facts, detail=True)

    def _row(
        self,
        key: str,
        stories: dict[str, dict[str, set[str]]],
        exclusives: dict[str, list[dict[str, Any]]],
        detail: bool,
    ) -> dict[str, Any]:
        own = [a for a in self.articles.values() if a.publisher == key]
        copies = [a for a in own if a.source != key]
        copied = [a for a in self.articles.values() if a.source == key and a.publisher != key]
        covered = {a.story for a in own if a.story} | {a.story for a in copied if a.story}
        blind = [
            sid
            for sid, st in stories.items()
            if len(st["sources"]) >= self.min_sources
            and key not in st["publishers"]
            and key not in st["sources"]
        ]
        of_whom = Counter(self.name(a.source) for a in copies)
        by_whom = Counter(self.name(a.publisher) for a in copied)
        row: dict[str, Any] = {
            "key": key,
            "name": self.name(key),
            "articles": len(own),
            "in_corpus": bool(own),
            "stories": len({a.story for a in own if a.story}),
            "copies": len(copies),
            "copy_share": round(len(copies) / len(own), 4) if own else None,
            "copies_of": dict(of_whom.most_common()),
            "copied_by": dict(by_whom.most_common()),
            "copied_by_count": len(copied),
            "exclusives": len(exclusives.get(key, [])),
            "blindspots": len(blind),
        }
        if not detail:
            return row
        headlines = {s["id"]: s for s in self._store.stories_by_ids(sorted(covered | set(blind)))}

        def brief(a: _Article) -> dict[str, Any]:
            return {"id": a.id, "title": a.title, "published": a.published, "story": a.story}

        row["article_list"] = [
            {**brief(a), "copy_of": None if a.source == key else self.name(a.source)}
            for a in sorted(own, key=lambda a: (a.published or "", a.id))
        ]
        row["copied_by_list"] = [
            {**brief(a), "outlet": self.name(a.publisher)}
            for a in sorted(copied, key=lambda a: (a.published or "", a.id))
        ]
        row["story_list"] = [
            {"id": sid, "headline": (headlines.get(sid) or {}).get("headline")}
            for sid in sorted(covered)
        ]
        row["exclusive_list"] = exclusives.get(key, [])
        row["blindspot_list"] = [
            {
                "id": sid,
                "headline": (headlines.get(sid) or {}).get("headline"),
                "independent_sources": sorted(self.name(k) for k in stories[sid]["sources"]),
            }
            for sid in sorted(blind, key=lambda s: (-len(stories[s]["sources"]), s))
        ]
        row["min_sources"] = self.min_sources
        return row
