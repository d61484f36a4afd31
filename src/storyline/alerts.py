"""Tracking and alerts: what changed, in what people follow, with the evidence.

A track follows a story (by id, kept through merges and renames by the store's aliases), an
entity (a name: articles naming it, and quotes it is the speaker of) or a query (the search's
words). After every run, the ``alerts`` stage looks at the articles first stored since the last
look and records, for each track they touch:

- ``new_article`` — its outlet, and whether it is independent or a copy (of which original);
- ``new_copy`` — a copy link with a new article at one end: original, copy, kind, direction
  and its reasons (story tracks);
- ``new_fact`` — a fact of the story's digest that new *independent* sources now state (a
  copy never counts: it adds no source), first reported or corroborated (story tracks);
- ``new_conflict`` — a conflict of the digest with a new article among its values (story tracks);
- ``new_quote`` — a quote by the tracked speaker carried by a new article (entity tracks).

Each alert has a key made of what it is about, unique in the store: reading the same batch
twice (a restarted ``watch``, a resumed run) never records an alert twice.

Alerts are read with ``storyline alerts``, ``/alerts`` and ``/alerts.atom`` in the web app,
and posted to a webhook when ``[alerts] webhook`` is set (:class:`Webhook`, outside the
pipeline: a slow or failing receiver never holds up a run).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from storyline import __version__
from storyline.store import Store, _fts_query, tracking

log = logging.getLogger(__name__)

KINDS = ("new_article", "new_copy", "new_fact", "new_conflict", "new_quote")


def _h(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _names_match(tracked: str, speaker: str | None) -> bool:
    """A tracked name and a quote's speaker are one person when one's words hold the other's
    ("Fenwick" and "Marisol Fenwick"), ignoring case."""
    a, b = set(_norm(tracked).split()), set(_norm(speaker or "").split())
    return bool(a and b) and (a <= b or b <= a)


def _phrase(name: str) -> str:
    """A name as an FTS5 phrase (its words in order), user input kept out of FTS syntax."""
    words = re.findall(r"\w+", name)
    return '"' + " ".join(words) + '"' if words else ""


@dataclass
class _New:
    """The articles first stored since the last look, and what the alerts need of them."""

    rows: dict[str, dict[str, Any]]  # id -> id, title, source, published, url, first_run
    story: dict[str, str]  # id -> story id
    roots: dict[str, str]  # id -> copy-family root (those in a family)

    def since(self, run: int) -> set[str]:
        return {a for a, r in self.rows.items() if r["first_run"] > run}


def find_alerts(store: Store, after_run: int) -> list[dict[str, Any]]:
    """The alerts that articles first stored in runs after ``after_run`` make for the tracks."""
    follow = tracking.tracks(store)
    if not follow:
        return []
    rows = {
        r["id"]: dict(r)
        for r in store.db.execute(
            "SELECT id, title, source, published, url, first_run FROM articles"
            " WHERE first_run > ? AND stage = 'linked'",
            (after_run,),
        )
    }
    if not rows:
        return []
    new = _New(rows, store.stories_of(rows), store.families_of(rows))
    found: list[dict[str, Any]] = []
    for track in follow:
        fresh = new.since(track["since_run"])
        if not fresh:
            continue
        if track["kind"] == "story":
            found += _story_alerts(store, track, fresh, new)
        elif track["kind"] == "entity":
            matched = _matching(store, _phrase(track["value"]), fresh, track["since_run"])
            found += [_article_alert(store, track, a, new) for a in sorted(matched)]
            found += _quote_alerts(store, track, fresh, new)
        else:
            matched = _matching(store, _fts_query(track["value"]), fresh, track["since_run"])
            found += [_article_alert(store, track, a, new) for a in sorted(matched)]
    return found


def _matching(store: Store, match: str, among: set[str], after: int) -> set[str]:
    if not match:
        return set()
    # The full-text index finds the matches; only those among the new articles count.
    rows = store.db.execute(
        "SELECT a.id FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid"
        " WHERE articles_fts MATCH ? AND a.first_run > ?",
        (match, after),
    )
    return {r[0] for r in rows if r[0] in among}


def _outlet(row: dict[str, Any] | None) -> str:
    return (row or {}).get("source") or "unknown outlet"


def _article_alert(store: Store, track: dict[str, Any], aid: str, new: _New) -> dict[str, Any]:
    row = new.rows[aid]
    root = new.roots.get(aid, aid)
    data: dict[str, Any] = {
        "article": aid, "title": row["title"], "outlet": _outlet(row),
        "published": row["published"], "url": row["url"], "story": new.story.get(aid),
        "independent": root == aid, "copy_of": None,
    }  # fmt: skip
    if root != aid:
        original = store.get_article(root)
        link = store.link_between(root, aid) or {}
        data["copy_of"] = {
            "article": root,
            "outlet": original.source if original else None,
            "title": original.title if original else None,
            "kind": link.get("kind"),
        }
    how = (
        "independent"
        if data["independent"]
        else f"copy of {data['copy_of']['outlet'] or root}"
        + (f" ({data['copy_of']['kind']})" if data["copy_of"]["kind"] else "")
    )
    return {
        "key": f"{track['id']}:new_article:{aid}",
        "track": track["id"],
        "kind": "new_article",
        "story": data["story"],
        "article": aid,
        "title": f"New article from {data['outlet']} ({how}): {row['title'] or aid}",
        "data": data,
    }


def _story_alerts(
    store: Store, track: dict[str, Any], fresh: set[str], new: _New
) -> list[dict[str, Any]]:
    from storyline.digest import story_docs
    from storyline.digest.facts import sources_of

    sid = store.resolve_story(track["value"])
    if sid is None:
        return []
    joined = sorted(a for a in fresh if new.story.get(a) == sid)
    if not joined:
        return []
    story = store.story(sid) or {}
    headline = story.get("headline") or sid
    out = [_article_alert(store, track, a, new) for a in joined]
    joined_set = set(joined)
    for link in store.links_of(joined, evidence=False):
        if link["kind"] in (None, "shared_quotes"):
            continue  # shared quotes are not a copy
        src, cp = store.get_article(link["source"]), store.get_article(link["copy"])
        known = link["direction"] == "known"
        data = {
            "original": {"article": link["source"], "outlet": src.source if src else None,
                         "title": src.title if src else None},
            "copy": {"article": link["copy"], "outlet": cp.source if cp else None,
                     "title": cp.title if cp else None},
            "kind": link["kind"], "direction": link["direction"], "reasons": link["reasons"],
            "story": sid,
        }  # fmt: skip
        what = "copies" if known else "and its original share text (direction unknown):"
        out.append(
            {
                "key": f"{track['id']}:new_copy:{link['source']}:{link['copy']}",
                "track": track["id"],
                "kind": "new_copy",
                "story": sid,
                "article": link["copy"] if link["copy"] in joined_set else link["source"],
                "title": f"New {link['kind'].replace('_', ' ')} in {headline}: "
                f"{data['copy']['outlet'] or link['copy']} {what} "
                f"{data['original']['outlet'] or link['source']}",
                "data": data,
            }
        )
    digest = store.digest(sid)
    if not digest:
        return out
    docs, roots = story_docs(store, story)
    sources = sources_of(docs, roots)
    for fact in digest.get("facts", []):
        arts = [a for a in fact["articles"] if a in sources]
        before = {sources[a].key for a in arts if a not in joined_set}
        added: dict[str, str] = {}
        for a in arts:
            independent = roots.get(a, a) == a
            if a in joined_set and independent and sources[a].key not in before:
                added.setdefault(sources[a].key, a)
        if not added:
            continue
        names = [sources[a].name for a in added.values()]
        out.append(
            {
                "key": f"{track['id']}:new_fact:{_h(_norm(fact['text']))}:{_h(sorted(added))}",
                "track": track["id"],
                "kind": "new_fact",
                "story": sid,
                "article": next(iter(added.values())),
                "title": f"{'First reported' if not before else 'Corroborated'} in {headline} "
                f"by {', '.join(names)}: {fact['text']}",
                "data": {
                    "fact": fact["text"], "new_sources": names, "articles": list(added.values()),
                    "sources": fact["sources"], "outlets": fact["outlets"],
                    "first_reported": not before, "story": sid,
                },
            }
        )  # fmt: skip
    for conflict in digest.get("conflicts", []):
        carried = sorted({a for v in conflict["values"] for a in v["articles"]} & joined_set)
        if not carried:
            continue
        values = sorted(str(v["value"]) for v in conflict["values"])
        shown = " vs ".join(
            f"{v['value']} ({', '.join(v.get('outlets') or []) or 'unknown'})"
            for v in conflict["values"]
        )
        out.append(
            {
                "key": f"{track['id']}:new_conflict:{_h(_norm(conflict['fact']), values)}",
                "track": track["id"],
                "kind": "new_conflict",
                "story": sid,
                "article": carried[0],
                "title": f"Sources disagree in {headline}: {conflict['fact']} — {shown}",
                "data": {**conflict, "articles": carried, "story": sid},
            }
        )
    return out


def _quote_alerts(
    store: Store, track: dict[str, Any], fresh: set[str], new: _New
) -> list[dict[str, Any]]:
    out = []
    for sid in sorted({new.story[a] for a in fresh if a in new.story}):
        digest = store.digest(sid) or {}
        for q in digest.get("quotes", []):
            carried = sorted(set(q.get("articles", [])) & fresh)
            if not carried or not _names_match(track["value"], q.get("speaker")):
                continue
            outlets = sorted({_outlet(new.rows[a]) for a in carried})
            out.append(
                {
                    "key": f"{track['id']}:new_quote:{_h(_norm(q['text']))}",
                    "track": track["id"],
                    "kind": "new_quote",
                    "story": sid,
                    "article": carried[0],
                    "title": f"{q['speaker']} quoted by {', '.join(outlets)}: “{q['text']}”",
                    "data": {
                        "speaker": q["speaker"], "text": q["text"], "articles": carried,
                        "outlets": outlets, "story": sid, "sources": q.get("sources"),
                    },
                }
            )  # fmt: skip
    return out


def stage_alerts(ctx: Any) -> None:
    """The pipeline's last stage: alerts for the articles first stored since the last look."""
    store = ctx.store
    after = int(store.state("alerts_run", 0))
    found = find_alerts(store, after)
    ctx.result.counts["alerts"] = tracking.save_alerts(store, found, ctx.run_id)


# -- delivery ------------------------------------------------------------------------------


class Webhook:
    """Posts each undelivered alert as JSON to ``url``, oldest first, from its own thread and
    its own connection to the store: a receiver that is slow or down never holds up a run.

    A failed post is tried again after ``backoff`` seconds, doubling up to 5 minutes, at most
    ``attempts`` times per alert (each try is recorded in the store, so a restart goes on
    where it stopped); a 2xx answer marks the alert delivered.
    """

    def __init__(
        self,
        db: str,
        url: str,
        attempts: int = 5,
        timeout: float = 10.0,
        backoff: float = 2.0,
    ) -> None:
        self.db, self.url = db, url
        self.attempts, self.timeout, self.backoff = attempts, timeout, backoff
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0

    def post(self, alert: dict[str, Any]) -> str | None:
        """One try; None when the receiver took it, else what went wrong."""
        body = json.dumps(alert, ensure_ascii=False).encode()
        req = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"storyline/{__version__} (alerts webhook)",
                "X-Storyline-Alert": str(alert["id"]),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"

    def deliver_pending(self, store: Store) -> int:
        """Post what is pending, once each; returns how many failed (to be tried again)."""
        failures = 0
        for alert in tracking.undelivered(store, self.attempts):
            if self._stop.is_set():
                break
            error = self.post(alert)
            tracking.mark_delivery(store, alert["id"], error)
            if error is None:
                self.delivered += 1
            else:
                failures += 1
                self.failed += 1
                log.warning("webhook: alert %s not delivered: %s", alert["id"], error)
        return failures

    def _loop(self) -> None:
        store = Store(self.db)
        wait = self.backoff
        try:
            while not self._stop.is_set():
                failures = self.deliver_pending(store)
                wait = min(wait * 2, 300.0) if failures else self.backoff
                self._wake.wait(wait if failures else 3600.0)
                self._wake.clear()
        finally:
            store.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="storyline-webhook", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New alerts were recorded: post them now."""
        self._wake.set()

    def stop(self, grace: float = 5.0) -> None:
        """Stop after the post in flight (waiting at most ``grace`` seconds); what is not
        delivered stays pending in the store for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(grace)


def deliver_once(db: str, url: str, attempts: int, timeout: float, deadline: float) -> Webhook:
    """Post pending alerts until none is left or ``deadline`` seconds pass (``add`` and
    ``run``: the store keeps what is left for the next time)."""
    hook = Webhook(db, url, attempts, timeout)
    store = Store(db)
    try:
        end = time.monotonic() + deadline
        while time.monotonic() < end and hook.deliver_pending(store):
            time.sleep(min(hook.backoff, max(0.0, end - time.monotonic())))
    finally:
        store.close()
    return hook
