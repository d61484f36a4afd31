"""``storyline watch``: follow folders, feed files and feed URLs, and run each batch of new
articles through the incremental pipeline (``Corpus.add``) as it comes.

- Folders and local files are watched with watchfiles (the OS's change notifications, in
  Rust): a file created or changed under a watched folder, or a watched file changed, is read
  in the next batch (articles already stored are recognised and not processed again).
- http(s) URLs are polled politely: a conditional GET (``If-None-Match`` / ``If-Modified-Since``
  from the last answer), at most one request per ``host_interval_s`` to a host, a feed every
  ``interval_s``, and after a failure ``interval_s × 2^failures`` (at most ``max_backoff_s``,
  or the server's ``Retry-After``). Each poll logs one line. A feed body that changed is kept
  in the spool folder beside the store (``DB.watch/HOST/SHA.xml``: the raw input, as for any
  file read) and read as a feed file; its validators are saved only once its batch is stored,
  so a watch stopped in between fetches it again.
- Stopping (Ctrl-C, SIGTERM: :attr:`Watcher.stop` set) finishes the batch in progress; the
  store is as consistent as after any run (a run killed outright is resumed by the next).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from storyline import __version__
from storyline.config import WatchSettings
from storyline.corpus import Corpus
from storyline.store import tracking
from storyline.store.lock import StoreBusy

log = logging.getLogger(__name__)

USER_AGENT = f"storyline/{__version__} (feed watcher; conditional GET)"


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


@dataclass
class Poll:
    """One poll of a feed URL: ``new`` (a changed body, at ``path``), ``unchanged``, ``error``."""

    url: str
    outcome: str
    message: str
    path: Path | None = None
    state: dict[str, Any] = field(default_factory=dict)


class FeedPoller:
    """Conditional GETs of feed URLs, one host at a time, with backoff; state in the store."""

    def __init__(
        self,
        corpus: Corpus,
        spool: Path,
        settings: WatchSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = corpus.store
        self.spool = spool
        self.settings = settings
        self.clock = clock
        self._host_last: dict[str, float] = {}

    def host_gap(self, url: str) -> float:
        """Seconds until ``url``'s host may be asked again."""
        last = self._host_last.get(urlsplit(url).netloc.lower())
        return (
            0.0 if last is None else max(0.0, last + self.settings.host_interval_s - self.clock())
        )

    def wait_for(self, url: str) -> float:
        """Seconds until ``url`` may be polled: ``interval_s`` after its last poll, or after
        its backoff when that failed, and its host's gap."""
        state = tracking.poll_state(self.store, url)
        due = float(state["polled_at"] or 0.0) + self.settings.interval_s
        if state["failures"]:
            due = float(state["retry_at"] or 0.0)
        return max(due - self.clock(), self.host_gap(url))

    def poll(self, url: str) -> Poll:
        state = tracking.poll_state(self.store, url)
        now = self.clock()
        self._host_last[urlsplit(url).netloc.lower()] = now
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
        }
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        state["polled"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        state["polled_at"] = now
        cap = int(self.settings.max_feed_mb * 1024 * 1024)
        try:
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=self.settings.timeout_s) as resp:
                body = resp.read(cap + 1)
                status, etag = resp.status, resp.headers.get("ETag")
                modified = resp.headers.get("Last-Modified")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return self._ok(state, now, "unchanged", "304 not modified")
            return self._failed(state, now, f"HTTP {exc.code} {exc.reason}", exc.headers)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            return self._failed(state, now, f"{type(exc).__name__}: {reason}", None)
        if len(body) > cap:
            return self._failed(
                state, now, f"feed larger than max_feed_mb ({self.settings.max_feed_mb:g} MB)", None
            )
        sha = hashlib.sha256(body).hexdigest()
        state.update(etag=etag, last_modified=modified)
        if sha == state.get("body_sha"):
            return self._ok(state, now, "unchanged", f"{status}, same content")
        path = self.spool / _safe(urlsplit(url).netloc) / f"{sha[:20]}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(body)
            tmp.replace(path)
        state["body_sha"] = sha
        poll = self._ok(state, now, "new", f"{status}, {len(body):,} bytes changed")
        poll.path = path
        return poll

    def _ok(self, state: dict[str, Any], now: float, outcome: str, message: str) -> Poll:
        state.update(status=message, failures=0, last_error=None, retry_at=0.0)
        return Poll(state["url"], outcome, message, state=state)

    def _failed(self, state: dict[str, Any], now: float, error: str, headers: Any) -> Poll:
        failures = int(state.get("failures") or 0) + 1
        wait = min(self.settings.interval_s * 2**failures, self.settings.max_backoff_s)
        after = _retry_after(headers, now)
        if after is not None:
            wait = min(max(wait, after), self.settings.max_backoff_s)
        state.update(status="error", failures=failures, last_error=error, retry_at=now + wait)
        return Poll(state["url"], "error", f"{error}; next try in {wait:.0f} s", state=state)

    def save(self, poll: Poll) -> None:
        tracking.save_poll_state(self.store, poll.state)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in name) or "feed"


def _retry_after(headers: Any, now: float) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            return None


_TEMPORARY = (".part", ".tmp", ".crdownload", ".swp", "~")


class Watcher:
    """Batches of what is new in the sources, each added to the corpus as it comes.

    ``say`` gets one line per poll and per batch. ``once``: one pass over every source (all
    local files, each URL polled once), then return — for cron, and for tests.
    """

    def __init__(
        self,
        corpus: Corpus,
        sources: list[str],
        settings: WatchSettings,
        say: Callable[[str], None] = log.info,
        once: bool = False,
        stop: threading.Event | None = None,
        on_batch: Callable[[Any], None] | None = None,
        engine: Any = None,
    ) -> None:
        self.corpus = corpus
        self.engine = engine  # where each batch's per-article work runs (here when None)
        self.urls = [s for s in sources if is_url(s)]
        self.local = [Path(s) for s in sources if not is_url(s)]
        missing = [str(p) for p in self.local if not p.exists()]
        if missing:
            raise FileNotFoundError(f"nothing to watch at {', '.join(missing)}")
        self.settings = settings
        self.say = say
        self.once = once
        self.stop = stop or threading.Event()
        self.on_batch = on_batch
        spool = Path(corpus.store.path + ".watch") if corpus.store.path != ":memory:" else None
        self.poller = FeedPoller(corpus, spool or Path("storyline-watch"), settings)
        self.counts: dict[str, int] = {"batches": 0, "polls": 0, "poll_errors": 0,
                                       "articles_new": 0, "alerts": 0, "failed_batches": 0}  # fmt: skip

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> dict[str, int]:
        pending: set[Path] = set(self.local)  # the first pass reads everything there is
        changes = self._changes() if self.local and not self.once else None
        if changes is not None:  # watch from now: what arrives during the first pass is seen
            pending |= next(changes, set())
        while True:
            polled = self._poll_due()
            pending |= {p.path for p in polled if p.path is not None}
            if pending:
                if self._batch(sorted(pending)):
                    pending.clear()
                    for p in polled:
                        self.poller.save(p)
            else:
                for p in polled:
                    self.poller.save(p)
            if self.once or self.stop.is_set():
                break
            pending |= self._wait(changes)
            if self.stop.is_set() and not pending:
                break
        return self.counts

    def _poll_due(self) -> list[Poll]:
        polled = []
        for url in self.urls:
            if self.stop.is_set():
                break
            if not self.once and self.poller.wait_for(url) > 0:
                continue
            if self.once:  # one pass: each URL now, its host's gap kept
                self.stop.wait(self.poller.host_gap(url))
            poll = self.poller.poll(url)
            self.counts["polls"] += 1
            if poll.outcome == "error":
                self.counts["poll_errors"] += 1
                self.poller.save(poll)  # the backoff holds even if no batch follows
            self.say(f"poll {url}: {poll.message}")
            polled.append(poll)
        return polled

    def _batch(self, paths: list[Path]) -> bool:
        """Add what changed; False when the store is busy (the batch waits for the next turn)."""
        start = time.perf_counter()
        try:
            result = self.corpus.add([str(p) for p in paths], engine=self.engine)
        except StoreBusy as exc:
            self.say(f"store busy, the batch waits: {exc}")
            return False
        except Exception as exc:  # the watch goes on; the files are read again when they change
            log.exception("batch of %d files failed", len(paths))
            self.counts["failed_batches"] += 1
            self.say(f"batch failed ({type(exc).__name__}: {exc}); {len(paths)} files not read")
            return True
        c = result.counts
        self.counts["batches"] += 1
        self.counts["articles_new"] += int(c.get("articles_new", 0))
        self.counts["alerts"] += int(c.get("alerts", 0))
        self.say(
            f"batch {self.counts['batches']}: {len(paths)} file(s), "
            f"{c.get('articles_new', 0)} new article(s), {c.get('articles_seen', 0)} seen, "
            f"{c.get('skipped', 0)} skipped, {c.get('alerts', 0)} alert(s) "
            f"in {time.perf_counter() - start:.1f} s (run {result.run_id})"
        )
        for p in result.problems:
            self.say(f"  {p.severity}: {p.path}" + (f" record {p.record}" if p.record is not None else "")
                     + (f":{p.line}" if p.line is not None else "") + f": {p.reason}")  # fmt: skip
        if self.on_batch is not None:
            self.on_batch(result)
        return True

    # -- local changes --------------------------------------------------------------------
    def _changes(self) -> Iterator[set[Path]]:
        import watchfiles

        folders = {p.resolve() for p in self.local if p.is_dir()}
        files = {p.resolve() for p in self.local if p.is_file()}
        roots = sorted({str(p) for p in folders} | {str(p.parent) for p in files})

        def wanted(change: Any, path: str) -> bool:
            p = Path(path)
            if change == watchfiles.Change.deleted or p.name.startswith("."):
                return False
            if p.name.endswith(_TEMPORARY) or p.is_relative_to(self.poller.spool.resolve()):
                return False
            return p in files or any(p.is_relative_to(f) for f in folders)

        for found in watchfiles.watch(
            *roots,
            watch_filter=wanted,
            stop_event=self.stop,
            yield_on_timeout=True,
            rust_timeout=500,
            raise_interrupt=False,
        ):
            yield {Path(path) for _, path in found if Path(path).is_file()}

    def _wait(self, changes: Iterator[set[Path]] | None) -> set[Path]:
        """Until a local change, a feed is due, or stop."""
        due = min((self.poller.wait_for(u) for u in self.urls), default=3600.0)
        end = time.monotonic() + due
        while not self.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return set()
            if changes is None:
                self.stop.wait(min(left, 1.0))
                continue
            found = next(changes, None)
            if found is None:  # the watcher ended (stop)
                return set()
            if found:
                return found
        return set()
