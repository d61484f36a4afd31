"""The library's front door: a corpus of articles in a store, and what storyline found."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from storyline.config import Settings
from storyline.pipeline import Progress, RunResult, run_pipeline
from storyline.records import Article
from storyline.store import Store
from storyline.store.lock import writer_lock


class Corpus:
    """Articles in a store, with methods to add more and to read what was found.

    Whatever writes (``add``, story corrections, rebuilds) holds the store's writer lock
    (``storyline.store.lock``): another process writing the same store raises StoreBusy,
    after waiting up to ``wait`` seconds for it to finish.
    """

    def __init__(
        self, db: str | Path = ":memory:", settings: Settings | None = None, wait: float = 0.0
    ) -> None:
        self.settings = settings or Settings()
        self.store = Store(db)
        self.last_run: RunResult | None = None
        self.wait = wait
        self._writing_depth = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The writer lock, held once however deeply the corpus's writes nest."""
        if self._writing_depth:
            self._writing_depth += 1
            try:
                yield
            finally:
                self._writing_depth -= 1
            return
        with writer_lock(self.store.path, self.wait):
            self._writing_depth = 1
            try:
                yield
            finally:
                self._writing_depth = 0

    def add(
        self, inputs: Iterable[str | Path], progress: Progress | None = None, engine: Any = None
    ) -> RunResult:
        """Ingest inputs (files, folders, globs) and run every stage on what is new; the
        per-article work on ``engine`` (``storyline.engine.make_engine``), here when None."""
        with self.writing():
            self.last_run = run_pipeline(
                self.store, [str(i) for i in inputs], self.settings, progress, engine=engine
            )
        return self.last_run

    def export_parquet(self, folder: str | Path) -> dict[str, int]:
        """Every table of the store as ``folder/TABLE.parquet`` (``storyline.store.parquet``)."""
        from storyline.store.parquet import export_parquet

        return export_parquet(self.store, folder)

    def import_parquet(self, folder: str | Path) -> dict[str, int]:
        """Load an export (``export_parquet``, or a Ray run's ``--parquet``) into this store,
        which must be empty; all or nothing."""
        from storyline.store.parquet import import_parquet

        with self.writing():
            return import_parquet(folder, self.store)

    def articles(self) -> Iterator[Article]:
        """Articles in canonical order (published time, then id)."""
        return self.store.iter_articles()

    def article(self, article_id: str) -> Article:
        """One article by id or unique id prefix; KeyError names the ambiguity."""
        found = self.store.get_article(article_id)
        if found is not None:
            return found
        matches = self.store.find_article(article_id) if article_id else []
        if len(matches) == 1:
            found = self.store.get_article(matches[0])
            assert found is not None
            return found
        if not matches:
            raise KeyError(
                f"no article with id {article_id!r}; list them with `storyline articles`"
            )
        raise KeyError(f"id prefix {article_id!r} is ambiguous: {', '.join(matches)}")

    def links(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Reuse links (source, copy, kind, direction, reasons, coverage, aligned pairs)."""
        return [ln for ln in self.store.links() if kind is None or ln["kind"] == kind]

    def compare(self, a: str, b: str) -> dict[str, Any]:
        """Two articles aligned: the stored comparison, or one made now; with why no link."""
        from storyline.embed import embedder_of
        from storyline.reuse.decision import load_decision
        from storyline.reuse.fingerprint import Fingerprinter, exact_hash, jaccard_estimate
        from storyline.reuse.kinds import ArticleView, PairStats, explain
        from storyline.reuse.links import compare

        art_a, art_b = self.article(a), self.article(b)
        views = {
            x.id: ArticleView(x.id, x.source, x.published, [s.text for s in x.sentences], x.credits)
            for x in (art_a, art_b)
        }
        stored = self.store.link_between(art_a.id, art_b.id)
        if stored is None or (not stored.get("pairs") and stored.get("kind")):
            cfg = self.settings.reuse
            va, vb = views[art_a.id], views[art_b.id]
            embed = embedder_of(self.settings.embed).encode
            sigs = Fingerprinter(cfg.shingle_size, cfg.num_perm).signatures(
                [" ".join(va.sentences), " ".join(vb.sentences)]
            )
            link = compare(
                va,
                vb,
                embed,
                load_decision(cfg.decision_model or None),
                cfg,
                jaccard_estimate(sigs[0], sigs[1]),
                exact_hash(" ".join(va.sentences)) == exact_hash(" ".join(vb.sentences)),
            )
            stored = link.to_json(views)
            stored["stored"] = False
        else:
            stored["stored"] = True
        stats = PairStats(**stored["measures"])
        stored["why_not"] = explain(stats, self.settings.reuse) if not stored["kind"] else []
        stored["articles"] = {
            x.id: {
                "id": x.id,
                "title": x.title,
                "source": x.source,
                "published": x.published,
                "url": x.url,
                "sentences": views[x.id].sentences,
            }
            for x in (art_a, art_b)
        }
        return stored

    def search(
        self, query: str, limit: int = 20, offset: int = 0, mark: tuple[str, str] = ("[", "]")
    ) -> dict[str, Any]:
        """Articles whose title or clean text hold every word of ``query``, best first.

        Returns ``total`` and the ``results`` (id, title, source, published, snippet with
        the matched words between ``mark``, and the article's ``story``).
        """
        hits = self.store.search(query, limit, offset, mark)
        story_of = self.store.stories_of(h["id"] for h in hits)
        for hit in hits:
            hit["story"] = story_of.get(hit["id"])
        return {"query": query, "total": self.store.search_total(query), "results": hits}

    def stories(self) -> list[dict[str, Any]]:
        """Stories, latest first (id, headline, articles, first/last seen, outlets, sources)."""
        return self.store.stories()

    def story(self, story_id: str) -> dict[str, Any]:
        """One story by id, alias or unique id prefix."""
        found = self.store.story(story_id)
        if found is None:
            raise KeyError(f"no story {story_id!r}; list them with `storyline stories`")
        return found

    def digest(self, story_id: str) -> dict[str, Any] | None:
        """A story's digest (summary, facts, quotes, entities, conflicts); None until made."""
        return self.store.digest(self.story(story_id)["id"])

    def digests(self) -> list[dict[str, Any]]:
        return self.store.digests()

    def quotes(self, speaker: str | None = None) -> list[dict[str, Any]]:
        """Every story's quotes (with ``story``), those of one speaker when given (any part
        of the name, case-insensitive)."""
        out = []
        for d in self.store.digests():
            for q in d.get("quotes", []):
                if speaker and speaker.lower() not in (q.get("speaker") or "").lower():
                    continue
                out.append({"story": d["story"], **q})
        return out

    def merge_stories(self, a: str, b: str) -> dict[str, Any]:
        """Join two stories (kept across later runs); returns the merged story."""
        with self.writing():
            sa, sb = self.story(a), self.story(b)
            self.store.add_override("merge", [*sa["articles"], *sb["articles"]])
            self._restory()
            return self.story(sa["id"] if sa["age"] <= sb["age"] else sb["id"])

    def split_story(self, story_id: str, articles: list[str]) -> dict[str, Any]:
        """Set articles apart from a story as a story of their own (kept across later runs)."""
        with self.writing():
            st = self.story(story_id)
            ids = [self.article(a).id for a in articles]
            missing = [a for a in ids if a not in st["articles"]]
            if missing:
                raise KeyError(f"not in story {st['id']}: {', '.join(missing)}")
            self.store.add_override("split", ids)
            self._restory()
            return self.story(
                self.store.db.execute(
                    "SELECT story_id FROM story_members WHERE article_id = ?", (ids[0],)
                ).fetchone()[0]
            )

    def rebuild_stories(self, engine: Any = None) -> dict[str, Any]:
        """Cluster every article again in batch (ids kept, corrections applied), as ``add`` does
        by itself once enough is new (``[stories] rebuild_share``); changed digests are made
        again, on ``engine`` (here when None). Returns how the stories were found."""
        with self.writing():
            how = self._restory(engine)
            linked = self.store.db.execute("SELECT COUNT(*) FROM articles WHERE stage = 'linked'")
            self.store.set_state("batch_articles", int(linked.fetchone()[0]))
        return how

    def _restory(self, engine: Any = None) -> dict[str, Any]:
        from storyline.embed import StoredEmbedder, embedder_of
        from storyline.pipeline import STAGES, run_pipeline
        from storyline.stories.build import build_stories

        e = self.settings.embed
        embed = StoredEmbedder(embedder_of(e), self.store)
        how: dict[str, Any] = {}
        stories, aliases = build_stories(self.store, self.settings, how, embed.encode, engine)
        self.store.save_stories(stories, aliases)
        # Corrected stories get their digests made again.
        digest = [s for s in STAGES if s[0] == "digest"]
        run_pipeline(self.store, [], self.settings, stages=digest, engine=engine)
        return how

    def report(self) -> dict[str, Any]:
        from storyline.report import build_report

        run = self.last_run
        return build_report(self.store, self.settings, run.counts if run else None)

    def write_report(
        self, out_dir: str | Path, formats: tuple[str, ...] = ("json", "html")
    ) -> list[Path]:
        """report.json (everything, streamed from the store) and report.html / report.md
        (the newest ``[report] html_stories`` stories) in ``out_dir``."""
        from storyline.report.build import write_store_reports

        run = self.last_run
        return write_store_reports(
            self.store, self.settings, out_dir, formats, run.counts if run else None
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def analyze(
    inputs: Iterable[str | Path], db: str | Path = ":memory:", settings: Settings | None = None
) -> Corpus:
    """Read ``inputs`` into a corpus (in memory unless ``db`` names a file) and run every stage."""
    corpus = Corpus(db, settings)
    corpus.add(inputs)
    return corpus
