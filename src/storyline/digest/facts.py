"""Fact groups: sentences of different articles of one story that state the same thing.

Pairs of sentences from different articles that share enough content words are scored by
the reuse stage's "same statement?" model (trained on MRPC, ``storyline.reuse.decision``);
only the sentences of pairs whose words do not rule them out are embedded, and a pair under
``min_cosine`` is never one fact (``storyline.reuse.lexical``). A pair it accepts is an edge. Groups grow by
average linkage over those edges — two groups join only when at least half of their
cross pairs are edges, and never so that one article appears twice in a group — so one
loose paraphrase cannot chain two different facts together.

A group's independent sources are counted through the copy families of the reuse stage:
every article stands for its family's root (a duplicate or spun rewrite counts for its
original), and a root that credits another outlet as its source ("Source: CNN", a wire
dateline) counts for that outlet. Ten copies of one wire story are one source.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storyline.digest.units import DigestDoc, Unit
from storyline.reuse.decision import Decision, load_decision

Embed = Callable[[list[str]], np.ndarray]

_MIN_FACT_WORDS = 5
#: How candidate pairs are chosen and scored; stored scores and digests of another are redone.
SCHEME = "lexical-gate-1"
#: The stories whose sentence partners are stored (``Partners``): searching a story's
#: sentences among each other costs with the square of their number, and a small one's
#: partners are found again at less cost than storing them.
PARTNERS_MIN_UNITS = 2000
#: Sentences whose partners are searched in one sparse product.
_ROWS_AT_ONCE = 1024
#: How many partners of each sentence are kept (the most a story's ``top`` can be).
_KEEP_TOP = 64


@dataclass
class Source:
    """One independent source: the key counted once, and the name shown."""

    key: str
    name: str


def _source_key(name: str) -> str:
    """Outlet names as written vary ("NBC NEWS", "NBC News", "Continental Press Agency (CPA)")."""
    abbrev = re.search(r"\(([A-Z][A-Za-z&.]{1,9})\)\s*$", name)
    if abbrev:
        name = abbrev.group(1)
    name = re.sub(r"^the\s+", "", name.strip(), flags=re.I)
    return re.sub(r"[^\w]+", " ", name.lower()).strip()


def sources_of(docs: list[DigestDoc], roots: dict[str, str]) -> dict[str, Source]:
    """Each article's independent source: its family root's credited outlet, else the root's
    outlet, else the root itself (an article with no outlet is its own source)."""
    by_id = {d.id: d for d in docs}
    out: dict[str, Source] = {}
    for d in docs:
        root = by_id.get(roots.get(d.id, d.id), d)
        name = root.credit or root.source
        if name:
            out[d.id] = Source(_source_key(name), name)
        else:
            out[d.id] = Source(f"article:{root.id}", f"article {root.id[:8]}")
    return out


def source_names(articles: list[str], sources: dict[str, Source]) -> list[str]:
    """The independent sources behind some articles, each once (by key, so "NBC NEWS" and
    "NBC News" are one name), in article order."""
    seen: dict[str, str] = {}
    for a in articles:
        seen.setdefault(sources[a].key, sources[a].name)
    return list(seen.values())


def copies_of(roots: dict[str, str]) -> set[str]:
    """Articles that are copies in a family (every member but the root)."""
    return {a for a, r in roots.items() if a != r}


@dataclass
class FactGroup:
    id: int
    members: list[Unit] = field(default_factory=list)


@dataclass
class Partners:
    """Each long-enough sentence's best ``depth`` partners in a story's last digest
    (``_candidates``): the story's units by key (article, position and text; in story order),
    and per entry the positions of the sentence (``rows``) and its partner (``others``) among
    them, with the rank that chose the partner. A story that gained articles searches the
    partners of its new sentences among all, and those of its old sentences among the new ones
    only: an old sentence's partners are its best among its old partners and the new sentences."""

    depth: int
    units: np.ndarray  # uint64
    rows: np.ndarray  # int32
    others: np.ndarray  # int32
    ranks: np.ndarray  # float32: as ``storyline.reuse.lexical.overlap`` computes it


@dataclass
class PairScores:
    """The scores of a story's candidate sentence pairs: ``known`` (sorted uint64 pair keys
    and their scores, from the story's last digest) is read, ``made`` holds every candidate
    pair of this digest, to be stored for the next. A pair's score depends only on its two
    texts and their cosine (the same vectors give the same cosine), so a story that gained
    an article scores only the pairs it has not scored before. Likewise ``partners`` (of the
    stories its articles were in) and ``partners_made`` (see ``Partners``)."""

    known: tuple[np.ndarray, np.ndarray] | None = None
    made: tuple[np.ndarray, np.ndarray] | None = None
    scored: int = 0  # pairs scored this time (the rest came from ``known``)
    partners: list[Partners] = field(default_factory=list)
    partners_made: Partners | None = None
    searched: int = 0  # sentences whose partners were searched among the whole story


def _text_keys(texts: list[str]) -> np.ndarray:
    from storyline.embed import text_key

    return np.array([int.from_bytes(text_key(t)[:8], "little") for t in texts], dtype=np.uint64)


def _pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An order-free 64-bit key of each pair of text keys."""
    from storyline.reuse.fingerprint import mix64

    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return mix64(mix64(lo) ^ hi)


def _unit_keys(units: list[Unit]) -> np.ndarray:
    import hashlib

    return np.array(
        [int.from_bytes(hashlib.blake2b(f"{u.article}\x00{u.index}\x00{u.text}".encode(
            "utf-8", "surrogatepass"), digest_size=8).digest(), "little") for u in units],
        dtype=np.uint64,
    )  # fmt: skip


def _resume(prior: list[Partners], keys: np.ndarray, depth: int) -> tuple[Partners, np.ndarray]:
    """The largest of ``prior`` (searched as deep) whose units are all among ``keys`` and in
    the same order, and where its units are now; else nothing to resume (an empty start)."""
    where = {k: n for n, k in enumerate(keys.tolist())}
    for p in sorted(prior, key=lambda p: -len(p.units)):
        at = [where.get(k, -1) for k in p.units.tolist()]
        pos = np.array(at, dtype=np.int64)
        if p.depth == depth and len(pos) and (pos >= 0).all() and (np.diff(pos) > 0).all():
            return p, pos
    none = np.zeros(0, dtype=np.int64)
    return Partners(depth, keys[:0], none, none, np.zeros(0, dtype=np.float32)), none


def _candidates(
    units: list[Unit], top: int, min_overlap: float, prior: list[Partners] | None = None
) -> tuple[list[tuple[int, int]], Partners, int]:
    """Pairs (i < j) of long-enough sentences of different articles that share enough
    content words: each sentence's ``top`` partners by the cosine of their content-word
    stems (ties: the earlier). Also the partners found, ``_KEEP_TOP`` deep whatever ``top``
    (the first ``top`` of a sentence's deeper list are its ``top``; a story's ``top`` grows
    with its articles), to resume from (``prior``: the same pairs as searching all, tested),
    and how many sentences were searched among all."""
    from storyline.reuse.lexical import best_per_row, overlap, stem_matrix

    n = len(units)
    depth = max(top, _KEEP_TOP)
    long_enough = np.array([u.words >= _MIN_FACT_WORDS for u in units])
    article = np.array([hash(u.article) for u in units])
    keys = _unit_keys(units)
    start, at = _resume(prior or [], keys, depth)
    old = np.zeros(n, dtype=bool)
    old[at] = True
    # The old sentences' partners so far: their last ones, positions now.
    kept = (at[start.rows], at[start.others], start.ranks.astype(np.float64))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    met: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    search = np.flatnonzero(~old & long_enough)
    matrix, sizes = stem_matrix([u.text if u.words >= _MIN_FACT_WORDS else "" for u in units])
    for first in range(0, len(search), _ROWS_AT_ONCE):
        rows = search[first : first + _ROWS_AT_ONCE]
        i, j, coef, rank = overlap(matrix[rows], sizes[rows], matrix, sizes)
        i = rows[i]
        keep = (coef >= min_overlap) & (article[i] != article[j]) & long_enough[i] & long_enough[j]
        i, j, rank = i[keep], j[keep], rank[keep]
        best = best_per_row(i, j, rank, depth)
        found.append((i[best], j[best], rank[best]))
        back = old[j]  # old sentences meet new ones: their best of these, for now
        ri, rj, rr = j[back], i[back], rank[back]
        best = best_per_row(ri, rj, rr, depth)
        met.append((ri[best], rj[best], rr[best]))
    if met:  # the old sentences' best of their old partners and the new sentences
        ri, rj, rr = (np.concatenate(x) for x in zip(kept, *met, strict=True))
        best = best_per_row(ri, rj, rr, depth)
        kept = (ri[best], rj[best], rr[best])
    found.append(kept)
    rows_, others, ranks = (np.concatenate(x) for x in zip(*found, strict=True))
    order = np.lexsort((others, rows_))
    rows_, others, ranks = rows_[order], others[order], ranks[order]
    best = best_per_row(rows_, others, ranks, top)
    lo, hi = np.minimum(rows_, others)[best].tolist(), np.maximum(rows_, others)[best].tolist()
    made = Partners(depth, keys, rows_.astype(np.int32), others.astype(np.int32),
                    ranks.astype(np.float32))  # fmt: skip
    return sorted(set(zip(lo, hi, strict=True))), made, len(search)


def _edges(
    units: list[Unit],
    embed: Embed,
    decision: Decision,
    min_cosine: float,
    top: int = 8,
    cache: PairScores | None = None,
    min_overlap: float | None = None,
) -> dict[tuple[int, int], float]:
    """Accepted "same statement" pairs (i < j) between sentences of different articles.

    Candidates share enough content words (``storyline.reuse.lexical``); a pair the model
    rejects at any cosine from ``min_cosine`` up needs no embedding; the others have their
    sentences embedded (``Unit.vector``) and are scored at their cosine, those under
    ``min_cosine`` never one fact. The accepted pairs are those that scoring every candidate
    at its cosine accepts (tested). With ``cache``, pairs scored
    before are not scored again (see ``PairScores``)."""
    from storyline.reuse.lexical import MIN_OVERLAP, lexical_scores

    ordered, partners, searched = _candidates(
        units, top, MIN_OVERLAP if min_overlap is None else min_overlap,
        cache.partners if cache is not None else None,
    )  # fmt: skip
    if cache is not None:
        cache.partners_made, cache.searched = partners, searched
    if not ordered:
        return {}
    probs = np.zeros(len(ordered), dtype=np.float64)
    todo = np.ones(len(ordered), dtype=bool)
    keys = np.zeros(0, dtype=np.uint64)
    if cache is not None:
        text_keys = _text_keys([u.text for u in units])
        idx = np.array(ordered, dtype=np.int64)
        keys = _pair_keys(text_keys[idx[:, 0]], text_keys[idx[:, 1]])
        if cache.known is not None and len(cache.known[0]):
            known_keys, known_scores = cache.known
            at = np.minimum(np.searchsorted(known_keys, keys), len(known_keys) - 1)
            hit = known_keys[at] == keys
            probs[hit] = known_scores[at[hit]]
            todo = ~hit
    scoring = [ordered[x] for x in np.flatnonzero(todo)]
    if scoring:
        lex = lexical_scores(
            [(units[i].text, units[j].text) for i, j in scoring], decision, min_cosine
        )
        sure = np.zeros(len(scoring), dtype=np.float64)
        at = np.flatnonzero(~lex.rejected(min_cosine))
        rows = sorted({x for n in at for x in scoring[n]})
        if rows:
            vectors = np.asarray(embed([units[r].text for r in rows]), dtype=np.float32)
            for r, v in zip(rows, vectors, strict=True):
                units[r].vector = v
            cosines = np.array(
                [float(np.dot(units[scoring[n][0]].vector, units[scoring[n][1]].vector))  # type: ignore[arg-type]
                 for n in at]
            )  # fmt: skip
            sure[at] = np.where(cosines >= min_cosine, lex.take(at).probability(cosines), 0.0)
        probs[todo] = sure
    if cache is not None:
        order = np.argsort(keys, kind="stable")
        cache.made = (keys[order], probs[order])
        cache.scored = len(scoring)
    return {
        pair: float(p) for pair, p in zip(ordered, probs, strict=True) if p >= decision.threshold
    }


def _group(n: int, units: list[Unit], edges: dict[tuple[int, int], float]) -> list[list[int]]:
    """Average linkage over accepted edges (a missing edge counts as no link), starting from
    groups of word-for-word identical sentences (forty outlets running one wire sentence state
    one fact, however few of their pairs were scored)."""
    groups: dict[int, list[int]] = {}
    where = list(range(n))
    first_of: dict[str, int] = {}
    for i in range(n):
        key = " ".join(re.findall(r"\w+", units[i].text.lower()))
        g = first_of.setdefault(key, i) if units[i].words >= _MIN_FACT_WORDS else i
        if g != i and units[i].article not in {units[x].article for x in groups[g]}:
            groups[g].append(i)
            where[i] = g
        else:
            groups[i] = [i]
    for members in list(groups.values()):
        for x in members:
            for y in members:
                if x < y:
                    edges.setdefault((x, y), 1.0)
    for (i, j), _p in sorted(edges.items(), key=lambda kv: -kv[1]):
        gi, gj = where[i], where[j]
        if gi == gj:
            continue
        a, b = groups[gi], groups[gj]
        if {units[x].article for x in a} & {units[y].article for y in b}:
            continue
        linked = sum(1 for x in a for y in b if (min(x, y), max(x, y)) in edges)
        if linked * 2 < len(a) * len(b):
            continue
        keep, drop = (gi, gj) if gi < gj else (gj, gi)
        groups[keep] = sorted(groups[keep] + groups[drop])
        for x in groups[drop]:
            where[x] = keep
        del groups[drop]
    return sorted(groups.values(), key=lambda g: g[0])


def story_units(
    docs: list[DigestDoc],
    roots: dict[str, str] | None = None,
    embed: Embed | None = None,
    decision: Decision | None = None,
    min_cosine: float = 0.55,
    scores: PairScores | None = None,
) -> list[Unit]:
    """Every sentence of the story as a Unit, with its fact group, the articles stating the
    fact and how many independent sources stand behind it (``scores``: see ``PairScores``)."""
    roots = roots or {}
    texts = [s for d in docs for s in d.sentences]
    if not texts:
        return []
    units: list[Unit] = []
    copies = copies_of(roots)
    for d in docs:
        for i, s in enumerate(d.sentences):
            units.append(
                Unit(s, d.id, i, len(units), [d.id], 1, d.id in copies, d.published, None,
                     len(d.sentences))
            )  # fmt: skip
    if embed is None:
        return units
    # Each sentence is scored against its closest neighbours by shared words; as many as
    # there are articles (within reason), so a fact that every article states can gather
    # them all.
    top = min(64, max(8, len(docs)))
    edges = _edges(units, embed, decision or load_decision(), min_cosine, top, scores)
    sources = sources_of(docs, roots)
    for g, members in enumerate(_group(len(units), units, edges)):
        articles = sorted({units[m].article for m in members})
        count = len({sources[a].key for a in articles})
        for m in members:
            units[m].group = g
            units[m].articles = articles
            units[m].sources = count
    return units


# -- attribution ---------------------------------------------------------------------------

_ACCORDING = re.compile(r"\b(?:according to|as quoted by|citing)\s+((?:the\s+)?[^,;.:]+)", re.I)
_SAID_BY = re.compile(
    r"(?:^|[,;]\s*|\band\s+)((?:the\s+)?[A-Z][\w.’'-]*(?:\s+[\w.’'-]+){0,6}?)"
    r"\s+(?:has\s+|have\s+|had\s+)?(?:repeatedly\s+|also\s+)?"
    r"(?:said|says|say|denied|denies|deny|claimed|claims|reported|reports|told|stated|states|"
    r"announced|confirmed|estimated|estimates|warned)\b"
)
_NOT_SOURCES = frozenset("he she it they we i you his her this that there the officials".split())


def attribution(text: str) -> str | None:
    """Whom a sentence attributes its claim to, when it says so."""
    m = _ACCORDING.search(text)
    if m:
        who = m.group(1).strip()
        return who if who.lower() not in _NOT_SOURCES else None
    m = _SAID_BY.search(text)
    if m:
        who = m.group(1).strip()
        if who.split()[0].lower() not in _NOT_SOURCES or len(who.split()) > 1:
            return re.sub(r"^(?:The|the)\s+", "the ", who)
    return None


# -- the facts list --------------------------------------------------------------------------


def facts(
    units: list[Unit], docs: list[DigestDoc], roots: dict[str, str], limit: int = 200
) -> list[dict[str, Any]]:
    """Fact groups stated by two or more articles, most independent sources first."""
    by_id = {d.id: d for d in docs}
    sources = sources_of(docs, roots)
    groups: dict[int, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.group, []).append(u)
    out: list[dict[str, Any]] = []
    for members in groups.values():
        if len({u.article for u in members}) < 2:
            continue
        ordered = sorted(members, key=lambda u: (_time(by_id[u.article]), u.article))
        originals = [u for u in ordered if not u.is_copy] or ordered
        first = originals[0]
        first_doc = by_id[first.article]
        wordings: dict[str, list[str]] = {}
        for u in ordered:
            wordings.setdefault(" ".join(u.text.split()), []).append(u.article)
        text = " ".join(first.text.split())
        attributions = [a for a in (attribution(u.text) for u in ordered) if a]
        names = source_names(members[0].articles, sources)
        out.append(
            {
                "text": text,
                "articles": [u.article for u in ordered],
                "sources": members[0].sources,
                "outlets": names,
                "first": {
                    "article": first.article,
                    "outlet": sources[first.article].name,
                    "published": first_doc.published,
                },
                "attribution": attributions[0] if attributions else None,
                "attributions": sorted(set(attributions), key=attributions.index),
                "variants": [
                    {"text": t, "articles": arts} for t, arts in wordings.items() if t != text
                ],
                "_order": (-members[0].sources, -len(members), _time(first_doc), first.index),
            }
        )
    out.sort(key=lambda f: f["_order"])
    for n, f in enumerate(out[:limit], 1):
        del f["_order"]
        f["id"] = f"f{n}"
    return out[:limit]


def _time(doc: DigestDoc) -> str:
    return doc.published or "9999"
