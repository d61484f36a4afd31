"""What the pages and the API read, from the library: no SQL and no algorithm here.

``Site`` holds a few :class:`~storyline.corpus.Corpus` connections for the server's worker
threads (one thread at a time on each) and returns report.json-shaped dicts. Each read runs in
one SQLite read transaction, so a page sees the store as one run's commit left it, never a
story half written by a run going on in another process.
"""

from __future__ import annotations

import json
import queue
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from storyline.config import Settings
from storyline.corpus import Corpus
from storyline.report.build import article_entry
from storyline.report.views import compare_view, story_view

__all__ = ["Site"]

#: Sort orders of the stories page.
SORTS = ("newest", "biggest", "sources")


def _link_entry(link: dict[str, Any]) -> dict[str, Any]:
    """A stored link under report.json's field names (the store's own a/b keys dropped)."""
    return {k: v for k, v in link.items() if k not in ("a", "b")}


class Site:
    """The corpus as the web app sees it: read methods, and ``ingest`` when allowed.

    Reads go through a pool of up to ``readers`` connections, one thread at a time on each,
    so the server's worker threads read in parallel (SQLite gives up the GIL while it works);
    each connection keeps its own caches, checked against its own ``data_version``. Writes
    (ingest) have a connection of their own and one writer at a time. Two readers by default:
    measured with ``benchmarks/serve_load.py`` on 10,000 articles and 2 cores, searches (the
    slowest pages, mostly SQLite's time) answer a third more per second than through one
    connection; with four, the pages that are mostly Python's time (templates, JSON) wait on
    each other for the GIL and their p99 nearly doubles.
    """

    def __init__(self, db: str | Path, settings: Settings | None = None, readers: int = 2) -> None:
        self.db, self.settings = db, settings
        self.corpus = Corpus(db, settings)  # the writer's
        self.lock = threading.RLock()  # the writer's lock
        self.readers = 1 if str(db) == ":memory:" else max(1, readers)
        self._idle: queue.LifoQueue[Corpus] = queue.LifoQueue()
        self._opened: list[Corpus] = []
        self._room = threading.BoundedSemaphore(self.readers)
        self._mine = threading.local()  # a thread's connection, while it reads
        self._caches: dict[int, dict[str, Any]] = {}

    def _cached(self, c: Corpus, name: str, make: Any) -> Any:
        """``make(c)``, kept per connection until the store changes: SQLite's data_version
        moves with other connections' commits, total_changes with this one's own."""
        db = c.store.db
        version = (int(db.execute("PRAGMA data_version").fetchone()[0]), db.total_changes)
        cache = self._caches.setdefault(id(c), {})
        if name not in cache or cache[name][0] != version:
            cache[name] = (version, make(c))
        return cache[name][1]

    def _all_stories(self, c: Corpus) -> list[dict[str, Any]]:
        """Every story, read again only when the store changed."""
        return self._cached(c, "stories", lambda c: c.stories())

    def _reader(self) -> Corpus:
        self._room.acquire()  # at most ``readers`` connections busy at once
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        try:
            c = Corpus(self.db, self.settings)
        except BaseException:
            self._room.release()
            raise
        self._opened.append(c)
        return c

    @contextmanager
    def _locked(self, snapshot: bool = True) -> Iterator[Corpus]:
        """A corpus for this thread alone: for reading, a pooled connection in one read
        transaction; with ``snapshot`` off, the writer's connection under the writer's lock."""
        held = getattr(self._mine, "corpus", None)
        if held is not None:  # a read within a read: the same connection and transaction
            yield held
            return
        if not snapshot or self.readers == 1:
            with self.lock:
                yield from self._transaction(self.corpus, snapshot)
            return
        c = self._reader()
        self._mine.corpus = c
        try:
            yield from self._transaction(c, snapshot)
        finally:
            self._mine.corpus = None
            self._idle.put(c)
            self._room.release()

    def _transaction(self, c: Corpus, snapshot: bool) -> Iterator[Corpus]:
        db = c.store.db
        if not snapshot or db.in_transaction:
            yield c
            return
        db.execute("BEGIN")
        try:
            yield c
        finally:
            db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            for c in self._opened:
                c.close()
            self._opened.clear()
            self.corpus.close()

    # -- stories ------------------------------------------------------------------------
    def outlets(self) -> list[str]:
        with self._locked() as c:
            return sorted({o for s in self._all_stories(c) for o in s.get("outlets") or []})

    def stories(
        self,
        outlet: str | None = None,
        since: str | None = None,
        until: str | None = None,
        sort: str = "newest",
    ) -> list[dict[str, Any]]:
        """Stories filtered by outlet and by date (ISO dates; a story counts when it overlaps)."""
        with self._locked() as c:
            rows = list(self._all_stories(c))
        if outlet:
            rows = [s for s in rows if outlet in (s.get("outlets") or [])]
        if since:
            rows = [s for s in rows if (s.get("last_seen") or "") >= since]
        if until:
            end = until + "\uffff"  # a bare date includes the whole day
            rows = [s for s in rows if s.get("first_seen") and s["first_seen"] <= end]
        if sort == "biggest":
            rows.sort(key=lambda s: (-s["article_count"], -s["independent_sources"], s["id"]))
        elif sort == "sources":
            rows.sort(key=lambda s: (-s["independent_sources"], -s["article_count"], s["id"]))
        return rows

    def story(self, story_id: str) -> dict[str, Any]:
        """One story (KeyError when unknown), with its digest when one has been made."""
        with self._locked() as c:
            st = c.story(story_id)
            return {**st, "digest": self._digest(c, st["id"])}

    @staticmethod
    def _digest(c: Corpus, story_id: str) -> dict[str, Any] | None:
        # The digest stage may not exist in this store's version: no digest, not an error.
        digest = getattr(c, "digest", None)
        if digest is None:
            return None
        try:
            found = digest(story_id)
        except (KeyError, LookupError):
            return None
        return found if isinstance(found, dict) else None

    def story_page(self, story_id: str) -> dict[str, Any]:
        """A story_view of one story: digest with citations, timeline, copy families."""
        with self._locked() as c:
            st = c.story(story_id)
            articles = c.store.briefs(st["articles"])
            # Only what the page shows: links among the story's articles, and their families.
            roots = c.store.families_of(st["articles"])
            links = [
                _link_entry(ln)
                for ln in c.store.links_of(st["articles"], both=True, evidence=False)
            ]
            digest = self._digest(c, st["id"])
        families: dict[str, list[str]] = {}
        for member, root in sorted(roots.items()):
            families.setdefault(root, []).append(member)
        groups = [{"root": r, "articles": m} for r, m in sorted(families.items())]
        return story_view(st, articles, links, groups, digest)

    def story_articles(self, story_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A story and its articles (full entries, newest first) for the Atom feed."""
        with self._locked() as c:
            st = c.story(story_id)
            arts = [article_entry(c.article(aid)) for aid in st["articles"]]
        arts.sort(key=lambda a: a["published"] or "", reverse=True)
        return st, arts

    # -- articles, links, comparisons -----------------------------------------------------
    def article(self, article_id: str) -> dict[str, Any]:
        """One article as in report.json, plus its story and the links it is part of."""
        with self._locked() as c:
            art = c.article(article_id)
            entry = article_entry(art)
            entry["sentence_list"] = [s.text for s in art.sentences]
            entry["links"] = [_link_entry(ln) for ln in c.store.links_of([art.id])]
            entry["story"] = c.store.story_of(art.id)
        return entry

    def titles(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._locked() as c:
            out = {}
            for aid in ids:
                a = c.store.get_article(aid, full=False)
                if a is not None:
                    out[aid] = {"id": aid, "title": a.title, "source": a.source}
            return out

    def links(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._locked() as c:
            return [_link_entry(ln) for ln in c.links(kind)]

    def compare(self, a: str, b: str) -> dict[str, Any]:
        """Two articles aligned (KeyError for an unknown id, ValueError for the same one twice)."""
        with self._locked() as c:
            if c.article(a).id == c.article(b).id:
                raise ValueError("compare two different articles, not one with itself")
            return _link_entry(c.compare(a, b))

    def compare_page(self, a: str, b: str) -> dict[str, Any]:
        return compare_view(self.compare(a, b))

    # -- search -------------------------------------------------------------------------
    def search(self, query: str, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """Articles matching ``query`` (title and clean text), each with its story id."""
        with self._locked() as c:
            found = c.search(query, limit, offset, mark=("\x02", "\x03"))
        for h in found["results"]:
            h["marked_snippet"] = h["snippet"]
            h["snippet"] = h["snippet"].replace("\x02", "").replace("\x03", "")
        return {**found, "limit": limit, "offset": offset}

    # -- ingest -------------------------------------------------------------------------
    # -- outlets -----------------------------------------------------------------------
    def _outlets(self, c: Corpus) -> Any:
        """The outlets' figures, worked out again only when the store changed."""
        from storyline.outlets import Outlets

        def make(c: Corpus) -> tuple[Any, list[dict[str, Any]]]:
            o = Outlets(c.store, c.settings)
            return o, o.summary()

        return self._cached(c, "outlets", make)

    def outlet_summary(self) -> list[dict[str, Any]]:
        with self._locked() as c:
            return self._outlets(c)[1]

    def outlet(self, name: str) -> dict[str, Any]:
        """One outlet in full; KeyError when there is none by that name."""
        with self._locked() as c:
            return dict(self._outlets(c)[0].outlet(name))

    # -- tracks and alerts -------------------------------------------------------------
    def alerts(
        self,
        after: int = 0,
        limit: int = 100,
        track: int | None = None,
        kind: str | None = None,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        from storyline.store import tracking

        with self._locked() as c:
            return tracking.alerts(c.store, after, limit, track, kind, before)

    def tracks(self) -> list[dict[str, Any]]:
        from storyline.store import tracking

        with self._locked() as c:
            return tracking.tracks(c.store)

    def ingest(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Add posted articles (report field names) through the incremental pipeline."""
        with tempfile.TemporaryDirectory(prefix="storyline-post-") as tmp:
            path = Path(tmp) / "posted.jsonl"
            path.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8"
            )
            with self._locked(snapshot=False) as c:
                result = c.add([str(path)])
        return {
            "run": result.run_id,
            "counts": result.counts,
            "problems": [p.__dict__ for p in result.problems],
        }
