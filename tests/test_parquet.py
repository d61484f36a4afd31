"""A store out as Parquet and back in: the same tables, the same report, a working web app,
and an ``add`` that goes on from it; a broken export is refused whole, naming what is wrong."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from builders import article_reads  # noqa: E402
from storyline import Corpus, Store  # noqa: E402
from storyline.config import Settings  # noqa: E402
from storyline.report.build import build_report  # noqa: E402
from storyline.store.parquet import MANIFEST, ParquetError, tables  # noqa: E402


def _rows(store: Store, table: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in store.db.execute(f'SELECT * FROM "{table}"')), key=repr)


def _report(store: Store) -> dict[str, Any]:
    report = build_report(store, Settings())
    report["provenance"].pop("store")
    return report


@pytest.fixture(scope="module")
def exported(example_analyzed: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parquet") / "out"
    counts = example_analyzed.export_parquet(folder)
    assert counts["articles"] == example_analyzed.store.count_articles()
    return folder


def test_export_has_the_report_tables_with_the_report_names(
    exported: Path, example_analyzed: Corpus
) -> None:
    manifest = json.loads((exported / MANIFEST).read_text())
    for name in ("articles", "sentences", "links", "stories", "digests", "families"):
        assert manifest["tables"][name] > 0, name
    articles = pq.read_table(exported / "articles.parquet").to_pylist()
    report = {a["id"]: a for a in _report(example_analyzed.store)["articles"]}
    assert len(articles) == len(report)
    for row in articles:
        entry = report[row["id"]]
        for key in ("source", "title", "url", "published", "author", "encoding", "text"):
            assert row[key] == entry[key], key  # `text` is the clean text, as in the report
    links = pq.read_table(exported / "links.parquet").to_pylist()
    by_pair = {(ln["source"], ln["copy"]): ln for ln in example_analyzed.store.links()}
    kinded = [ln for ln in links if ln["kind"]]
    assert len(kinded) == len(by_pair)
    for ln in kinded:
        assert json.loads(ln["data"]) == by_pair[(ln["source"], ln["copy"])]
    schema = pq.read_schema(exported / "embeddings.parquet")
    assert schema.field("vector").type == pa.binary()


def test_import_gives_back_every_table_and_the_same_report(
    exported: Path, example_analyzed: Corpus, tmp_path: Path
) -> None:
    with Corpus(tmp_path / "imported.db") as corpus:
        counts = corpus.import_parquet(exported)
        original = example_analyzed.store
        assert tables(corpus.store) == tables(original)
        for table in tables(original):
            assert counts[table] == len(_rows(original, table)), table
            assert _rows(corpus.store, table) == _rows(original, table), table
        assert _report(corpus.store) == _report(original)
        assert corpus.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Search works from the articles' own triggers.
        hit = corpus.store.db.execute(
            "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'strike'"
        ).fetchone()[0]
        assert hit > 0


def test_an_imported_store_serves_and_takes_an_add(
    exported: Path, example_analyzed: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from storyline.web import create_app

    db = tmp_path / "imported.db"
    with Corpus(db) as corpus:
        corpus.import_parquet(exported)
    story = example_analyzed.store.stories()[0]["id"]
    with TestClient(create_app(db)) as client:
        assert client.get("/").status_code == 200
        assert client.get(f"/stories/{story}").status_code == 200
        assert client.get(f"/api/stories/{story}").json()["id"] == story
    new = tmp_path / "new.txt"
    new.write_text(
        "---\ntitle: Lantern makers of Oskel light the quay\nsource: Oskel Tide\n"
        "published: 2027-11-03\n---\n\nThe lantern makers of Oskel hung two hundred lamps along "
        "the quay on Friday, the guild's first festival since the flood. Guild warden Pell "
        "Aranow said the lamps would stay lit until the spring tides."
    )
    with Corpus(db) as corpus:
        before = corpus.store.count_articles()
        read = article_reads(monkeypatch)
        result = corpus.add([str(new)])
        assert result.counts["articles_new"] == 1
        assert corpus.store.count_articles() == before + 1
        # Signatures, band keys and term vectors came with the import: no stored article
        # is read to be indexed again, only the new one.
        (aid,) = set(read)
        assert corpus.store.get_article(aid).source == "Oskel Tide"


def test_a_broken_export_is_refused_whole(exported: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in exported.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "links.parquet").unlink()
    with Corpus(tmp_path / "a.db") as corpus:
        with pytest.raises(ParquetError, match=r"links\.parquet: missing"):
            corpus.import_parquet(broken)
        assert corpus.store.count_articles() == 0  # nothing of it was kept
    (broken / MANIFEST).unlink()
    with Corpus(tmp_path / "b.db") as corpus, pytest.raises(ParquetError, match="no storyline"):
        corpus.import_parquet(broken)


def test_import_refuses_a_store_that_holds_articles(
    exported: Path, example_analyzed: Corpus
) -> None:
    with pytest.raises(ParquetError, match="not empty"):
        example_analyzed.import_parquet(exported)


def test_the_commands(
    exported: Path, example_analyzed: Corpus, tmp_path: Path, python: str
) -> None:
    cli = [python, "-m", "storyline.cli"]
    out = tmp_path / "again"
    done = subprocess.run(
        [*cli, "export", str(out), "--db", example_analyzed.store.path, "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    exported_counts = json.loads(done.stdout)["tables"]
    db = tmp_path / "cli.db"
    done = subprocess.run(
        [*cli, "import", str(out), "--db", str(db), "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tables"] == exported_counts
    again = subprocess.run(
        [*cli, "import", str(out), "--db", str(db)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "not empty" in again.stderr
    missing = subprocess.run(
        [*cli, "import", str(tmp_path), "--db", str(tmp_path / "none.db")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 2 and MANIFEST in missing.stderr
    assert not (tmp_path / "none.db").exists()  # a store it could not fill is not left behind
