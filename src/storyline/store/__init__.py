"""The embedded store: one façade over SQLite (stdlib), with named migrations.

``Store(":memory:")`` is the in-memory mode that tests use; ``Store(path)`` opens or
creates a file. Every write that belongs together happens in one transaction, so a run
killed at any point leaves a consistent store that the next run resumes from: an
article's ``stage`` column says how far it got.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from storyline.ids import content_hash
from storyline.records import Article, Credit, Origin, Problem, RemovedLine, Sentence

log = logging.getLogger(__name__)

__all__ = ["MIGRATIONS", "STAGES", "Store"]

#: How far an article has come through the pipeline, in order.
STAGES = ("ingested", "cleaned", "segmented", "linked")

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_articles",
        """
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,
            url TEXT, source TEXT, title TEXT, published TEXT, author TEXT,
            raw TEXT NOT NULL, raw_sha TEXT NOT NULL, text TEXT NOT NULL,
            encoding TEXT, flags TEXT NOT NULL DEFAULT '[]',
            clean TEXT, clean_sig TEXT,
            stage TEXT NOT NULL DEFAULT 'ingested',
            first_run INTEGER, added_at TEXT NOT NULL
        );
        CREATE INDEX articles_order ON articles (published, id);
        CREATE INDEX articles_source ON articles (source);
        CREATE TABLE origins (
            article_id TEXT NOT NULL REFERENCES articles(id),
            path TEXT NOT NULL, line INTEGER, record INTEGER, format TEXT,
            content_sha TEXT NOT NULL, run_id INTEGER
        );
        CREATE UNIQUE INDEX origins_key ON origins (article_id, path, IFNULL(line, -1), IFNULL(record, -1));
        CREATE TABLE revisions (
            article_id TEXT NOT NULL REFERENCES articles(id),
            raw TEXT NOT NULL, raw_sha TEXT NOT NULL, path TEXT, run_id INTEGER, seen_at TEXT,
            UNIQUE (article_id, raw_sha)
        );
        CREATE TABLE removed (
            article_id TEXT NOT NULL REFERENCES articles(id),
            idx INTEGER NOT NULL, line INTEGER, text TEXT NOT NULL, reason TEXT NOT NULL,
            by_stage TEXT NOT NULL,
            PRIMARY KEY (article_id, idx)
        );
        CREATE TABLE credits (
            article_id TEXT NOT NULL REFERENCES articles(id),
            idx INTEGER NOT NULL, outlet TEXT NOT NULL, words TEXT NOT NULL, kind TEXT NOT NULL,
            start INTEGER, end INTEGER, in_clean_text INTEGER NOT NULL,
            PRIMARY KEY (article_id, idx)
        );
        CREATE TABLE sentences (
            article_id TEXT NOT NULL REFERENCES articles(id),
            idx INTEGER NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
            PRIMARY KEY (article_id, idx)
        );
        CREATE TABLE paragraphs_seen (
            source TEXT NOT NULL, hash TEXT NOT NULL, article_id TEXT NOT NULL, short INTEGER NOT NULL,
            PRIMARY KEY (source, hash, article_id)
        );
        CREATE INDEX paragraphs_seen_article ON paragraphs_seen (article_id);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
            inputs TEXT NOT NULL, settings TEXT NOT NULL, counts TEXT
        );
        CREATE TABLE problems (
            run_id INTEGER REFERENCES runs(id),
            path TEXT NOT NULL, line INTEGER, record INTEGER, reason TEXT NOT NULL, severity TEXT NOT NULL
        );
        """,
    ),
    (
        "0002_reuse",
        """
        CREATE TABLE fingerprints (
            article_id TEXT PRIMARY KEY REFERENCES articles(id),
            exact TEXT NOT NULL, signature BLOB NOT NULL
        );
        CREATE INDEX fingerprints_exact ON fingerprints (exact);
        CREATE TABLE links (
            a TEXT NOT NULL REFERENCES articles(id), b TEXT NOT NULL REFERENCES articles(id),
            source TEXT NOT NULL, copy TEXT NOT NULL, kind TEXT,
            direction TEXT NOT NULL, confidence REAL NOT NULL, data TEXT NOT NULL,
            PRIMARY KEY (a, b)
        );
        CREATE INDEX links_kind ON links (kind);
        CREATE TABLE families (
            article_id TEXT PRIMARY KEY REFERENCES articles(id), root TEXT NOT NULL
        );
        """,
    ),
    (
        "0003_stories",
        """
        CREATE TABLE stories (
            id TEXT PRIMARY KEY, age INTEGER NOT NULL, headline TEXT,
            first_seen TEXT, last_seen TEXT, size INTEGER NOT NULL, data TEXT NOT NULL
        );
        CREATE TABLE story_members (
            article_id TEXT PRIMARY KEY REFERENCES articles(id), story_id TEXT NOT NULL
        );
        CREATE INDEX story_members_story ON story_members (story_id);
        CREATE TABLE story_aliases (alias TEXT PRIMARY KEY, story_id TEXT NOT NULL);
        CREATE TABLE story_overrides (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, data TEXT NOT NULL, made TEXT NOT NULL
        );
        """,
    ),
    (
        # Full-text search over titles and clean text; triggers keep it in step with
        # articles as they are added and re-cleaned (the pipeline need not know).
        "0004_search",
        """
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, clean, content='articles', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO articles_fts (rowid, title, clean) SELECT rowid, IFNULL(title, ''), IFNULL(clean, '') FROM articles;
        CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts (rowid, title, clean) VALUES (new.rowid, IFNULL(new.title, ''), IFNULL(new.clean, ''));
        END;
        CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, clean)
            VALUES ('delete', old.rowid, IFNULL(old.title, ''), IFNULL(old.clean, ''));
        END;
        CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, clean ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, clean)
            VALUES ('delete', old.rowid, IFNULL(old.title, ''), IFNULL(old.clean, ''));
            INSERT INTO articles_fts (rowid, title, clean) VALUES (new.rowid, IFNULL(new.title, ''), IFNULL(new.clean, ''));
        END;
        """,
    ),
    (
        "0005_digests",
        """
        CREATE TABLE digests (
            story_id TEXT PRIMARY KEY, members TEXT NOT NULL, made TEXT NOT NULL, data TEXT NOT NULL
        );
        """,
    ),
    (
        # What lets ``add`` cost what is added: sentence vectors by model and text hash, each
        # article's LSH band keys, its weighted terms and its strongest terms (an inverted
        # index for rewrite candidates), and the rewrite neighbours chosen for it.
        "0006_incremental",
        """
        CREATE TABLE embeddings (
            model TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, key)
        ) WITHOUT ROWID;
        CREATE TABLE lsh_bands (
            band INTEGER NOT NULL, key INTEGER NOT NULL, article_id TEXT NOT NULL,
            PRIMARY KEY (band, key, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX lsh_bands_article ON lsh_bands (article_id);
        CREATE TABLE term_vectors (
            article_id TEXT PRIMARY KEY, terms BLOB NOT NULL, weights BLOB NOT NULL
        );
        CREATE TABLE term_index (
            term INTEGER NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (term, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX term_index_article ON term_index (article_id);
        CREATE TABLE neighbours (
            article_id TEXT NOT NULL, other TEXT NOT NULL, score REAL NOT NULL,
            PRIMARY KEY (article_id, other)
        ) WITHOUT ROWID;
        CREATE INDEX neighbours_other ON neighbours (other);
        CREATE TABLE story_state (
            key TEXT PRIMARY KEY, value TEXT NOT NULL
        );
        CREATE TABLE entities (
            extractor TEXT NOT NULL, key BLOB NOT NULL, found TEXT NOT NULL,
            PRIMARY KEY (extractor, key)
        ) WITHOUT ROWID;
        """,
    ),
    (
        # The "same statement?" scores of a story's candidate sentence pairs (its fact
        # grouping), so that a story that gained an article scores only the new pairs.
        "0007_fact_scores",
        """
        CREATE TABLE fact_scores (
            story_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, pairs BLOB NOT NULL,
            scores BLOB NOT NULL
        );
        """,
    ),
    (
        # An article's links from either end, without reading every link (the web pages).
        "0008_links_by_b",
        """
        CREATE INDEX links_b ON links (b);
        """,
    ),
    (
        # What people follow (a story, a name, a search), what changed in it (one alert per
        # change: its key is unique, so a batch read twice never alerts twice), and each
        # watched feed's poll state (conditional GET validators, backoff).
        "0009_tracking",
        """
        CREATE TABLE tracks (
            id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL,
            made TEXT NOT NULL, since_run INTEGER NOT NULL, UNIQUE (kind, value)
        );
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
            track_id INTEGER NOT NULL, kind TEXT NOT NULL, run_id INTEGER, made TEXT NOT NULL,
            story_id TEXT, article_id TEXT, title TEXT NOT NULL, data TEXT NOT NULL,
            delivered TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
        );
        CREATE INDEX alerts_track ON alerts (track_id, id);
        CREATE INDEX articles_first_run ON articles (first_run);
        CREATE TABLE watch_sources (
            url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, polled TEXT, status TEXT,
            polled_at REAL NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
            retry_at REAL NOT NULL DEFAULT 0,
            last_error TEXT, body_sha TEXT
        );
        """,
    ),
    (
        # A copy family's members by its root, so that linking new articles rewrites only
        # the families they touch, not every family of the store.
        "0010_family_roots",
        """
        CREATE INDEX families_root ON families (root);
        """,
    ),
    (
        # An article's strongest terms with its day (days since 1970, UTC; -1e12 when
        # undated), so that rewrite candidates are looked up in the time window, not among
        # every article that ever used the term. Days of stored rows from SQLite's reading of
        # the date (new rows: Python's; lookups allow a day's difference).
        "0011_term_days",
        """
        CREATE TABLE term_days (
            term INTEGER NOT NULL, day REAL NOT NULL, article_id TEXT NOT NULL,
            PRIMARY KEY (term, day, article_id)
        ) WITHOUT ROWID;
        INSERT INTO term_days
            SELECT t.term, COALESCE(julianday(a.published) - 2440587.5, -1e12), t.article_id
            FROM term_index t LEFT JOIN articles a ON a.id = t.article_id;
        DROP TABLE term_index;
        ALTER TABLE term_days RENAME TO term_index;
        CREATE INDEX term_index_article ON term_index (article_id);
        """,
    ),
    (
        # Each sentence's candidate partners in a large story's last digest, so that a story
        # that gained articles searches partners for its new sentences only.
        "0012_fact_partners",
        """
        CREATE TABLE fact_partners (
            story_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, depth INTEGER NOT NULL,
            units BLOB NOT NULL, rows BLOB NOT NULL, others BLOB NOT NULL, ranks BLOB NOT NULL
        );
        """,
    ),
    (
        # Sentence vectors appended in rowid order, found by a unique index on (model, key).
        # Kept in key order (WITHOUT ROWID), each of an add's new vectors (0.8-2 KB, random
        # hashes) landed on its own page of a table that grows with the store: 16,000 of them
        # took 3.1 s into a store of 10,000 articles, 0.3 s this way, and reads got faster too.
        "0013_embeddings_appended",
        """
        CREATE TABLE embeddings_appended (
            model TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL
        );
        INSERT INTO embeddings_appended (model, key, vector)
            SELECT model, key, vector FROM embeddings;
        DROP TABLE embeddings;
        ALTER TABLE embeddings_appended RENAME TO embeddings;
        CREATE UNIQUE INDEX embeddings_key ON embeddings (model, key);
        """,
    ),
    (
        # The articles at a stage (the new ones each stage takes up) found by an index, not a
        # scan of the articles: ``stage`` comes after the raw and clean texts in a row, so a
        # scan read every article's overflow pages (0.5 s a query at 100,000 articles, warm,
        # and a run asks five times).
        "0014_articles_stage",
        """
        CREATE INDEX articles_stage ON articles (stage, id);
        """,
    ),
    (
        # What a digest's key reads of every article (``Store.digest_states``), read from this
        # index instead of the table, whose rows hold the texts: 1.0 s at 100,000 articles.
        "0015_articles_digest_state",
        """
        CREATE INDEX articles_digest_state ON articles (id, clean_sig, published);
        """,
    ),
    (
        # What the story clusterer reads of an article (its hashed word counts, names and
        # lead vector) under one key, so that ``add`` reads the articles of the stories active
        # around new ones from one table, appended in the order they came (an add's articles
        # lie together), instead of their texts, names and vectors from three tables that grow
        # with every sentence. ``config`` names the extractor and model that made a row.
        "0016_story_docs",
        """
        CREATE TABLE story_docs (
            article_id TEXT NOT NULL, config TEXT NOT NULL, published TEXT, data BLOB NOT NULL
        );
        CREATE UNIQUE INDEX story_docs_key ON story_docs (article_id, config);
        """,
    ),
    (
        # Each digest's key read from this index, not from the table, whose rows hold the
        # digests (``Store.digest_keys``: 0.54 s at 29,000 stories, cold, twice an add).
        "0017_digests_key",
        """
        CREATE INDEX digests_key ON digests (story_id, members);
        """,
    ),
]


def _statements(sql: str) -> Iterator[str]:
    """Split a migration into statements; a trigger body's own semicolons stay inside it."""
    buf = ""
    for part in sql.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                yield buf
            buf = ""
    if buf.strip(" \n;"):
        yield buf


def _template_key(source: str, min_articles: int) -> str:
    return f"templates:{min_articles}:{source}"


def _verdict(count: int, first: list[str], template: bool) -> list[Any]:
    """A repeated short paragraph's kept count and verdict, and the last of the first 25
    carriers by id that the verdict read (None under 25): while every new carrier sorts
    after it, the verdict stands without reading them again."""
    return [count, template, first[24] if len(first) >= 25 else None]


def templates_of(state: dict[str, Any]) -> dict[str, float]:
    """Template hashes and the share of the outlet's articles that carry each (a
    ``Store.template_state``)."""
    total = max(1, int(state["total"]))
    return {h: v[0] / total for h, v in state["candidates"].items() if v[1]}


def _fts_query(query: str) -> str:
    """Plain words as an FTS5 query: each quoted, all required, the last one a prefix."""
    words = re.findall(r"\w+", query or "")[:20]
    if not words:
        return ""
    return " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


#: The page cache of a store's connection, in KiB.
CACHE_KIB = 65536
#: Outlets whose template counts were kept within 4x the rows since the newest kept counts,
#: or within 250,000 rows, read their new rows in one pass (``Store._registered_since``).
SHARED_READ = (4, 250_000)


class Store:
    """SQLite-backed store of articles, their cleaning and sentences, runs and problems."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # A writer waits up to 30 s for another's transaction (runs are serialised by the
        # writer lock, so this covers checkpoints and the web app's short reads).
        self.db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            # A page cache of up to 64 MiB (SQLite's default is 2 MiB): a large store's
            # indexes take random inserts (paragraphs by hash, articles by id), and each page
            # missed is read again. Registering 50,000 articles' paragraphs: 58.9 -> 50.9 s.
            self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self.migrate()

    # -- schema -------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the named migrations not yet applied; returns their names."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)"
        )
        done = {r["name"] for r in self.db.execute("SELECT name FROM migrations")}
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            if done:  # an existing store: a migration may copy a large table
                log.info("store %s: applying migration %s", self.path, name)
            with self.transaction():
                for statement in _statements(sql):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, _now()))
            applied.append(name)
        return applied

    def migrations(self) -> list[str]:
        return [r["name"] for r in self.db.execute("SELECT name FROM migrations ORDER BY name")]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- runs and problems --------------------------------------------------------------
    def start_run(self, inputs: list[str], settings: dict[str, Any]) -> int:
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO runs (started, status, inputs, settings) VALUES (?, 'running', ?, ?)",
                (_now(), json.dumps(inputs), json.dumps(settings, sort_keys=True)),
            )
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, counts: dict[str, Any], status: str = "done") -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET finished = ?, status = ?, counts = ? WHERE id = ?",
                (_now(), status, json.dumps(counts, sort_keys=True), run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM runs ORDER BY id")]

    def add_problem(self, run_id: int, problem: Problem) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    problem.path,
                    problem.line,
                    problem.record,
                    problem.reason,
                    problem.severity,
                ),
            )

    def problems(self, run_id: int | None = None) -> list[Problem]:
        sql, args = "SELECT * FROM problems", ()  # type: tuple[str, tuple[Any, ...]]
        if run_id is not None:
            sql, args = sql + " WHERE run_id = ?", (run_id,)
        return [
            Problem(r["path"], r["reason"], r["line"], r["record"], r["severity"])
            for r in self.db.execute(sql + " ORDER BY rowid", args)
        ]

    # -- articles -----------------------------------------------------------------------
    def add_article(self, article: Article, run_id: int | None = None) -> str:
        """Insert a new article, or record another origin of a known one.

        Returns "new", "seen" (same publication, same content: only the origin is added)
        or "revised" (same URL, other content: the new content is kept as a revision).
        """
        sha = content_hash(article.raw)
        o = article.origin
        with self.transaction():
            row = self.db.execute(
                "SELECT raw_sha FROM articles WHERE id = ?", (article.id,)
            ).fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO articles (id, url, source, title, published, author, raw, raw_sha, text,"
                    " encoding, flags, first_run, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        article.id,
                        article.url,
                        article.source,
                        article.title,
                        article.published,
                        article.author,
                        article.raw,
                        sha,
                        article.text,
                        article.encoding,
                        json.dumps(article.flags),
                        run_id,
                        _now(),
                    ),
                )
                self._set_removed(article.id, article.removed)
                outcome = "new"
            elif row["raw_sha"] == sha:
                outcome = "seen"
            else:
                self.db.execute(
                    "INSERT OR IGNORE INTO revisions VALUES (?, ?, ?, ?, ?, ?)",
                    (article.id, article.raw, sha, o.path, run_id, _now()),
                )
                outcome = "revised"
            self.db.execute(
                "INSERT OR IGNORE INTO origins VALUES (?, ?, ?, ?, ?, ?, ?)",
                (article.id, o.path, o.line, o.record, o.format, sha, run_id),
            )
        return outcome

    def _set_removed(
        self,
        article_id: str,
        removed: Iterable[RemovedLine],
        start: int = 0,
        by_stage: str = "ingest",
    ) -> None:
        self.db.executemany(
            "INSERT INTO removed VALUES (?, ?, ?, ?, ?, ?)",
            [
                (article_id, start + i, r.line, r.text, r.reason, by_stage)
                for i, r in enumerate(removed)
            ],
        )

    def ids_at_stage(self, stage: str) -> list[str]:
        """Ids of articles that have reached exactly ``stage``, in canonical order."""
        return [
            r["id"]
            for r in self.db.execute(
                "SELECT id FROM articles WHERE stage = ? ORDER BY published IS NULL, published, id",
                (stage,),
            )
        ]

    def article_ids(self) -> list[str]:
        return [
            r["id"]
            for r in self.db.execute(
                "SELECT id FROM articles ORDER BY published IS NULL, published, id"
            )
        ]

    def count_articles(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def save_cleaning(
        self,
        article_id: str,
        clean: str,
        removed: list[RemovedLine],
        credits: list[Credit],
        title: str | None,
        clean_sig: str,
    ) -> None:
        """Replace an article's cleaning (the reader's removals stay) and reset its sentences."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM removed WHERE article_id = ? AND by_stage = 'clean'", (article_id,)
            )
            self.db.execute("DELETE FROM credits WHERE article_id = ?", (article_id,))
            self.db.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
            # The story features were made of the old clean text and title.
            self.db.execute("DELETE FROM story_docs WHERE article_id = ?", (article_id,))
            start = int(
                self.db.execute(
                    "SELECT COUNT(*) FROM removed WHERE article_id = ?", (article_id,)
                ).fetchone()[0]
            )
            self._set_removed(article_id, removed, start=start, by_stage="clean")
            self.db.executemany(
                "INSERT INTO credits VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (article_id, i, c.outlet, c.words, c.kind, c.start, c.end, int(c.in_clean_text))
                    for i, c in enumerate(credits)
                ],
            )
            self.db.execute(
                "UPDATE articles SET clean = ?, clean_sig = ?, stage = 'cleaned',"
                " title = COALESCE(title, ?) WHERE id = ?",
                (clean, clean_sig, title, article_id),
            )

    def save_sentences(self, article_id: str, sentences: list[Sentence]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
            self.db.executemany(
                "INSERT INTO sentences VALUES (?, ?, ?, ?, ?)",
                [(article_id, s.index, s.text, s.start, s.end) for s in sentences],
            )
            self.db.execute("UPDATE articles SET stage = 'segmented' WHERE id = ?", (article_id,))

    def register_paragraphs(
        self, source: str, article_id: str, hashes: Iterable[tuple[str, bool]]
    ) -> None:
        """Record which paragraphs an outlet's article holds (for site-template detection)."""
        if not source:
            return
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO paragraphs_seen VALUES (?, ?, ?, ?)",
                [(source, h, article_id, int(short)) for h, short in set(hashes)],
            )

    def template_hashes(
        self, source: str, min_articles: int, max_shared: float = 0.5
    ) -> dict[str, float]:
        """Paragraph hashes of one outlet's site template.

        A short paragraph repeated in at least ``min_articles`` of the outlet's articles is
        template text, unless those articles share most of their paragraphs: then they are
        versions of one story (updates, re-issues) and the paragraph is reporting. Returns
        each template hash with the share of the outlet's articles that carry it.
        """
        return templates_of(self.template_state(source, min_articles, max_shared))

    def template_state(
        self, source: str, min_articles: int, max_shared: float = 0.5, kept: bool = False
    ) -> dict[str, Any]:
        """What ``template_hashes`` is made of: the outlet's article count and each repeated
        short paragraph's count and verdict, as of the paragraphs registered up to ``upto``
        (a rowid of ``paragraphs_seen``). With ``kept``, the state ``keep_template_state``
        kept is brought up to date from the paragraphs registered since
        (:meth:`template_states`)."""
        if kept:
            return self.template_states([source], min_articles, max_shared)[source]
        return self._template_state_whole(source, min_articles, max_shared, self._registered())

    def template_states(
        self, sources: Iterable[str], min_articles: int, max_shared: float = 0.5
    ) -> dict[str, dict[str, Any]]:
        """``template_state(kept=True)`` of several outlets: each kept state brought up to
        date from the paragraphs registered since, the same result at the cost of what is
        new. Counting every paragraph of every article of every outlet was 80 s of an add of
        1,000 articles into 100,000; reading each outlet's paragraphs by its index to find
        the new ones, then each new short paragraph's every carrier, was 2 s. Now the new
        rows are read once for all outlets, by rowid, and a count already kept grows by the
        new carriers. An article's paragraphs are registered in one transaction, so each
        article is wholly before ``upto`` or wholly after it, whenever a run was killed."""
        upto = self._registered()
        out: dict[str, dict[str, Any]] = {}
        since: dict[str, int] = {}
        olds: dict[str, dict[str, Any]] = {}
        for source in sources:
            old = self.state(_template_key(source, min_articles))
            if old is None or "upto" not in old:
                out[source] = self._template_state_whole(source, min_articles, max_shared, upto)
            else:
                olds[source], since[source] = old, int(old["upto"])
        for source, (articles, added) in self._registered_since(since, upto).items():
            old = olds[source]
            verdicts = dict(old["candidates"])
            found: dict[str, tuple[int, list[str]]] = {}
            for h in sorted(added):
                kept = verdicts.get(h)  # kept: every hash with min_articles carriers
                if kept is not None:
                    count = int(kept[0]) + len(added[h])
                    if len(kept) > 2 and kept[2] is not None and min(added[h]) > kept[2]:
                        # every new carrier sorts after the 25th: the verdict reads the same
                        verdicts[h] = [count, kept[1], kept[2]]
                        continue
                else:  # under min_articles carriers until now
                    count = int(self.db.execute(
                        "SELECT COUNT(*) FROM paragraphs_seen"
                        " WHERE source = ? AND hash = ? AND short = 1 AND rowid <= ?",
                        (source, h, upto),
                    ).fetchone()[0])  # fmt: skip
                if count < min_articles:
                    verdicts.pop(h, None)
                    continue
                first = [  # the verdict reads the first 25 carriers by id (in index order)
                    r[0]
                    for r in self.db.execute(
                        "SELECT article_id FROM paragraphs_seen WHERE source = ? AND hash = ?"
                        " AND short = 1 AND rowid <= ? ORDER BY article_id LIMIT 25",
                        (source, h, upto),
                    )
                ]
                found[h] = (count, first)
            hashes_of: dict[str, set[str]] = {}
            for h, (count, first) in found.items():
                verdicts[h] = _verdict(count, first, self._reads_as_template(
                    source, first, hashes_of, max_shared
                ))  # fmt: skip
            out[source] = {
                "upto": upto, "total": int(old["total"]) + len(articles),
                "candidates": {h: verdicts[h] for h in sorted(verdicts)},
            }  # fmt: skip
        return out

    def _registered(self) -> int:
        """The last rowid of ``paragraphs_seen``: the paragraphs registered so far."""
        return int(
            self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM paragraphs_seen").fetchone()[0]
        )

    def _registered_since(
        self, since: dict[str, int], upto: int
    ) -> dict[str, tuple[set[str], dict[str, list[str]]]]:
        """For each outlet, the articles, and the short paragraphs' new carriers by hash,
        registered after its rowid in ``since``, up to ``upto``. The outlets kept at about
        the same time share one read of the rows since, in rowid order; an outlet kept long
        before (it published nothing for a while) is read by its index instead."""
        out: dict[str, tuple[set[str], dict[str, list[str]]]] = {s: (set(), {}) for s in since}
        if not since:
            return out
        recent = upto - max(since.values())
        times, reach = SHARED_READ
        shared = {s: u for s, u in since.items() if upto - u <= max(times * recent, reach)}
        cursors: list[sqlite3.Cursor] = []
        if shared:
            cursors.append(self.db.execute(
                "SELECT source, rowid, article_id, hash, short FROM paragraphs_seen"
                " WHERE rowid > ? AND rowid <= ?",
                (min(shared.values()), upto),
            ))  # fmt: skip
        cursors += [
            self.db.execute(
                "SELECT source, rowid, article_id, hash, short FROM paragraphs_seen"
                " WHERE source = ? AND rowid > ? AND rowid <= ?",
                (s, u, upto),
            )
            for s, u in since.items()
            if s not in shared
        ]
        for cursor in cursors:
            for source, rowid, article_id, h, short in cursor:
                if rowid > since.get(source, upto):
                    articles, added = out[source]
                    articles.add(article_id)
                    if short:
                        added.setdefault(h, []).append(article_id)
        return out

    def _template_state_whole(
        self, source: str, min_articles: int, max_shared: float, upto: int
    ) -> dict[str, Any]:
        """An outlet's template state counted from all its paragraphs up to ``upto``."""
        total = int(
            self.db.execute(
                "SELECT COUNT(DISTINCT article_id) FROM paragraphs_seen"
                " WHERE source = ? AND rowid <= ?",
                (source, upto),
            ).fetchone()[0]
        )
        candidates = {
            r["hash"]: r["ids"].split(",")
            for r in self.db.execute(
                "SELECT hash, GROUP_CONCAT(article_id) ids FROM paragraphs_seen"
                " WHERE source = ? AND short = 1 AND rowid <= ?"
                " GROUP BY hash HAVING COUNT(*) >= ?",
                (source, upto, min_articles),
            )
        }
        hashes_of: dict[str, set[str]] = {}
        verdicts = {
            h: _verdict(
                len(ids), first, self._reads_as_template(source, first, hashes_of, max_shared)
            )
            for h, ids in candidates.items()
            for first in [sorted(ids)[:25]]
        }
        return {
            "upto": upto, "total": total,
            "candidates": {h: verdicts[h] for h in sorted(verdicts)},
        }  # fmt: skip

    def keep_template_state(self, source: str, min_articles: int, state: dict[str, Any]) -> None:
        self.set_state(_template_key(source, min_articles), state)

    def _reads_as_template(
        self, source: str, ids: list[str], hashes_of: dict[str, set[str]], max_shared: float
    ) -> bool:
        """Whether a paragraph in these articles is template text: not when the articles
        (the first 25 by id) share most of their paragraphs (versions of one story)."""
        sets = []
        for aid in sorted(ids)[:25]:
            if aid not in hashes_of:
                hashes_of[aid] = {
                    r["hash"]
                    for r in self.db.execute(
                        "SELECT hash FROM paragraphs_seen WHERE article_id = ? AND source = ?",
                        (aid, source),
                    )
                }
            sets.append(hashes_of[aid])
        counts: dict[str, int] = {}
        for hs in sets:
            for x in hs:
                counts[x] = counts.get(x, 0) + 1
        common = sum(1 for n in counts.values() if n * 3 >= 2 * len(sets))
        mean_size = sum(len(hs) for hs in sets) / len(sets)
        return common <= max_shared * mean_size

    def articles_with_paragraphs(self, source: str, hashes: Iterable[str]) -> set[str]:
        hashes = list(hashes)
        found: set[str] = set()
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found |= {
                r["article_id"]
                for r in self.db.execute(
                    f"SELECT DISTINCT article_id FROM paragraphs_seen WHERE source = ? AND hash IN ({marks})",
                    (source, *chunk),
                )
            }
        return found

    def get_article(self, article_id: str, full: bool = True) -> Article | None:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            return None
        return self._article(row, full)

    def find_article(self, prefix: str) -> list[str]:
        """Ids starting with ``prefix`` (users type short ids)."""
        return [
            r["id"]
            for r in self.db.execute(
                "SELECT id FROM articles WHERE id LIKE ? ORDER BY id LIMIT 5", (prefix + "%",)
            )
        ]

    def search(
        self, query: str, limit: int = 20, offset: int = 0, mark: tuple[str, str] = ("[", "]")
    ) -> list[dict[str, Any]]:
        """Articles whose title or clean text hold every word of ``query``, best first.

        Each hit has id, title, source, published, rank and a snippet with the matched words
        between ``mark`` (empty while an article's title is indexed and its text not yet
        cleaned: a run is still going). The query is taken as plain words (the last one as a prefix), so
        user input never reaches FTS5's query syntax.
        """
        match = _fts_query(query)
        if not match:
            return []
        # The page of hits is chosen by rank first; snippets are then made for it alone (in
        # the select list of the ranked query they were made for every match before the sort).
        page = {
            r[0]: (n, r[1])
            for n, r in enumerate(
                self.db.execute(
                    "SELECT rowid, rank FROM articles_fts WHERE articles_fts MATCH ?"
                    " ORDER BY rank, rowid LIMIT ? OFFSET ?",
                    (match, limit, offset),
                )
            )
        }
        if not page:
            return []
        rows = self.db.execute(
            "SELECT f.rowid AS at, a.id, a.title, a.source, a.published,"
            " IFNULL(snippet(articles_fts, 1, ?, ?, '…', 16), '') AS snippet"
            " FROM articles_fts f JOIN articles a ON a.rowid = f.rowid"
            f" WHERE articles_fts MATCH ? AND f.rowid IN ({','.join('?' * len(page))})",
            (mark[0], mark[1], match, *page),
        ).fetchall()
        hits = []
        for r in sorted(rows, key=lambda r: page[r["at"]][0]):
            hit = {k: r[k] for k in ("id", "title", "source", "published")}
            hits.append({**hit, "rank": page[r["at"]][1], "snippet": r["snippet"]})
        return hits

    def search_total(self, query: str) -> int:
        """How many articles ``search`` finds for ``query`` in all."""
        match = _fts_query(query)
        if not match:
            return 0
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH ?", (match,)
            ).fetchone()[0]
        )

    def iter_articles(
        self,
        full: bool = True,
        stage: str | None = None,
        chunk: int = 200,
        only: set[str] | None = None,
        parts: bool = True,
    ) -> Iterator[Article]:
        """The articles (at ``stage``, among ``only``) in canonical order (time, then id),
        read ``chunk`` at a time: memory holds a chunk, not the store. Without ``full`` the
        raw input and decoded text are not read at all; without ``parts`` neither are their
        sentences, origins, credits and removed lines (a light article, see ``light``)."""
        sql = "SELECT id FROM articles"
        args: tuple[Any, ...] = ()
        if stage:
            sql, args = sql + " WHERE stage = ?", (stage,)
        ids = [
            r[0] for r in self.db.execute(sql + " ORDER BY published IS NULL, published, id", args)
        ]
        if only is not None:
            ids = [i for i in ids if i in only]
        columns = "*" if full else ", ".join(self._BRIEF_COLUMNS)
        for i in range(0, len(ids), chunk):
            part = ids[i : i + chunk]
            rows = {
                r["id"]: r
                for r in self.db.execute(
                    f"SELECT {columns} FROM articles WHERE id IN ({','.join('?' * len(part))})",
                    part,
                )
            }
            for aid in part:
                if aid in rows:
                    yield self._article(rows[aid], full) if parts else self._light(rows[aid])

    #: What an article is without its raw input and decoded text.
    _BRIEF_COLUMNS = ("id", "url", "source", "title", "published", "author", "encoding", "flags",
                      "clean")  # fmt: skip

    def light(self, ids: Iterable[str]) -> dict[str, Article]:
        """These articles (those stored) as light ones: metadata and clean text only, no
        sentences, origins, credits or removed lines (what the stories stage reads of the
        articles around new ones: one query per 500, not five per article)."""
        sql = f"SELECT {', '.join(self._BRIEF_COLUMNS)} FROM articles WHERE id IN ({{marks}})"
        return {r["id"]: self._light(r) for r in self._in_chunks(sql, ids)}

    def _light(self, row: sqlite3.Row) -> Article:
        return Article(
            id=row["id"], raw="", text="", origin=Origin(""), title=row["title"], url=row["url"],
            source=row["source"], published=row["published"], author=row["author"],
            encoding=row["encoding"] or "utf-8", flags=json.loads(row["flags"] or "[]"),
            clean=row["clean"],
        )  # fmt: skip

    def first_sentence(self, article_id: str) -> str | None:
        row = self.db.execute(
            "SELECT text FROM sentences WHERE article_id = ? ORDER BY idx LIMIT 1", (article_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _article(self, row: sqlite3.Row, full: bool) -> Article:
        aid = row["id"]
        origins = [
            Origin(r["path"], r["line"], r["record"], r["format"] or "")
            for r in self.db.execute(
                "SELECT * FROM origins WHERE article_id = ? ORDER BY rowid", (aid,)
            )
        ]
        article = Article(
            id=aid,
            raw=row["raw"] if full else "",
            text=row["text"] if full else "",
            origin=origins[0] if origins else Origin(""),
            title=row["title"],
            url=row["url"],
            source=row["source"],
            published=row["published"],
            author=row["author"],
            encoding=row["encoding"] or "utf-8",
            flags=json.loads(row["flags"] or "[]"),
            clean=row["clean"],
            origins=origins,
        )
        article.removed = [
            RemovedLine(r["line"], r["text"], r["reason"])
            for r in self.db.execute(
                "SELECT * FROM removed WHERE article_id = ? ORDER BY idx", (aid,)
            )
        ]
        article.credits = [
            Credit(
                r["outlet"], r["words"], r["kind"], r["start"], r["end"], bool(r["in_clean_text"])
            )
            for r in self.db.execute(
                "SELECT * FROM credits WHERE article_id = ? ORDER BY idx", (aid,)
            )
        ]
        article.sentences = [
            Sentence(aid, r["idx"], r["text"], r["start"], r["end"])
            for r in self.db.execute(
                "SELECT * FROM sentences WHERE article_id = ? ORDER BY idx", (aid,)
            )
        ]
        return article

    # -- reuse ----------------------------------------------------------------------------
    def save_fingerprints(self, rows: Iterable[tuple[str, str, bytes]]) -> None:
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?)", list(rows))

    def fingerprints(self, ids: list[str]) -> dict[str, tuple[str, bytes]]:
        out: dict[str, tuple[str, bytes]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.execute(
                f"SELECT * FROM fingerprints WHERE article_id IN ({marks})", chunk
            ):
                out[r["article_id"]] = (r["exact"], bytes(r["signature"]))
        return out

    def save_links(
        self,
        links: Iterable[dict[str, Any]],
        linked: Iterable[str],
        families: dict[str, str],
        members: Iterable[str],
    ) -> None:
        """Store compared pairs (with or without a kind), mark articles linked, and replace
        the families of ``members`` with ``families`` (members absent from it are in none).

        Earlier comparisons that involve the articles linked now (re-cleaned ones) are replaced.
        """
        linked = list(linked)
        with self.transaction():
            for i in range(0, len(linked), 400):
                chunk = linked[i : i + 400]
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    f"DELETE FROM links WHERE a IN ({marks}) OR b IN ({marks})", (*chunk, *chunk)
                )
            self.db.executemany(
                "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        ln["a"],
                        ln["b"],
                        ln["source"],
                        ln["copy"],
                        ln["kind"],
                        ln["direction"],
                        ln["confidence"],
                        json.dumps(ln, ensure_ascii=False),
                    )
                    for ln in links
                ],
            )
            self.db.executemany(
                "UPDATE articles SET stage = 'linked' WHERE id = ?", [(i,) for i in linked]
            )
            self.db.executemany(
                "DELETE FROM families WHERE article_id = ?", [(m,) for m in members]
            )
            self.db.executemany("INSERT INTO families VALUES (?, ?)", list(families.items()))

    def links(self, kinds_only: bool = True) -> list[dict[str, Any]]:
        sql = "SELECT data FROM links" + (" WHERE kind IS NOT NULL" if kinds_only else "")
        rank = (
            "CASE kind WHEN 'duplicate' THEN 0 WHEN 'near_duplicate' THEN 1 WHEN 'rewrite' THEN 2"
            " WHEN 'partial' THEN 3 WHEN 'shared_quotes' THEN 4 ELSE 5 END"
        )
        rows = [
            json.loads(r["data"]) for r in self.db.execute(f"{sql} ORDER BY {rank}, source, copy")
        ]
        return rows

    _LINK_RANK = (
        "CASE kind WHEN 'duplicate' THEN 0 WHEN 'near_duplicate' THEN 1 WHEN 'rewrite' THEN 2"
        " WHEN 'partial' THEN 3 WHEN 'shared_quotes' THEN 4 ELSE 5 END"
    )

    def _ordered(self, table: str, rowids_sql: str, chunk: int = 500) -> Iterator[str]:
        """The ``data`` of ``table``'s rows in the order of the rowids ``rowids_sql`` selects,
        read ``chunk`` rows at a time (the order is taken first: memory holds one chunk)."""
        rowids = [r[0] for r in self.db.execute(rowids_sql)]
        for i in range(0, len(rowids), chunk):
            part = rowids[i : i + chunk]
            sql = f"SELECT rowid, data FROM {table} WHERE rowid IN ({','.join('?' * len(part))})"
            data = dict(self.db.execute(sql, part).fetchall())
            yield from (data[r] for r in part if r in data)

    def iter_links(self) -> Iterator[dict[str, Any]]:
        """:meth:`links` (those with a kind), one at a time."""
        order = f"SELECT rowid FROM links WHERE kind IS NOT NULL ORDER BY {self._LINK_RANK}, source, copy"
        for data in self._ordered("links", order):
            yield json.loads(data)

    def links_of(
        self, ids: Iterable[str], both: bool = False, evidence: bool = True
    ) -> list[dict[str, Any]]:
        """The links touching any of ``ids`` (with ``both``: only those among them), in the
        order of :meth:`links`; read by index, not by scanning every link. Without
        ``evidence`` the aligned sentence pairs and measures are left out (by SQLite, before
        any JSON reaches Python): what a page listing the links needs."""
        data = "data" if evidence else "json_remove(data, '$.pairs', '$.measures')"
        wanted = sorted(set(ids))
        inside = set(wanted)
        found: dict[tuple[str, str], tuple[int, str, str, str]] = {}
        for end in ("a",) if both else ("a", "b"):
            sql = (
                f"SELECT a, b, source, copy, {data} AS data, {self._LINK_RANK} AS rank"
                f" FROM links WHERE kind IS NOT NULL AND {end} IN ({{marks}})"
            )
            for r in self._in_chunks(sql, wanted):
                if both and r["b"] not in inside:
                    continue
                found[(r["a"], r["b"])] = (r["rank"], r["source"], r["copy"], r["data"])
        return [json.loads(v[3]) for v in sorted(found.values())]

    def article_outlets(self) -> list[sqlite3.Row]:
        """Every article's outlet, story, copy-family root and first credit of each kind that
        says whose story it is (``storyline.outlets``): a few columns, no text."""
        first = (
            "(SELECT outlet FROM credits c WHERE c.article_id = a.id AND c.kind = '{}'"
            " ORDER BY c.idx LIMIT 1) AS {}"
        )
        credits = ", ".join(first.format(k, k) for k in ("source_line", "dateline", "byline"))
        return self.db.execute(
            "SELECT a.id, a.source, a.title, a.published, m.story_id AS story, f.root, "
            f"{credits} FROM articles a LEFT JOIN story_members m ON m.article_id = a.id"
            " LEFT JOIN families f ON f.article_id = a.id ORDER BY a.published, a.id"
        ).fetchall()

    def sentences_of(self, ids: Iterable[str]) -> list[tuple[str, str]]:
        """(article, sentence text) of these articles, in article and sentence order."""
        sql = "SELECT article_id, idx, text FROM sentences WHERE article_id IN ({marks})"
        rows = sorted(self._in_chunks(sql, ids), key=lambda r: (r["article_id"], r["idx"]))
        return [(r["article_id"], r["text"]) for r in rows]

    def stories_by_ids(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """These stories (those that exist), read by key, in the order of :meth:`stories`
        (the latest first, then the largest, then by id)."""
        sql = "SELECT data FROM stories WHERE id IN ({marks})"
        got = [json.loads(r["data"]) for r in self._in_chunks(sql, ids)]
        got.sort(key=lambda st: st["id"])  # each sort keeps the order of the ones before it
        got.sort(key=lambda st: len(st["articles"]), reverse=True)
        got.sort(key=lambda st: st["last_seen"] or "", reverse=True)
        got.sort(key=lambda st: st["last_seen"] is None)
        return got

    def story_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM stories")]

    def families_of(self, ids: Iterable[str]) -> dict[str, str]:
        """Copy-family roots of these articles (those in a family)."""
        sql = "SELECT article_id, root FROM families WHERE article_id IN ({marks})"
        return {r["article_id"]: r["root"] for r in self._in_chunks(sql, ids)}

    def _in_chunks(
        self, sql: str, ids: Iterable[str], tail: Iterable[Any] = ()
    ) -> Iterator[sqlite3.Row]:
        """Rows of ``sql`` for these ids (``{marks}`` stands for a chunk of them), 500 at a
        time, each id once; ``tail`` binds the parameters after the chunk."""
        wanted = sorted(set(ids))
        tail = list(tail)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            yield from self.db.execute(
                sql.format(marks=",".join("?" * len(chunk))), [*chunk, *tail]
            )

    def briefs(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Title, outlet, time, URL and credited outlets of these articles, in two queries
        (what a story page shows of its articles; ``get_article`` reads every sentence)."""
        out: dict[str, dict[str, Any]] = {}
        wanted = sorted(set(ids))
        sql = "SELECT id, title, source, published, url FROM articles WHERE id IN ({marks})"
        for r in self._in_chunks(sql, wanted):
            out[r["id"]] = {**dict(r), "credits": []}
        sql = "SELECT article_id, outlet, idx FROM credits WHERE article_id IN ({marks})"
        for r in sorted(self._in_chunks(sql, wanted), key=lambda r: (r[0], r[2])):
            out[r["article_id"]]["credits"].append({"outlet": r["outlet"]})
        return out

    def story_of(self, article_id: str) -> str | None:
        return self.stories_of([article_id]).get(article_id)

    def stories_of(self, ids: Iterable[str]) -> dict[str, str]:
        """The story of each of these articles (those placed in one)."""
        sql = "SELECT article_id, story_id FROM story_members WHERE article_id IN ({marks})"
        return {r[0]: r[1] for r in self._in_chunks(sql, ids)}

    def link_edges(self) -> list[dict[str, Any]]:
        """Every copy link's ends, kind and direction, without its evidence (for families)."""
        return [
            dict(r)
            for r in self.db.execute(
                "SELECT a, b, source, copy, kind, direction FROM links WHERE kind IS NOT NULL"
            )
        ]

    def link_edges_of(self, ids: Iterable[str], kinds: Iterable[str]) -> list[dict[str, Any]]:
        """The links of these kinds touching any of ``ids`` (read by index from either end),
        each once, without evidence: what the families of some articles are made from."""
        kinds = sorted(kinds)
        marks = ",".join("?" * len(kinds))
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for end in ("a", "b"):
            # "+kind" keeps SQLite off the index on kind, which it would otherwise take: that
            # reads every link of these kinds (half a million at 100,000 articles) per chunk.
            sql = (
                "SELECT a, b, source, copy, kind, direction FROM links"
                f" WHERE {end} IN ({{marks}}) AND +kind IN ({marks})"
            )
            for r in self._in_chunks(sql, ids, tail=kinds):
                out[(r["a"], r["b"])] = dict(r)
        return [out[k] for k in sorted(out)]

    def family_members(self, roots: Iterable[str]) -> set[str]:
        """Every member of the copy families with these roots."""
        sql = "SELECT article_id FROM families WHERE root IN ({marks})"
        return {r[0] for r in self._in_chunks(sql, roots)}

    def drop_links(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Forget the comparisons of these pairs (either order)."""
        with self.transaction():
            self.db.executemany(
                "DELETE FROM links WHERE (a = ? AND b = ?) OR (a = ? AND b = ?)",
                [(x, y, y, x) for x, y in pairs],
            )

    def published_of(self, ids: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.execute(
                f"SELECT id, published FROM articles WHERE id IN ({marks})", chunk
            ):
                out[r["id"]] = r["published"]
        return out

    def link_between(self, a: str, b: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT data FROM links WHERE (a = ? AND b = ?) OR (a = ? AND b = ?)", (a, b, b, a)
        ).fetchone()
        return json.loads(row["data"]) if row else None

    def families(self) -> dict[str, str]:
        return {r["article_id"]: r["root"] for r in self.db.execute("SELECT * FROM families")}

    # -- embeddings -----------------------------------------------------------------------
    def _by_keys(self, sql: str, first: Any, keys: list[Any]) -> Iterator[sqlite3.Row]:
        """Rows of ``sql`` (with ``?`` for ``first`` and ``{marks}`` for a chunk of ``keys``),
        500 keys at a time."""
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            yield from self.db.execute(
                sql.format(marks=",".join("?" * len(chunk))), (first, *chunk)
            )

    def load_embeddings(self, model: str, keys: list[bytes]) -> dict[bytes, Any]:
        """Stored float16 vectors of ``model`` for the text hashes ``keys`` (those present)."""
        import numpy as np

        sql = "SELECT key, vector FROM embeddings WHERE model = ? AND key IN ({marks})"
        return {
            bytes(r["key"]): np.frombuffer(r["vector"], dtype=np.float16)
            for r in self._by_keys(sql, model, keys)
        }

    def save_embeddings(self, model: str, rows: Iterable[tuple[bytes, Any]]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)",
                [(model, k, v.astype("<f2").tobytes()) for k, v in rows],
            )

    def load_entities(self, extractor: str, keys: list[bytes]) -> dict[bytes, Any]:
        """Stored (text, label) lists of ``extractor`` for the text hashes ``keys``."""
        sql = "SELECT key, found FROM entities WHERE extractor = ? AND key IN ({marks})"
        return {
            bytes(r["key"]): [tuple(x) for x in json.loads(r["found"])]
            for r in self._by_keys(sql, extractor, keys)
        }

    def save_entities(self, extractor: str, rows: dict[bytes, Any]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO entities VALUES (?, ?, ?)",
                [(extractor, k, json.dumps(v, ensure_ascii=False)) for k, v in rows.items()],
            )

    def load_story_docs(
        self, config: str, ids: Iterable[str]
    ) -> dict[str, tuple[str | None, bytes]]:
        """The stored story features (``stories.model.pack_doc``) of these articles made under
        ``config``: each found article's publication time and packed features."""
        sql = "SELECT article_id, published, data FROM story_docs WHERE config = ? AND article_id IN ({marks})"
        return {r[0]: (r[1], bytes(r[2])) for r in self._by_keys(sql, config, sorted(set(ids)))}

    def story_doc_ids(self, config: str) -> set[str]:
        """The articles whose story features are stored under ``config``."""
        rows = self.db.execute(
            "SELECT article_id FROM story_docs INDEXED BY story_docs_key WHERE config = ?",
            (config,),
        )
        return {r[0] for r in rows}

    def save_story_docs(self, config: str, rows: Iterable[tuple[str, str | None, bytes]]) -> None:
        """Keep (article id, published, packed features) rows under ``config``."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO story_docs VALUES (?, ?, ?, ?)",
                [(aid, config, published, data) for aid, published, data in rows],
            )

    # -- stories --------------------------------------------------------------------------
    def story_members(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.db.execute("SELECT story_id, article_id FROM story_members ORDER BY rowid"):
            out.setdefault(r["story_id"], []).append(r["article_id"])
        return out

    def story_ages(self) -> dict[str, int]:
        return {r["id"]: r["age"] for r in self.db.execute("SELECT id, age FROM stories")}

    def save_stories(self, stories: list[dict[str, Any]], aliases: dict[str, str]) -> None:
        """Replace the stories (each a dict with id, age, headline, first/last seen, articles)."""
        with self.transaction():
            self.db.execute("DELETE FROM stories")
            self.db.execute("DELETE FROM story_members")
            self._insert_stories(stories, aliases)

    def _insert_stories(self, stories: list[dict[str, Any]], aliases: dict[str, str]) -> None:
        self.db.executemany(
            "INSERT INTO stories VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (st["id"], st["age"], st["headline"], st["first_seen"], st["last_seen"], len(st["articles"]),
                 json.dumps(st, ensure_ascii=False))
                for st in stories
            ],
        )  # fmt: skip
        self.db.executemany(
            "INSERT INTO story_members VALUES (?, ?)",
            [(a, st["id"]) for st in stories for a in st["articles"]],
        )
        # An alias points at the surviving story; aliases of aliases are followed through.
        self.db.executemany(
            "INSERT OR REPLACE INTO story_aliases VALUES (?, ?)", list(aliases.items())
        )
        self.db.execute(
            "UPDATE story_aliases SET story_id = (SELECT a2.story_id FROM story_aliases a2"
            " WHERE a2.alias = story_aliases.story_id) WHERE story_id IN (SELECT alias FROM story_aliases)"
        )
        self.db.execute("DELETE FROM story_aliases WHERE alias IN (SELECT id FROM stories)")

    def stories_since(self, day: str | None) -> dict[str, list[str]]:
        """Members of the stories last seen on or after ``day`` (and the undated ones)."""
        sql = "SELECT m.story_id, m.article_id FROM stories s JOIN story_members m ON m.story_id = s.id"
        args: tuple[Any, ...] = ()
        if day is not None:
            sql, args = sql + " WHERE s.last_seen IS NULL OR s.last_seen >= ?", (day,)
        out: dict[str, list[str]] = {}
        for r in self.db.execute(sql + " ORDER BY m.rowid", args):
            out.setdefault(r[0], []).append(r[1])
        return out

    def update_stories(
        self, stories: list[dict[str, Any]], aliases: dict[str, str], gone: Iterable[str]
    ) -> None:
        """Replace some stories (and their members), drop those that are ``gone``."""
        with self.transaction():
            for sid in [*gone, *(st["id"] for st in stories)]:
                self.db.execute("DELETE FROM stories WHERE id = ?", (sid,))
                self.db.execute("DELETE FROM story_members WHERE story_id = ?", (sid,))
            for st in stories:
                self.db.executemany(
                    "DELETE FROM story_members WHERE article_id = ?", [(a,) for a in st["articles"]]
                )
            self._insert_stories(stories, aliases)

    def state(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM story_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_state(self, key: str, value: Any) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO story_state VALUES (?, ?)", (key, json.dumps(value))
            )

    _STORY_ORDER = "last_seen IS NULL, last_seen DESC, size DESC, id"

    def stories(self) -> list[dict[str, Any]]:
        return [
            json.loads(r["data"])
            for r in self.db.execute(f"SELECT data FROM stories ORDER BY {self._STORY_ORDER}")
        ]

    def iter_stories(self) -> Iterator[dict[str, Any]]:
        """:meth:`stories`, one at a time."""
        for data in self._ordered(
            "stories", f"SELECT rowid FROM stories ORDER BY {self._STORY_ORDER}"
        ):
            yield json.loads(data)

    def resolve_story(self, story_id: str) -> str | None:
        """A story id (or alias, or unique id prefix) as the id it has now."""
        if self.db.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,)).fetchone():
            return story_id
        row = self.db.execute(
            "SELECT story_id FROM story_aliases WHERE alias = ?", (story_id,)
        ).fetchone()
        if row:
            return str(row["story_id"])
        rows = self.db.execute(
            "SELECT id FROM stories WHERE id LIKE ? LIMIT 2", (story_id + "%",)
        ).fetchall()
        return str(rows[0]["id"]) if len(rows) == 1 else None

    def story(self, story_id: str) -> dict[str, Any] | None:
        sid = self.resolve_story(story_id)
        if sid is None:
            return None
        row = self.db.execute("SELECT data FROM stories WHERE id = ?", (sid,)).fetchone()
        return json.loads(row["data"]) if row else None

    def add_override(self, kind: str, articles: list[str]) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO story_overrides (kind, data, made) VALUES (?, ?, ?)",
                (kind, json.dumps({"articles": articles}), _now()),
            )

    def overrides(self) -> list[dict[str, Any]]:
        return [
            {"kind": r["kind"], **json.loads(r["data"])}
            for r in self.db.execute("SELECT kind, data FROM story_overrides ORDER BY seq")
        ]

    # -- digests --------------------------------------------------------------------------
    def digest_states(self) -> Iterator[tuple[str, str | None, str | None]]:
        """(id, clean_sig, published) of every article: what its digests depend on."""
        yield from self.db.execute(
            "SELECT id, clean_sig, published FROM articles INDEXED BY articles_digest_state"
        )

    def digest_keys(self) -> dict[str, str]:
        """Each stored digest's story and the member list it was made from."""
        return dict(self.db.execute("SELECT story_id, members FROM digests INDEXED BY digests_key"))

    def count_digests(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0])

    def save_digests(self, digests: list[tuple[str, str, dict[str, Any]]], keep: set[str]) -> None:
        """Store (story id, members key, digest) rows; drop digests of stories not in ``keep``."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)",
                [(sid, key, _now(), json.dumps(d, ensure_ascii=False)) for sid, key, d in digests],
            )
            self._keep_stories("digests", keep)

    def _keep_stories(self, table: str, keep: set[str]) -> None:
        """Drop the rows of ``table`` (one of the per-story tables) whose story is not in
        ``keep`` (inside the caller's transaction)."""
        gone = [
            (sid,) for (sid,) in self.db.execute(f"SELECT story_id FROM {table}") if sid not in keep
        ]
        self.db.executemany(f"DELETE FROM {table} WHERE story_id = ?", gone)

    def fact_scores(self, story_id: str, namespace: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A story's scored sentence pairs (sorted uint64 pair keys, float64 scores), if they
        were scored under ``namespace`` (the models that score them)."""
        row = self.db.execute(
            "SELECT pairs, scores FROM fact_scores WHERE story_id = ? AND namespace = ?",
            (story_id, namespace),
        ).fetchone()
        if row is None:
            return None
        return np.frombuffer(row[0], dtype=np.uint64), np.frombuffer(row[1], dtype=np.float64)

    def save_fact_scores(
        self, rows: list[tuple[str, str, np.ndarray, np.ndarray]], keep: set[str]
    ) -> None:
        """Store (story id, namespace, pair keys, scores); drop those of stories not in ``keep``."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO fact_scores VALUES (?, ?, ?, ?)",
                [(sid, ns, k.astype(np.uint64).tobytes(), v.astype(np.float64).tobytes())
                 for sid, ns, k, v in rows],
            )  # fmt: skip
            self._keep_stories("fact_scores", keep)

    def fact_partners(self, story_id: str, namespace: str) -> Any:
        """A story's sentence partners from its last digest (``storyline.digest.facts.
        Partners``), if they were found under ``namespace``."""
        from storyline.digest.facts import Partners

        row = self.db.execute(
            "SELECT depth, units, rows, others, ranks FROM fact_partners"
            " WHERE story_id = ? AND namespace = ?",
            (story_id, namespace),
        ).fetchone()
        if row is None:
            return None
        return Partners(
            int(row[0]), np.frombuffer(row[1], dtype=np.uint64),
            np.frombuffer(row[2], dtype=np.int32), np.frombuffer(row[3], dtype=np.int32),
            np.frombuffer(row[4], dtype=np.float32),
        )  # fmt: skip

    def save_fact_partners(self, rows: list[tuple[str, str, Any]], keep: set[str]) -> None:
        """Store (story id, namespace, Partners or None: none kept); drop those of stories
        not in ``keep``."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO fact_partners VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(sid, ns, p.depth, p.units.astype(np.uint64).tobytes(),
                  p.rows.astype(np.int32).tobytes(), p.others.astype(np.int32).tobytes(),
                  p.ranks.astype(np.float32).tobytes()) for sid, ns, p in rows if p is not None],
            )  # fmt: skip
            self.db.executemany(
                "DELETE FROM fact_partners WHERE story_id = ?",
                [(sid,) for sid, _, p in rows if p is None],
            )
            self._keep_stories("fact_partners", keep)

    def digest(self, story_id: str) -> dict[str, Any] | None:
        sid = self.resolve_story(story_id) or story_id
        row = self.db.execute("SELECT data FROM digests WHERE story_id = ?", (sid,)).fetchone()
        return json.loads(row["data"]) if row else None

    def digests(self) -> list[dict[str, Any]]:
        order = {s["id"]: n for n, s in enumerate(self.stories())}
        found = [json.loads(r["data"]) for r in self.db.execute("SELECT data FROM digests")]
        return sorted(found, key=lambda d: order.get(d["story"], len(order)))

    def digests_of(self, story_ids: list[str]) -> list[dict[str, Any]]:
        """The digests of these stories (those made), in the order given."""
        sql = "SELECT story_id, data FROM digests WHERE story_id IN ({marks})"
        found = {r[0]: r[1] for r in self._in_chunks(sql, story_ids)}
        return [json.loads(found[s]) for s in story_ids if s in found]

    def iter_digests(self) -> Iterator[dict[str, Any]]:
        """:meth:`digests`, one at a time (in their stories' order; any whose story is gone
        last, as stored)."""
        order = (
            "SELECT d.rowid FROM digests d LEFT JOIN stories s ON s.id = d.story_id ORDER BY"
            " s.id IS NULL, s.last_seen IS NULL, s.last_seen DESC, s.size DESC, s.id, d.rowid"
        )
        for data in self._ordered("digests", order):
            yield json.loads(data)
