"""The pipeline: canonical order, incremental runs, and resuming after a kill at any point."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from builders import BODY, page, write_jsonl
from storyline import Corpus, Settings, Store, analyze


def make_inputs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(
        root / "a.jsonl",
        [
            {
                "text": f"{BODY} Note {i}.",
                "url": f"https://a.example/{i}",
                "source": "Bend Post",
                "published": f"2026-03-0{1 + i % 5}T0{i % 9}:00:00Z",
                "title": f"Item {i}",
            }
            for i in range(8)
        ],
    )
    for i in range(4):
        (root / f"t{i}.txt").write_text(
            f"Home > News > Region\n\n{BODY}\n\nUpdate {i}: crews returned.\n\nSubscribe to keep reading your local news."
        )
    (root / "p.html").write_text(
        page("Rain", "https://r.example/2", "Ridge Times", "2026-03-04T01:00:00Z")
    )
    return root


def comparable(store: Store) -> list[tuple]:
    rows = []
    for a in store.iter_articles():
        rows.append(
            (
                a.id,
                a.published,
                a.title,
                a.clean,
                tuple(a.removed),
                tuple(a.credits),
                tuple((s.index, s.text, s.start, s.end) for s in a.sentences),
            )
        )
    return rows


def test_order_of_inputs_does_not_matter(tmp_path: Path) -> None:
    src = make_inputs(tmp_path / "in")
    files = sorted(str(p) for p in src.iterdir())
    one = analyze(files)
    two = analyze(list(reversed(files)))
    assert comparable(one.store) == comparable(two.store)
    a, b = one.report(), two.report()
    assert [x["id"] for x in a["articles"]] == [x["id"] for x in b["articles"]]


def test_canonical_order_is_published_then_id(tmp_path: Path) -> None:
    corpus = analyze([str(make_inputs(tmp_path / "in"))])
    keys = [(a.published is None, a.published or "", a.id) for a in corpus.articles()]
    assert keys == sorted(keys)


def test_incremental_run_does_only_new_work(tmp_path: Path) -> None:
    src = make_inputs(tmp_path / "in")
    db = tmp_path / "s.db"
    with Corpus(db) as c:
        c.add([str(src / "a.jsonl")])
    with Corpus(db) as c:
        result = c.add([str(src)])
        assert result.counts["articles_new"] == 5 and result.counts["articles_seen"] == 8
        assert result.counts["segmented"] == 5
        assert c.store.count_articles() == 13
        assert len(c.store.runs()) == 2


def test_site_template_lines_are_learned_across_an_outlets_articles(tmp_path: Path) -> None:
    records = [
        {
            "text": f"Story {i} opens with its own first line about topic {i}.\n\n{BODY} Detail {i}.\n\nRead more from the Bend Post newsroom",
            "url": f"https://bendpost.example/{i}",
            "source": "Bend Post",
        }
        for i in range(4)
    ]
    write_jsonl(tmp_path / "one.jsonl", records[:2])
    write_jsonl(tmp_path / "two.jsonl", records[2:])
    corpus = Corpus()
    corpus.add([str(tmp_path / "one.jsonl")])
    corpus.add([str(tmp_path / "two.jsonl")])
    for a in corpus.articles():
        assert "Read more from the Bend Post newsroom" not in (a.clean or "")
        assert any(r.text == "Read more from the Bend Post newsroom" for r in a.removed)


TOPICS = [
    (
        "The school board approved a new budget on Monday after a four-hour meeting.",
        "Teachers packed the hall and several spoke against cuts to the music program.",
    ),
    (
        "A freight train derailed outside the rail yard early Sunday, spilling grain.",
        "No one was hurt, and crews expect the line to reopen by Tuesday evening.",
    ),
    (
        "The city opened its third cooling center as temperatures climbed past 38 degrees.",
        "Volunteers handed out water bottles to people waiting for the buses downtown.",
    ),
    (
        "Voters will decide in May whether to fund a new library on the east side.",
        "Supporters gathered more than 4,000 signatures in six weeks to put it on the ballot.",
    ),
]


def test_template_in_the_middle_triggers_reclean_of_older_articles(tmp_path: Path) -> None:
    mid = "Live updates on every platform, every hour of the day"

    def rec(i: int) -> dict:
        first, second = TOPICS[i]
        filler = "It was the first time in years that so many of them had come to say so in public, and they said it would not be the last."
        return {
            "text": f"{first} {filler}\n\n{mid}\n\n{second} {filler}",
            "url": f"https://bendpost.example/{i}",
            "source": "Bend Post",
        }

    write_jsonl(tmp_path / "one.jsonl", [rec(0), rec(1)])
    write_jsonl(tmp_path / "two.jsonl", [rec(2)])
    corpus = Corpus()
    corpus.add([str(tmp_path / "one.jsonl")])
    assert all(mid in (a.clean or "") for a in corpus.articles())
    result = corpus.add([str(tmp_path / "two.jsonl")])
    assert result.counts["recleaned"] == 2
    for a in corpus.articles():
        assert mid not in (a.clean or "")
        assert any(r.reason.startswith("site template") for r in a.removed)
        assert len(a.sentences) == 4  # re-segmented after re-cleaning


def test_an_unchanged_template_does_not_send_the_clean_stage_through_older_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once an outlet's template lines are known, an add whose articles leave them as they
    were looks at no earlier article of the outlet (at 100,000 articles that was most of an
    add's time); one that changes them does, and recleans what it must."""
    mid = "Live updates on every platform, every hour of the day"
    foot = "Subscribe to the Bend Post for the stories that matter to you"

    def rec(i: int, lines: list[str]) -> dict:
        first, second = TOPICS[i % len(TOPICS)]
        return {"text": "\n\n".join([first, *lines, second]),
                "url": f"https://bendpost.example/{i}", "source": "Bend Post"}  # fmt: skip

    looked: list[str] = []
    real = Store.articles_with_paragraphs

    def spy(self: Store, source: str, hashes: list[str]) -> set[str]:
        looked.append(source)
        return real(self, source, hashes)

    monkeypatch.setattr(Store, "articles_with_paragraphs", spy)
    corpus = Corpus()
    for n, batch in enumerate([[0, 1, 2], [3], [4]]):
        write_jsonl(tmp_path / f"{n}.jsonl", [rec(i, [mid]) for i in batch])
        corpus.add([str(tmp_path / f"{n}.jsonl")])
    assert looked == ["Bend Post"]  # the first add learned the template; the next two left it
    write_jsonl(tmp_path / "foot.jsonl", [rec(i, [mid, foot]) for i in (5, 6, 7)])
    result = corpus.add([str(tmp_path / "foot.jsonl")])
    assert looked == ["Bend Post", "Bend Post"]  # a new template line: the outlet is checked
    assert result.counts["recleaned"] == 0  # no earlier article holds the new line
    assert all(mid not in (a.clean or "") for a in corpus.articles())


@pytest.mark.parametrize("shared", [(4, 250_000), (1, 0)])
def test_the_kept_template_counts_equal_a_count_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: tuple[int, int]
) -> None:
    """The clean stage counts only the new articles' paragraphs against what it kept of each
    outlet; after every add, what it kept equals counting every paragraph again. (With
    ``shared`` (1, 0), an outlet kept before the last add reads its new rows by its index.)"""
    import random

    import storyline.store as store_module

    monkeypatch.setattr(store_module, "SHARED_READ", shared)
    rng = random.Random(3)
    lines = ["Live updates on every platform", "Subscribe to the Bend Post today",
             "Share this story with a friend", "Follow us for more from the east side"]  # fmt: skip
    corpus = Corpus()
    n = compared = 0
    for batch in range(5):
        recs = []
        for _ in range(rng.randint(1, 4)):
            first, second = TOPICS[rng.randrange(len(TOPICS))]
            extra = rng.sample(lines, rng.randint(0, 3))
            source = rng.choice(["Bend Post", "River Times"])
            recs.append({"text": "\n\n".join([first, *extra, f"{second} ({n})"]),
                         "url": f"https://x.example/{n}", "source": source})  # fmt: skip
            n += 1
        write_jsonl(tmp_path / f"{batch}.jsonl", recs)
        corpus.add([str(tmp_path / f"{batch}.jsonl")])
        min_articles = corpus.settings.clean.repeat_min_articles
        for source in ("Bend Post", "River Times"):
            kept = corpus.store.state(f"templates:{min_articles}:{source}")
            if kept is not None:  # (an outlet no add touched keeps an older mark: compare counts)
                full = corpus.store.template_state(source, min_articles)
                assert (kept["total"], kept["candidates"]) == (full["total"], full["candidates"])
                compared += 1
    assert compared >= 8  # each outlet's kept counts, after most adds
    assert any(corpus.store.template_hashes(s, min_articles) for s in ("Bend Post", "River Times"))


def test_template_counts_kept_late_or_never_are_still_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed after cleaning its articles but before keeping the outlet's counts: the
    next add still counts those articles (the kept counts say which paragraphs they cover)."""
    line = "Live updates on every platform"
    corpus = Corpus()
    min_articles = corpus.settings.clean.repeat_min_articles

    def add(name: str, first: int, n: int) -> None:
        recs = [{"text": f"{TOPICS[i % len(TOPICS)][0]}\n\n{line}\n\n{TOPICS[i % len(TOPICS)][1]} {i}",
                 "url": f"https://bendpost.example/{i}", "source": "Bend Post"}
                for i in range(first, first + n)]  # fmt: skip
        write_jsonl(tmp_path / name, recs)
        corpus.add([str(tmp_path / name)])

    add("a.jsonl", 0, 3)
    with monkeypatch.context() as m:  # as if killed just before keeping the counts
        m.setattr(Store, "keep_template_state", lambda *a, **k: None)
        add("b.jsonl", 3, 2)
    add("c.jsonl", 5, 1)
    kept = corpus.store.state(f"templates:{min_articles}:Bend Post")
    full = corpus.store.template_state("Bend Post", min_articles)
    assert kept["total"] == full["total"] == 6
    assert kept["candidates"] == full["candidates"] and len(full["candidates"]) == 1


def test_a_template_verdict_is_read_again_only_when_its_first_carriers_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeated line's verdict reads its first 25 carriers by id: an add whose carriers all
    sort after them keeps the verdict without reading any article; one that sorts before
    them has it read again. Either way the kept counts equal a count from scratch."""
    from storyline.ids import article_id

    line = "Subscribe to the Bend Post today"
    corpus = Corpus()
    min_articles = corpus.settings.clean.repeat_min_articles
    urls = (f"https://bendpost.example/{i}" for i in range(10_000))
    by_id = {u: article_id(u, None, "") for u in itertools.islice(urls, 2000)}
    low = [u for u, i in by_id.items() if i < "4"][:30]
    high = [u for u, i in by_id.items() if i > "f"][:2]
    lowest = min(by_id, key=by_id.__getitem__)
    reads: list[int] = []
    real = Store._reads_as_template

    def spy(self: Store, *args: Any) -> bool:
        reads.append(1)
        return real(self, *args)

    monkeypatch.setattr(Store, "_reads_as_template", spy)
    for name, batch in (("a", low), ("b", high[:1]), ("c", high[1:]), ("d", [lowest])):
        recs = [{"text": f"{' '.join(TOPICS[n % len(TOPICS)] * 2)}\n\n{line}",  # long, then short
                 "url": url, "source": "Bend Post"} for n, url in enumerate(batch)]  # fmt: skip
        write_jsonl(tmp_path / f"{name}.jsonl", recs)
        reads.clear()
        corpus.add([str(tmp_path / f"{name}.jsonl")])
        kept = corpus.store.state(f"templates:{min_articles}:Bend Post")
        with monkeypatch.context() as m:
            m.setattr(Store, "_reads_as_template", real)
            full = corpus.store.template_state("Bend Post", min_articles)
        assert (kept["total"], kept["candidates"]) == (full["total"], full["candidates"])
        assert len(full["candidates"]) == 1
        assert (len(reads) == 0) == (name in ("b", "c")), name


def test_articles_are_cleaned_by_the_current_template_marks_after_any_adds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An add reads again only the earlier articles holding a template line whose mark
    changed (a new line, one gone, one turned strong or weak); after random adds, some of
    them killed before the stage kept its marks, every article's cleaning is that of the
    outlet's current template lines and marks."""
    import random

    from storyline.ingest.clean import paragraph_signature
    from storyline.pipeline import _sig
    from storyline.store import templates_of

    rng = random.Random(5)
    lines = ["Live updates on every platform", "Subscribe to the Bend Post today",
             "Share this story with a friend", "Follow us for more from the east side",
             "Read the full story in the print edition"]  # fmt: skip
    looked: list[tuple[int, int]] = []  # (lines looked up, template lines of the outlet)
    real = Store.articles_with_paragraphs

    def spy(self: Store, source: str, hashes: Any) -> set[str]:
        hashes = list(hashes)
        every = templates_of(self.template_state(source, 3, kept=True))
        looked.append((len(hashes), len(every)))
        return real(self, source, hashes)

    keep = Store.set_state

    def killed(self: Store, key: str, value: Any) -> None:
        if not key.startswith("template:") and not (
            key.startswith("template_dirty:") and not value
        ):
            keep(self, key, value)

    monkeypatch.setattr(Store, "articles_with_paragraphs", spy)
    corpus = Corpus()
    share = corpus.settings.clean.template_sentence_share
    n = checked = 0
    for batch in range(12):
        recs = []
        for _ in range(rng.randint(1, 4)):
            first, second = TOPICS[rng.randrange(len(TOPICS))]
            held = [x for k, x in enumerate(lines) if rng.random() < 0.7 - 0.12 * k]
            source = rng.choice(["Bend Post", "River Times"])
            recs.append({"text": "\n\n".join([first, *held, f"{second} ({n})"]),
                         "url": f"https://x.example/{n}", "source": source})  # fmt: skip
            n += 1
        write_jsonl(tmp_path / f"{batch}.jsonl", recs)
        with monkeypatch.context() as m:
            if rng.random() < 0.3:  # killed after cleaning, before the marks were kept
                m.setattr(Store, "set_state", killed)
            corpus.add([str(tmp_path / f"{batch}.jsonl")])
        store = corpus.store
        for source in ("Bend Post", "River Times"):
            now = templates_of(
                store.template_state(source, corpus.settings.clean.repeat_min_articles)
            )
            for row in store.db.execute(
                "SELECT text, clean_sig FROM articles WHERE source = ?", (source,)
            ):
                mine = set(now) & {h for h, _ in paragraph_signature(row["text"])}
                assert row["clean_sig"] == _sig(mine, now, share)
                checked += 1
    assert checked > 150
    assert any(0 < k < every for k, every in looked)  # some adds looked up only changed lines


def test_changed_template_lines_from_kept_marks_or_an_older_stores_shape() -> None:
    from storyline.pipeline import _changed_lines, _marks, _sig

    old = {"a": 0.9, "b": 0.1, "c": 0.5}
    new = {"a": 0.9, "b": 0.6, "d": 0.2}  # b turned strong, c gone, d new
    marks = _marks(new, 0.3)
    assert marks == ["a+", "b+", "d"]
    assert _changed_lines(_marks(old, 0.3), marks, []) == {"b", "c", "d"}
    assert _changed_lines(marks, marks, ["a"]) == {"a"}  # left by a run killed mid-way
    assert _changed_lines(None, marks, []) == {"a", "b", "d"}
    # A store from before the marks were kept holds the shape (``_sig`` of every line).
    assert _changed_lines(_sig(set(new), new, 0.3), marks, []) == set()
    assert _changed_lines(_sig(set(old), old, 0.3), marks, []) == {"a", "b", "d"}


def test_versions_of_one_story_are_not_a_template(tmp_path: Path) -> None:
    """An outlet's updates of one story share most paragraphs: that is reporting, not template."""
    write_jsonl(
        tmp_path / "v.jsonl",
        [
            {
                "text": f"{BODY}\n\nUpdate {i}: the pumps ran until dusk on street {i}.",
                "url": f"https://bendpost.example/v{i}",
                "source": "Bend Post",
            }
            for i in range(4)
        ],
    )
    corpus = analyze([str(tmp_path)])
    for a in corpus.articles():
        assert "Flood waters rose" in (a.clean or "")
        assert not any(r.reason.startswith("site template") for r in a.removed)


KILL_POINTS = [
    "ingest:3",
    "ingest:9",
    "clean:1",
    "clean:7",
    "segment:2",
    "segment:12",
    "reuse:1",
    "stories:1",
]
# The subprocesses use the hashing embedder: this test is about resuming, not about the model.
FAST = '[embed]\nmodel = "hashing"\n'


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_run_resumes_and_loses_nothing(tmp_path: Path, point: str) -> None:
    src = make_inputs(tmp_path / "in")
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    reference = analyze([str(src)], settings=Settings.load(config))
    db = tmp_path / "killed.db"
    cmd = [
        sys.executable,
        "-m",
        "storyline.cli",
        "add",
        str(src),
        "--db",
        str(db),
        "--config",
        str(config),
    ]
    env = {**os.environ, "STORYLINE_FAULT": point}
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 70, killed.stderr
    with Corpus(db) as c:
        partial = c.store.count_articles()
    assert partial <= 13  # the store opens cleanly after the kill
    env.pop("STORYLINE_FAULT")
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    with Corpus(db) as c:
        assert comparable(c.store) == comparable(reference.store)
        assert c.store.links(kinds_only=False) == reference.store.links(kinds_only=False)
        assert c.store.story_members() == reference.store.story_members()
        statuses = [r["status"] for r in c.store.runs()]
        assert statuses == ["running", "done"]  # the killed run is visible as unfinished


def test_a_stock_sentence_of_reporting_is_not_template(tmp_path: Path) -> None:
    """A line that recurs in a few of an outlet's stories is reporting; template text is in most."""
    stock = "The agency did not respond to a request for comment."
    filler = "It was the first time in years that so many of them had come to say so in public, and they said it would not be the last."
    records = []
    for i in range(12):
        first, second = TOPICS[i % 4]
        tail = f"\n\n{stock}" if i < 3 else ""
        records.append(
            {
                "text": f"{first} {filler} Item {i}.\n\n{second} {filler}{tail}",
                "url": f"https://bendpost.example/s{i}",
                "source": "Bend Post",
            }
        )
    write_jsonl(tmp_path / "s.jsonl", records)
    corpus = analyze([str(tmp_path)])
    carrying = [a for a in corpus.articles() if stock in a.text]
    assert len(carrying) == 3
    assert all(stock in (a.clean or "") for a in carrying)


@pytest.mark.parametrize("point", ["clean:1", "reuse:1", "stories:1", "digest:1"])
def test_killed_add_to_a_store_resumes_and_loses_nothing(tmp_path: Path, point: str) -> None:
    """An ``add`` to a stored corpus killed mid-stage (its indexes half written, its stories
    being placed by the stream) resumes to the same store as an add that was never killed."""
    src = make_inputs(tmp_path / "in")
    files = sorted(str(p) for p in src.iterdir())
    config = tmp_path / "fast.toml"
    config.write_text(FAST + "[stories]\nrebuild_share = 0.95\n")  # the stream places the add
    settings = Settings.load(config)
    reference = Corpus(tmp_path / "reference.db", settings)
    reference.add(files[:-2])
    reference.add(files[-2:])
    db = tmp_path / "killed.db"
    with Corpus(db, settings) as c:
        c.add(files[:-2])
    cmd = [sys.executable, "-m", "storyline.cli", "add", *files[-2:], "--db", str(db),
           "--config", str(config)]  # fmt: skip
    env = {**os.environ, "STORYLINE_FAULT": point}
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 70, killed.stderr
    env.pop("STORYLINE_FAULT")
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    with Corpus(db) as c:
        assert c.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert comparable(c.store) == comparable(reference.store)
        assert c.store.links(kinds_only=False) == reference.store.links(kinds_only=False)
        assert c.store.story_members() == reference.store.story_members()
        index = "SELECT * FROM {} ORDER BY 1, 2"
        for table in ("lsh_bands", "term_index", "neighbours"):
            rows = c.store.db.execute(index.format(table)).fetchall()
            assert [tuple(r) for r in rows] == [
                tuple(r) for r in reference.store.db.execute(index.format(table)).fetchall()
            ], table
    reference.close()


def test_one_storys_failed_digest_is_reported_and_the_rest_are_made(
    tmp_path: Path, example_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storyline.digest

    real = storyline.digest.build_digest
    failing: list[str] = []

    def build(docs: list, *args: object, **kwargs: object) -> dict:
        if not failing and any("strike" in (d.title or "").lower() for d in docs):
            failing.append(str(args[2]))  # the story id
        if failing and args[2] == failing[0]:
            raise RuntimeError("no digest today")
        return real(docs, *args, **kwargs)

    monkeypatch.setattr(storyline.digest, "build_digest", build)
    with Corpus(tmp_path / "s.db") as corpus:
        result = corpus.add([str(example_corpus)])
        stories = {st["id"] for st in corpus.store.stories()}
        [problem] = [p for p in result.problems if "digest failed" in p.reason]
        assert problem.path == f"story {failing[0]}" and "no digest today" in problem.reason
        assert failing[0] in stories and corpus.store.digest(failing[0]) is None
        assert all(corpus.store.digest(s) is not None for s in stories - {failing[0]})
