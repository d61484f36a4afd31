"""One writer at a time: a run holds an advisory lock on ``DB.lock`` beside the store.

SQLite (in WAL mode) lets the web app read while a run writes, but two runs writing one store
at once would each work from what the other has not finished. A run takes an exclusive
``flock`` on the lock file first; a second run either waits for it (``wait`` seconds) or is
told plainly who holds the store. The kernel drops the lock when its process dies, so a run
killed with SIGKILL never leaves the store locked.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: there, runs are not serialised
    fcntl = None  # type: ignore[assignment]

__all__ = ["StoreBusy", "writer_lock"]


class StoreBusy(RuntimeError):
    """Another process is writing the store."""

    def __init__(self, path: str, holder: dict[str, Any]) -> None:
        who = holder.get("command") or "another storyline process"
        pid = f" (pid {holder['pid']})" if holder.get("pid") else ""
        since = f" since {holder['since']}" if holder.get("since") else ""
        super().__init__(
            f"the store {path} is busy: {who}{pid} has been writing it{since}; "
            "run again when it is done, or wait for it with --wait SECONDS"
        )
        self.path, self.holder = path, holder


def _holder(fh: IO[str]) -> dict[str, Any]:
    try:
        fh.seek(0)
        data = json.loads(fh.read() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


@contextmanager
def writer_lock(db_path: str, wait: float = 0.0) -> Iterator[None]:
    """Hold the store's writer lock; StoreBusy when another process holds it past ``wait``."""
    if db_path == ":memory:" or fcntl is None:
        yield
        return
    fh = open(db_path + ".lock", "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(db_path, _holder(fh)) from None
                time.sleep(0.1)
        fh.seek(0)
        fh.truncate()
        name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        cli = name.startswith("storyline") or sys.argv[0].endswith("storyline/cli.py")
        command = " ".join(["storyline", *sys.argv[1:2]]) if cli else name
        fh.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "command": command,
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()
