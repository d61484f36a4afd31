"""Concurrency: the web app reads while an ingest writes, and two writers never interleave.

A real `storyline serve` app (uvicorn on 127.0.0.1) answers a stream of page and API requests
while `storyline add` runs in another process on the same store: no request fails, nothing
deadlocks, and every story a request sees is whole. A second `storyline add` on a store that
another is writing says plainly that the store is busy, or waits for it with --wait.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
import httpx

from builders import BODY, write_jsonl
from storyline.corpus import Corpus
from webtools import example_store, live_server, scratch_copy

pytestmark = pytest.mark.slow

FAST = '[embed]\nmodel = "hashing"\n'


def _more_news(folder: Path, n: int = 60) -> Path:
    """New articles: two stories' worth of coverage, some copies, to make the add work."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        town = ("Marrow Bend", "Tarn Hill")[i % 2]
        records.append(
            {
                "text": BODY.replace("Marrow Bend", town) + f"\n\nUpdate {i}: crews returned.",
                "url": f"https://late.example/{i}",
                "source": f"Late Courier {i % 7}",
                "published": f"2026-03-{10 + i % 9:02d}T0{i % 9}:00:00Z",
                "title": f"Floods in {town}, update {i}",
            }
        )
    return write_jsonl(folder / "late.jsonl", records)


def _add(db: Path, inputs: Path, config: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STORYLINE_KILL", "STORYLINE_FAULT")}
    return subprocess.Popen(
        [sys.executable, "-m", "storyline.cli", "add", str(inputs), "--db", str(db),
         "--config", str(config), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _whole(story: dict[str, Any]) -> None:
    """A story as one commit left it: its counts agree with its members."""
    assert story["article_count"] == len(story["articles"]) > 0, story["id"]
    assert 1 <= story["independent_sources"] <= story["article_count"], story["id"]
    assert story["first_seen"] is None or story["first_seen"] <= (story["last_seen"] or "~")


def test_pages_stay_whole_while_an_add_writes(tmp_path: Path) -> None:
    db = scratch_copy(example_store(), "concurrent")
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    inputs = _more_news(tmp_path / "late")
    failures: list[str] = []
    seen: dict[str, int] = {"requests": 0, "story_counts": 0}
    counts: set[int] = set()
    with live_server(db) as url:
        writer = _add(db, inputs, config)
        stop = threading.Event()

        def reader() -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                while not stop.is_set():
                    try:
                        listing = http.get("/api/stories", params={"limit": 500})
                        seen["requests"] += 1
                        if listing.status_code != 200:
                            failures.append(f"/api/stories {listing.status_code}")
                            continue
                        page = listing.json()
                        assert page["total"] == len(page["stories"])
                        counts.add(page["total"])
                        for story in page["stories"]:
                            _whole(story)
                        for story in page["stories"][:4]:
                            one = http.get(f"/api/stories/{story['id']}")
                            seen["requests"] += 1
                            if one.status_code == 404:
                                continue  # merged away since the listing: an honest answer
                            if one.status_code != 200:
                                failures.append(f"story {one.status_code}")
                                continue
                            _whole(one.json())
                            for aid in one.json()["articles"][:3]:
                                r = http.get(f"/api/articles/{aid}")
                                seen["requests"] += 1
                                if r.status_code != 200:
                                    failures.append(f"article {aid} {r.status_code}")
                        for path in ("/", "/api/search?q=flood", "/api/links"):
                            r = http.get(path)
                            seen["requests"] += 1
                            if r.status_code != 200:
                                failures.append(f"{path} {r.status_code}")
                    except AssertionError as exc:
                        failures.append(f"inconsistent: {exc}")
                    except httpx.HTTPError as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            _, err = writer.communicate(timeout=600)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not any(t.is_alive() for t in threads), "a reader is stuck"
        assert writer.returncode == 0, err
        # After the add, the server sees what it wrote.
        final = httpx.get(url + "/api/stories", params={"limit": 500}, timeout=30).json()
    assert not failures, failures[:10]
    assert seen["requests"] > 50  # the readers really ran alongside the add
    with Corpus(db) as corpus:
        assert final["total"] == len(corpus.stories())
        assert corpus.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_second_writer_is_told_the_store_is_busy_or_waits(tmp_path: Path) -> None:
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    db = tmp_path / "s.db"
    first_in = _more_news(tmp_path / "first", 80)
    second_in = tmp_path / "second"
    second_in.mkdir()
    write_jsonl(
        second_in / "b.jsonl",
        [
            {"text": BODY, "url": f"https://second.example/{i}", "source": "Second"}
            for i in range(3)
        ],
    )
    first = _add(db, first_in, config)
    lock = Path(str(db) + ".lock")
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()):
        assert time.monotonic() < deadline and first.poll() is None, "the first add never began"
        time.sleep(0.05)
    busy = _add(db, second_in, config)
    _, err = busy.communicate(timeout=120)
    turned_away = busy.returncode == 75
    if turned_away:
        assert "is busy" in err and "storyline add" in err and "--wait" in err
    else:  # only if the first had finished before the second began
        assert busy.returncode == 0 and first.poll() == 0, err
    patient = _add(db, second_in, config, "--wait", "300")
    _, err2 = patient.communicate(timeout=600)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert patient.returncode == 0, err2
    with Corpus(db) as corpus:
        urls = {a.url for a in corpus.articles()}
        assert {f"https://second.example/{i}" for i in range(3)} <= urls
        assert len(urls) == 83
        assert corpus.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = [r["status"] for r in corpus.store.runs()]
    # Every run finished, one after the other; one turned away left no run behind.
    assert statuses == ["done"] * (2 if turned_away else 3)


def test_web_ingest_while_another_run_writes_is_told_to_retry(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from storyline.store.lock import writer_lock
    from storyline.web import create_app

    db = scratch_copy(example_store(), "busy-ingest")
    article = {"text": BODY, "source": "Hill Gazette", "title": "Floods"}
    app = create_app(db, allow_ingest=True)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        with writer_lock(str(db)):  # as a `storyline add` in another process would
            busy = client.post("/api/articles", json=[article])
        assert busy.status_code == 503 and "is busy" in busy.json()["detail"]
        assert busy.headers["retry-after"] == "10"
        ok = client.post("/api/articles", json=[article])
        assert ok.status_code == 201, ok.text
