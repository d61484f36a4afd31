"""A store as Parquet, and back: one file per table, for a cluster's output and for analysis.

``export_parquet`` writes every table of a store (articles, sentences, links, stories,
digests, and the state that lets a later ``add`` cost what is added: signatures, band keys,
sentence vectors, story state) as ``TABLE.parquet`` in one folder, with a manifest
(``storyline-parquet.json``: the store's migrations, each table's row count) written last,
so a folder without it is an export that did not finish. ``import_parquet`` loads such a
folder into a new store, in one transaction, and checks the row counts and the foreign keys
before it commits: the CLI, the reports and the web app then read it as any store.

Column names are the store's, which are the report's (``report.json``) where both name a
thing, with one exception made to keep them so: an article's clean text is ``text`` (as in
the report) and the text extracted before cleaning is ``extracted``. The ``data`` column of
``links``, ``stories`` and ``digests`` holds each row's report record as JSON. Columns are
typed by the store's declared types (INTEGER int64, REAL float64, TEXT string, BLOB binary),
so an empty table still has its schema. Tables are read and written in batches: memory does
not grow with the store.

Needs ``pyarrow`` (the ``parquet`` or ``ray`` extra).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storyline.store import Store

__all__ = ["MANIFEST", "ParquetError", "export_parquet", "import_parquet", "tables"]

MANIFEST = "storyline-parquet.json"
FORMAT = "storyline-parquet/1"
#: Store column -> Parquet column, where the report names a thing otherwise.
RENAMED = {"articles": {"text": "extracted", "clean": "text"}}
_BATCH = 20_000


class ParquetError(ValueError):
    """A folder that is not a complete storyline export, or a store that cannot take it."""


def _arrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - pyarrow ships with the ray/parquet extras
        raise ParquetError(
            "Parquet needs pyarrow: pip install 'storyline[parquet]' (or the ray extra)"
        ) from e
    return pa, pq


def tables(store: Store) -> list[str]:
    """The store's own tables: not SQLite's, not the migrations log, and not full-text
    search (a virtual table and its shadow tables, which the articles' triggers fill)."""
    rows = store.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [r["name"] for r in rows if (r["sql"] or "").upper().startswith("CREATE VIRTUAL")]
    return sorted(
        r["name"]
        for r in rows
        if not r["name"].startswith("sqlite_")
        and r["name"] != "migrations"
        and not any(r["name"] == v or r["name"].startswith(f"{v}_") for v in virtual)
    )


def _columns(store: Store, table: str) -> list[tuple[str, str]]:
    return [
        (r["name"], r["type"].upper()) for r in store.db.execute(f'PRAGMA table_info("{table}")')
    ]


def _arrow_type(pa: Any, declared: str) -> Any:
    """SQLite's type affinity rules, as Arrow types."""
    if "INT" in declared:
        return pa.int64()
    if any(t in declared for t in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if any(t in declared for t in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    if "BLOB" in declared or not declared:
        return pa.binary()
    return pa.string()


def export_parquet(
    store: Store, folder: str | Path, advance: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Write every table of ``store`` to ``folder/TABLE.parquet`` from one read snapshot;
    returns each table's row count. ``advance(table, rows)`` is told of each batch."""
    pa, pq = _arrow()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # the folder is an unfinished export until the end
    counts: dict[str, int] = {}
    store.db.execute("BEGIN")  # one snapshot: a writer's commits in between are not mixed in
    try:
        for table in tables(store):
            cols = _columns(store, table)
            names = [RENAMED.get(table, {}).get(c, c) for c, _ in cols]
            schema = pa.schema(
                [(n, _arrow_type(pa, t)) for n, (_, t) in zip(names, cols, strict=True)]
            )
            listed = ", ".join(f'"{c}"' for c, _ in cols)
            cursor = store.db.execute(f'SELECT {listed} FROM "{table}"')  # stored order
            n = 0
            with pq.ParquetWriter(out / f"{table}.parquet", schema, compression="zstd") as writer:
                while rows := cursor.fetchmany(_BATCH):
                    arrays = [
                        pa.array(list(col), type=field.type)
                        for col, field in zip(zip(*rows, strict=True), schema, strict=True)
                    ]
                    writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                    n += len(rows)
                    if advance:
                        advance(table, len(rows))
            counts[table] = n
    finally:
        store.db.execute("ROLLBACK")
    from storyline import __version__

    manifest = {
        "format": FORMAT,
        "storyline_version": __version__,
        "migrations": store.migrations(),
        "renamed": RENAMED,
        "tables": counts,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ParquetError(
            f"{folder}: no {MANIFEST} — not a storyline Parquet export, or one that did not "
            "finish (the manifest is written last)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ParquetError(f"{path}: unreadable manifest: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ParquetError(f"{path}: not a {FORMAT} manifest")
    return manifest


def import_parquet(
    folder: str | Path, store: Store, advance: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Load an export into ``store``, which must hold nothing yet; all or nothing (one
    transaction, row counts and foreign keys checked before it commits). Returns each
    table's row count."""
    _, pq = _arrow()
    manifest = read_manifest(folder)
    newer = sorted(set(manifest.get("migrations", [])) - set(store.migrations()))
    if newer:
        raise ParquetError(
            f"{folder} was exported by a newer storyline (migrations {', '.join(newer)}); "
            "upgrade storyline to import it"
        )
    held = store.count_articles() + len(store.runs())
    if held:
        raise ParquetError(
            f"the store {store.path} is not empty; import into a new store (a path that does "
            "not exist yet)"
        )
    ours = set(tables(store))
    counts: dict[str, int] = {}
    store.db.execute("PRAGMA foreign_keys = OFF")  # tables load in any order; checked at the end
    try:
        with store.transaction():
            for table, expected in sorted(manifest["tables"].items()):
                if table not in ours:
                    raise ParquetError(f"{folder}: table {table!r} is not one this store has")
                path = Path(folder) / f"{table}.parquet"
                if not path.is_file():
                    raise ParquetError(f"{path}: missing (the manifest lists {expected:,} rows)")
                back = {v: k for k, v in RENAMED.get(table, {}).items()}
                known = {c for c, _ in _columns(store, table)}
                try:
                    source = pq.ParquetFile(path)
                except Exception as e:  # pyarrow's errors are many: name the file, stop
                    raise ParquetError(f"{path}: unreadable Parquet: {e}") from e
                names = source.schema_arrow.names
                cols = [back.get(n, n) for n in names]
                unknown = sorted(set(cols) - known)
                if unknown:
                    raise ParquetError(f"{path}: columns the store has not: {', '.join(unknown)}")
                listed = ", ".join(f'"{c}"' for c in cols)
                sql = f'INSERT INTO "{table}" ({listed}) VALUES ({", ".join("?" * len(cols))})'
                n = 0
                for batch in source.iter_batches(batch_size=_BATCH):
                    data = batch.to_pydict()
                    store.db.executemany(sql, zip(*(data[c] for c in names), strict=True))
                    n += batch.num_rows
                    if advance:
                        advance(table, batch.num_rows)
                if n != expected:
                    raise ParquetError(f"{path}: {n:,} rows, the manifest says {expected:,}")
                counts[table] = n
            broken = store.db.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                first = broken[0]
                raise ParquetError(
                    f"{folder}: {len(broken):,} rows point at rows the export has not "
                    f"(first: {first[0]} row {first[1]} -> {first[2]})"
                )
    finally:
        store.db.execute("PRAGMA foreign_keys = ON")
    return counts
