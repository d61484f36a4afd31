"""The CLI is thin: it parses, calls the library and prints tables or --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builders import BODY, write_jsonl
from storyline.cli import app

runner = CliRunner()


def make(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    write_jsonl(
        src / "n.jsonl",
        [
            {
                "text": BODY,
                "title": "Levee",
                "url": "https://a.example/1",
                "source": "Bend Post",
                "published": "2026-03-03T01:00:00Z",
            },
            {
                "text": BODY + " More.",
                "title": "Levee 2",
                "url": "https://a.example/2",
                "source": "Ridge Times",
            },
        ],
    )
    (src / "empty.txt").write_text("")
    return src


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "add", "articles", "show"):
        assert command in result.output


def test_run_writes_reports_and_prints_a_summary(tmp_path: Path) -> None:
    src = make(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output and "skipped" in result.output and "empty.txt" in result.output
    assert (out / "report.json").exists() and (out / "report.html").exists()
    assert (out / "storyline.db").exists()  # the store sits beside the reports by default


def test_run_writes_parquet_beside_the_reports(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    src = make(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", str(src), "--out", str(out), "--parquet", str(out / "parquet"), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert str(out / "parquet") in summary["written"]
    titles = pq.read_table(out / "parquet" / "articles.parquet").column("title").to_pylist()
    assert sorted(titles) == ["Levee", "Levee 2"]


def test_run_json_and_incremental_add(tmp_path: Path) -> None:
    src = make(tmp_path)
    db = tmp_path / "s.db"
    first = json.loads(
        runner.invoke(
            app, ["run", str(src), "--db", str(db), "--out", str(tmp_path / "o"), "--json"]
        ).stdout
    )
    assert first["counts"]["articles_new"] == 2 and first["counts"]["skipped"] == 1
    (src / "more.txt").write_text("A third report. " + BODY)
    again = json.loads(runner.invoke(app, ["add", str(src), "--db", str(db), "--json"]).stdout)
    assert again["counts"]["articles_new"] == 1 and again["counts"]["articles_seen"] == 2
    assert again["articles_in_store"] == 3


def test_articles_and_show(tmp_path: Path) -> None:
    src = make(tmp_path)
    db = tmp_path / "s.db"
    runner.invoke(app, ["run", str(src), "--db", str(db), "--out", str(tmp_path / "o")])
    rows = json.loads(runner.invoke(app, ["articles", "--db", str(db), "--json"]).stdout)
    assert [r["title"] for r in rows] == ["Levee", "Levee 2"]  # dated first, then undated
    table = runner.invoke(app, ["articles", "--db", str(db)])
    assert "Bend Post" in table.output
    one = json.loads(
        runner.invoke(app, ["show", rows[0]["id"][:6], "--db", str(db), "--json"]).stdout
    )
    assert one["id"] == rows[0]["id"] and one["sentence_list"][0]["text"].startswith("Flood waters")
    shown = runner.invoke(app, ["show", rows[0]["id"], "--db", str(db)])
    assert "Levee" in shown.output and "sentences" in shown.output


def test_clear_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["articles", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no store" in missing.output
    src = make(tmp_path)
    db = tmp_path / "s.db"
    runner.invoke(app, ["run", str(src), "--db", str(db), "--out", str(tmp_path / "o")])
    unknown = runner.invoke(app, ["show", "zzzz", "--db", str(db)])
    assert unknown.exit_code == 1 and "no article" in unknown.output
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[segment]\nspliter = 'x'\n")
    cfg = runner.invoke(app, ["run", str(src), "--db", str(db), "--config", str(bad_cfg)])
    assert cfg.exit_code == 2 and "spliter" in cfg.output
    fmt = runner.invoke(app, ["run", str(src), "--db", str(db), "--format", "pdf"])
    assert fmt.exit_code == 2


def test_nothing_readable_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    result = runner.invoke(app, ["run", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1


def test_the_run_summary_says_how_stories_were_found() -> None:
    from storyline.cli import _clustering

    assert _clustering(None) == ""
    assert _clustering({"method": "average", "silhouette": 0.354, "fallback": False}) == (
        " (silhouette 0.35)"
    )
    got = _clustering({"method": "average", "fallback": True, "cut": 0.85, "sent_to_stream": 12})
    assert "fallback cut 0.85" in got and "12 articles streamed" in got
    assert "over 30,000" in _clustering({"method": "stream", "reason": "over 30,000 articles"})


def test_an_unknown_engine_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", str(tmp_path), "--engine", "spark", "--db", str(tmp_path / "s.db")]
    )
    assert result.exit_code == 2
    assert "unknown engine 'spark'; choose local, ray" in result.output
    assert not (tmp_path / "s.db").exists()


def test_stories_rebuild_uses_the_settings_file(tmp_path: Path) -> None:
    """`stories rebuild --config` clusters with that file's sentence model, as the run did: the
    store holds vectors of no other model afterwards; a broken file is refused plainly."""
    import sqlite3

    src = make(tmp_path)
    db = tmp_path / "s.db"
    cfg = tmp_path / "s.toml"
    cfg.write_text('[embed]\nmodel = "hashing"\n')
    assert runner.invoke(app, ["run", str(src), "--db", str(db), "--config", str(cfg),
                               "--out", str(tmp_path / "o")]).exit_code == 0  # fmt: skip
    result = runner.invoke(app, ["stories", "rebuild", "--db", str(db), "-c", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    assert sum(s["article_count"] for s in json.loads(result.stdout)) == 2
    with sqlite3.connect(db) as con:
        models = {m for (m,) in con.execute("SELECT DISTINCT model FROM embeddings")}
    assert models and all(m.startswith("hashing") for m in models), models
    (tmp_path / "bad.toml").write_text("[embed\n")
    bad = runner.invoke(
        app, ["stories", "rebuild", "--db", str(db), "-c", str(tmp_path / "bad.toml")]
    )
    assert bad.exit_code == 2 and "cannot use settings file" in bad.output
