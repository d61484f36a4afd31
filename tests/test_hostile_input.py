"""Hostile input: entity tricks in feeds, decompression bombs, oversized records, deep pages and
endless lines. Each is reported with the file, the line or record and the limit it hit; the run
finishes with the rest kept, and nothing from outside the inputs reaches the store or reports."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

from builders import BODY, page, rss, warc_bytes, write_jsonl
from storyline import analyze
from storyline.config import Settings
from storyline.ingest import Limits, iter_inputs
from storyline.ingest.limits import DEFAULT_LIMITS, html_depth
from storyline.records import Problem, RawDoc

FAST = {"embed": {"model": "hashing"}}
SECRET = "storyline-secret-7f3a"  # what an external entity would leak into the store


def _items(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[list[RawDoc], list[Problem]]:
    items = list(iter_inputs([str(path)], limits=limits))
    return (
        [i for i in items if isinstance(i, RawDoc)],
        [i for i in items if isinstance(i, Problem)],
    )


def _laughs(levels: int = 9) -> str:
    ents = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)
    ]
    return "<!DOCTYPE rss [" + "".join(ents) + "]>"


def _feed(doctype: str, description: str) -> str:
    good = "The harbour council voted on Tuesday to reopen the old ferry pier after repairs."
    return (
        f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>Hostile</title>'
        f"<item><title>One</title><description>{description}</description></item>"
        f"<item><title>Two</title><description>{good}</description></item>"
        "</channel></rss>"
    )


def _hostile_feeds(folder: Path, secret_file: Path) -> dict[str, str]:
    """Billion laughs, quadratic blow-up and an external entity, each as a feed file."""
    feeds = {
        "laughs.xml": _feed(_laughs(), "&lol9;"),
        "quadratic.xml": _feed(f'<!DOCTYPE rss [<!ENTITY a "{"A" * 50_000}">]>', "&a;" * 5_000),
        "external.xml": _feed(
            f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret_file}">]>', "Leak: &xxe;"
        ),
        "parameter.xml": _feed(
            f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{secret_file}"> %p;]>', "Nothing."
        ),
    }
    for name, text in feeds.items():
        (folder / name).write_text(text)
    return feeds


def _everything_written(db: Path, out: Path | None = None) -> str:
    """Every value of every table of the store, and every file of the reports, as one text."""
    con = sqlite3.connect(db)
    parts = []
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for row in con.execute(f'SELECT * FROM "{table}"'):
            parts.extend(str(v) for v in row if not isinstance(v, bytes))
            parts.extend(v.decode("latin-1") for v in row if isinstance(v, bytes))
    con.close()
    if out is not None:
        parts.extend(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    return "\n".join(parts)


def test_feeds_with_entity_tricks_are_reported_and_nothing_leaks(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(f"root:x:0:0:{SECRET}\n")
    inputs = tmp_path / "in"
    inputs.mkdir()
    _hostile_feeds(inputs, secret)
    (inputs / "good.txt").write_text(BODY)
    (inputs / "xhtml.html").write_text(
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        + page("Pier", "https://x.example/p", "X", "2024-03-01", BODY).replace(
            "<p>", "<p>&xxe; ", 1
        )
    )
    db = tmp_path / "s.db"
    corpus = analyze([str(inputs)], db=db, settings=Settings.from_dict(FAST))
    result = corpus.last_run
    refused = {Path(p.path).name: p.reason for p in result.skipped}
    for name in ("laughs.xml", "quadratic.xml", "external.xml", "parameter.xml"):
        assert "entity expansion is disabled" in refused[name], refused
    assert corpus.store.count_articles() == 2  # good.txt and the XHTML page, its entity unread
    out = tmp_path / "report"
    corpus.write_report(out)
    corpus.close()
    written = _everything_written(db, out)
    assert SECRET not in written
    assert "laughs.xml" in (out / "report.json").read_text()


def test_entity_free_feeds_and_doctypes_still_read(tmp_path: Path) -> None:
    """Refusing entity declarations must not refuse ordinary feeds, with or without a DOCTYPE."""
    html = "".join(f"<p>{p}</p>" for p in BODY.split("\n\n"))
    items = [
        {
            "title": "Pier",
            "link": "https://v.example/1",
            "date": "Tue, 05 Mar 2024 10:00:00 GMT",
            "html": html,
        }
    ]
    (tmp_path / "plain.xml").write_text(rss(items))
    (tmp_path / "doctype.xml").write_text(
        rss(items).replace(
            "<rss ",
            '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss ',
            1,
        )
    )
    docs, problems = _items(tmp_path)
    assert len(docs) == 2, problems
    assert not [p for p in problems if p.severity == "skipped"]


def test_gzip_bomb_stops_at_the_expansion_limit_and_keeps_what_came_before(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    good = json.dumps({"text": BODY, "url": "https://a.example/1"}).encode() + b"\n"
    with gzip.open(bomb, "wb", compresslevel=9) as gz:
        gz.write(good)
        gz.write(b'{"text": "')
        zeros = b" " * (1 << 20)
        for _ in range(64):  # 64 MiB of blanks in about 64 KiB
            gz.write(zeros)
        gz.write(b'"}\n')
    assert bomb.stat().st_size < 1 << 20
    docs, problems = _items(bomb)
    assert len(docs) == 1
    (problem,) = problems
    assert "max_expansion" in problem.reason and problem.line == 2, problem


def test_total_decompressed_size_limit(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl.gz",
        [{"text": f"{BODY} {i}", "url": f"https://a.example/{i}"} for i in range(400)],
        gz=True,
    )
    docs, problems = _items(path, Limits(max_decompressed_mb=0.1))
    assert 0 < len(docs) < 400
    assert "max_decompressed_mb" in problems[-1].reason


def test_jsonl_line_over_the_record_limit_is_skipped_and_the_next_read(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"text": "x " * 20_000, "url": "https://a.example/big"},
            {"text": BODY, "url": "https://a.example/ok"},
        ],
    )
    docs, problems = _items(path, Limits(max_record_mb=0.01))
    assert [d.url for d in docs] == ["https://a.example/ok"]
    (problem,) = problems
    assert problem.line == 1 and "max_record_mb" in problem.reason
    assert docs[0].origin.line == 2  # line numbers still count the skipped line


def test_warc_record_over_the_record_limit(tmp_path: Path) -> None:
    big = page("Big", "https://w.example/big", "W", "2024-03-01", (BODY + "\n\n") * 100)
    small = page("Small", "https://w.example/small", "W", "2024-03-01")
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(
        warc_bytes([("https://w.example/big", big), ("https://w.example/small", small)], gz=True)
    )
    docs, problems = _items(path, Limits(max_record_mb=0.02))
    assert [d.url for d in docs] == ["https://w.example/small"]
    skipped = [p for p in problems if p.severity == "skipped"]
    assert len(skipped) == 1 and "max_record_mb" in skipped[0].reason
    assert skipped[0].record == 1  # the warcinfo record is 0


def test_file_read_whole_over_the_size_limit(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY * 40)
    with gzip.open(tmp_path / "b.txt.gz", "wt") as fh:
        fh.write(BODY * 40)
    docs, problems = _items(tmp_path, Limits(max_file_mb=0.01))
    assert not docs
    assert {Path(p.path).name for p in problems} == {"a.txt", "b.txt.gz"}
    assert all("max_file_mb" in p.reason for p in problems)


def test_deeply_nested_html_is_reported_not_read_as_empty(tmp_path: Path) -> None:
    body = "".join(f"<p>{p}</p>" for p in BODY.split("\n\n"))
    (tmp_path / "deep.html").write_text(
        "<html><body>" + "<div>" * 5000 + body + "</div>" * 5000 + "</body></html>"
    )
    (tmp_path / "fine.html").write_text(page("Fine", "https://f.example/1", "F", "2024-03-01"))
    docs, problems = _items(tmp_path)
    assert [d.title for d in docs] == ["Fine"]
    (problem,) = problems
    assert problem.path.endswith("deep.html") and "max_html_depth" in problem.reason


def test_html_depth_ignores_unclosed_paragraphs_and_void_elements() -> None:
    sloppy = "<html><body><div>" + "<p>para<br><img src=x>" * 1000 + "</div></body></html>"
    assert html_depth(sloppy, 250) == 1
    assert html_depth("<div>" * 300, 250) == 251  # counted only as far as needed


def test_long_article_and_long_line_are_cut_with_a_warning(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"text": BODY + "\n\n" + "word " * 5000, "url": "https://a.example/line"},
            {"text": (BODY + "\n\n") * 50, "url": "https://a.example/long"},
        ],
    )
    limits = Limits(max_line_chars=10_000, max_article_chars=20_000)
    docs, problems = _items(path, limits)
    assert [len(d.text) <= 20_000 for d in docs] == [True, True]
    line, long = docs
    assert max(len(x) for x in line.text.split("\n")) == 10_000
    assert any("line length limit" in r.reason for r in line.removed)
    assert any("article length limit" in r.reason for r in long.removed)
    assert {(p.line, p.severity) for p in problems} == {(1, "warning"), (2, "warning")}
    assert any("max_line_chars" in p.reason for p in problems)
    assert any("max_article_chars" in p.reason for p in problems)


def test_sentences_past_the_limit_are_not_used_and_said_so(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY)
    settings = Settings.from_dict({**FAST, "ingest": {"max_sentences": 3}})
    corpus = analyze([str(tmp_path)], settings=settings)
    (article,) = list(corpus.articles())
    assert len(corpus.article(article.id).sentences) == 3
    (problem,) = corpus.last_run.problems
    assert problem.severity == "warning" and "max_sentences" in problem.reason
    assert problem.path.endswith("a.txt")


def test_lone_surrogates_and_control_characters_do_not_end_the_run(tmp_path: Path) -> None:
    """JSON's "\\ud800" escapes decode to characters SQLite cannot store: they used to end the
    whole run at the first such record (found by the property tests)."""
    bad = {"text": f"Bad \ud800 and NUL \x00 here. {BODY}", "url": "https://a.example/1",
           "title": "T\udc01"}  # fmt: skip
    (tmp_path / "a.jsonl").write_text(
        json.dumps(bad) + "\n" + json.dumps({"text": BODY, "url": "https://a.example/2"}) + "\n"
    )
    corpus = analyze([str(tmp_path)], settings=Settings.from_dict(FAST))
    assert corpus.store.count_articles() == 2
    first = next(a for a in corpus.articles() if a.url == "https://a.example/1")
    assert "\ufffd" in first.text and "\x00" not in first.text and first.title == "T\ufffd"
    assert any(f.startswith("text:unstorable-characters-replaced") for f in first.flags)
