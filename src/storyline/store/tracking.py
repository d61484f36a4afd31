"""The store's tables for following the news: tracks, their alerts, and watched feeds' polls.

Functions over a :class:`~storyline.store.Store` (its connection and transactions); what an
alert *is* and when one is made lives in :mod:`storyline.alerts`.
"""

from __future__ import annotations

import json
from typing import Any

from storyline.store import Store, _now

TRACK_KINDS = ("story", "entity", "query")


def add_track(store: Store, kind: str, value: str) -> tuple[dict[str, Any], bool]:
    """Follow a story, a name or a search from now on; returns the track and whether it is
    new (the same kind and value twice is one track). Only articles first stored after this
    make alerts."""
    if kind not in TRACK_KINDS:
        raise ValueError(f"a track is one of {', '.join(TRACK_KINDS)}, not {kind!r}")
    value = " ".join(value.split())
    if not value:
        raise ValueError(f"track {kind}: give what to follow")
    with store.transaction():
        row = store.db.execute(
            "SELECT * FROM tracks WHERE kind = ? AND value = ?", (kind, value)
        ).fetchone()
        if row is not None:
            return dict(row), False
        last = store.db.execute("SELECT IFNULL(MAX(id), 0) FROM runs").fetchone()[0]
        cur = store.db.execute(
            "INSERT INTO tracks (kind, value, made, since_run) VALUES (?, ?, ?, ?)",
            (kind, value, _now(), int(last)),
        )
        made = store.db.execute("SELECT * FROM tracks WHERE id = ?", (cur.lastrowid,))
        return dict(made.fetchone()), True


def remove_track(store: Store, track_id: int) -> bool:
    """Stop following; the track's alerts stay (they are history)."""
    with store.transaction():
        cur = store.db.execute("DELETE FROM tracks WHERE id = ?", (track_id,))
    return cur.rowcount > 0


def tracks(store: Store) -> list[dict[str, Any]]:
    rows = store.db.execute(
        "SELECT t.*, (SELECT COUNT(*) FROM alerts a WHERE a.track_id = t.id) AS alerts"
        " FROM tracks t ORDER BY t.id"
    )
    return [dict(r) for r in rows]


def save_alerts(store: Store, alerts: list[dict[str, Any]], run_id: int) -> int:
    """Record alerts (one already recorded under the same key is left as it was) and mark
    every article first stored up to ``run_id`` as looked at, in one transaction. Returns how
    many alerts are new."""
    made = _now()
    with store.transaction():
        before = store.db.total_changes
        store.db.executemany(
            "INSERT OR IGNORE INTO alerts (key, track_id, kind, run_id, made, story_id,"
            " article_id, title, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (a["key"], a["track"], a["kind"], run_id, made, a.get("story"),
                 a.get("article"), a["title"], json.dumps(a["data"], sort_keys=True))
                for a in alerts
            ],
        )  # fmt: skip
        new = store.db.total_changes - before
        store.set_state("alerts_run", run_id)
    return new


def _alert(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["data"] = json.loads(out["data"])
    out["track"] = {"id": out.pop("track_id"), "kind": out.pop("track_kind", None),
                    "value": out.pop("track_value", None)}  # fmt: skip
    return out


def alerts(
    store: Store,
    after: int = 0,
    limit: int = 100,
    track: int | None = None,
    kind: str | None = None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first: those with an id above ``after`` (and below ``before``), of one
    track or kind."""
    where, args = ["a.id > ?"], [after]  # type: list[str], list[Any]
    if before is not None:
        where.append("a.id < ?")
        args.append(before)
    if track is not None:
        where.append("a.track_id = ?")
        args.append(track)
    if kind is not None:
        where.append("a.kind = ?")
        args.append(kind)
    rows = store.db.execute(
        "SELECT a.*, t.kind AS track_kind, t.value AS track_value FROM alerts a"
        " LEFT JOIN tracks t ON t.id = a.track_id"
        f" WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT ?",
        (*args, limit),
    )
    return [_alert(r) for r in rows]


def undelivered(store: Store, max_attempts: int, limit: int = 50) -> list[dict[str, Any]]:
    """Alerts the webhook has not taken yet (and has not given up on), oldest first."""
    rows = store.db.execute(
        "SELECT a.*, t.kind AS track_kind, t.value AS track_value FROM alerts a"
        " LEFT JOIN tracks t ON t.id = a.track_id"
        " WHERE a.delivered IS NULL AND a.attempts < ? ORDER BY a.id LIMIT ?",
        (max_attempts, limit),
    )
    return [_alert(r) for r in rows]


def mark_delivery(store: Store, alert_id: int, error: str | None) -> None:
    """One delivery attempt: delivered now, or failed with ``error``."""
    with store.transaction():
        if error is None:
            store.db.execute(
                "UPDATE alerts SET delivered = ?, attempts = attempts + 1, last_error = NULL"
                " WHERE id = ?",
                (_now(), alert_id),
            )
        else:
            store.db.execute(
                "UPDATE alerts SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], alert_id),
            )


# -- watched feeds ------------------------------------------------------------------------


def poll_state(store: Store, url: str) -> dict[str, Any]:
    row = store.db.execute("SELECT * FROM watch_sources WHERE url = ?", (url,)).fetchone()
    if row is None:
        return {"url": url, "etag": None, "last_modified": None, "failures": 0, "polled_at": 0.0,
                "retry_at": 0.0, "body_sha": None}  # fmt: skip
    return dict(row)


def save_poll_state(store: Store, state: dict[str, Any]) -> None:
    cols = ("url", "etag", "last_modified", "polled", "status", "polled_at", "failures",
            "retry_at", "last_error", "body_sha")  # fmt: skip
    with store.transaction():
        store.db.execute(
            f"INSERT OR REPLACE INTO watch_sources ({', '.join(cols)})"
            f" VALUES ({', '.join('?' * len(cols))})",
            tuple(state.get(c) for c in cols),
        )
