"""`storyline watch`, tracks and alerts, against a real HTTP server on 127.0.0.1.

The feed is made of the example corpus's own transit-strike coverage (invented): a wire story,
then a syndicated copy of it, then an independent report that backs its facts and disagrees on
a number. The alerts recorded must be exactly those changes, and a restarted watch must not
record any of them again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from feedserver import example_docs, http_site, rss
from storyline.alerts import Webhook, find_alerts
from storyline.config import Settings, WatchSettings
from storyline.corpus import Corpus
from storyline.store import tracking
from storyline.watch import FeedPoller, Watcher

WIRE = "txt/cpa-port-halloran-transit-strike.txt"
COPY = "html/northgateherald-transit-strike-halts-buses.html"
GAZETTE = "html/harborgazette-strike-empties-bus-stops.html"
RADIO = "rss/phpr-news.rss"  # one of its items is the radio's own report of the strike


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storyline.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=_env(),
    )  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("STORYLINE_KILL", "STORYLINE_FAULT")}


def _runs_done(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT COUNT(*) FROM runs WHERE status = 'done'").fetchone()[0])


def _wait(what: Any, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while not what():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def _by_run(alerts: list[dict[str, Any]], track: int) -> dict[int, list[tuple[str, str | None]]]:
    out: dict[int, list[tuple[str, str | None]]] = {}
    for a in sorted(alerts, key=lambda a: a["id"]):
        if a["track"]["id"] == track:
            out.setdefault(a["run_id"], []).append((a["kind"], a["article_id"]))
    return out


@pytest.mark.slow
def test_watch_polls_a_changing_feed_and_alerts_equal_the_changes(
    example_corpus: Path, tmp_path: Path
) -> None:
    wire, copy, gazette = example_docs(example_corpus, [WIRE, COPY, GAZETTE])
    radio = next(d for d in example_docs(example_corpus, [RADIO]) if "Local 418" in d.title)
    db = tmp_path / "watch.db"
    with http_site() as (site, base):
        url = f"{base}/feed.xml"
        # Poll 1: the wire story alone; then the story and its union's spokeswoman are tracked.
        site.serve("/feed.xml", rss([wire]))
        first = _cli("watch", url, "--db", str(db), "--once")
        assert first.returncode == 0, first.stderr
        assert "poll " + url in first.stderr and "1 new article" in first.stderr
        with Corpus(db) as corpus:
            (story,) = corpus.stories()
            ids = {a.url: a.id for a in corpus.articles()}
        made = _cli("track", "story", story["id"], "--db", str(db), "--json")
        assert made.returncode == 0, made.stderr
        story_track = json.loads(made.stdout)["id"]
        made = _cli("track", "entity", "Marisol Fenwick", "--db", str(db), "--json")
        person_track = json.loads(made.stdout)["id"]

        # Polls 2 and 3 by one long-running watch: a copy appears, then an independent report.
        site.serve("/feed.xml", rss([wire, copy]))
        watch = subprocess.Popen(
            [sys.executable, "-m", "storyline.cli", "watch", url, "--db", str(db),
             "--interval", "0.5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        try:
            _wait(lambda: _runs_done(db) >= 2)
            polls_before = site.gets("/feed.xml")
            _wait(lambda: site.gets("/feed.xml") >= polls_before + 2)  # unchanged polls: 304
            site.serve("/feed.xml", rss([wire, copy, gazette, radio]))
            _wait(lambda: _runs_done(db) >= 3)
            _wait(lambda: site.gets("/feed.xml") >= polls_before + 4)
        finally:
            watch.send_signal(signal.SIGTERM)
            _, stderr = watch.communicate(timeout=120)
        assert watch.returncode == 0, stderr
        assert "SIGTERM: stopping after the batch in progress" in stderr
        assert "304 not modified" in stderr
        conditional = [h for p, h in site.requests if "If-None-Match" in h]
        assert conditional, "the watch never sent a conditional GET"

        with Corpus(db) as corpus:
            alerts = tracking.alerts(corpus.store, limit=1000)
            assert corpus.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            new_ids = {a.url: a.id for a in corpus.articles()}
        c, g, r = new_ids[copy.url], new_ids[gazette.url], new_ids[radio.url]
        runs = _by_run(alerts, story_track)
        assert sorted(runs) == [2, 3], runs
        # The copy: a new article that is a copy, and a new copy of the wire story.
        assert sorted(runs[2]) == [("new_article", c), ("new_copy", c)]
        copy_alert = next(a for a in alerts if a["kind"] == "new_copy")
        assert copy_alert["data"]["original"]["article"] == ids[wire.url]
        assert copy_alert["data"]["kind"] in ("exact", "near_duplicate", "syndicated", "rewrite")
        article_alert = next(
            a for a in alerts if a["kind"] == "new_article" and a["article_id"] == c
        )
        assert article_alert["data"]["independent"] is False
        assert article_alert["data"]["copy_of"]["article"] == ids[wire.url]
        # Two independent reports: two new articles, the facts they are new sources for, the
        # conflict on the number of strikers.
        kinds = [k for k, _ in runs[3]]
        assert sorted(a for k, a in runs[3] if k == "new_article") == sorted([g, r])
        assert kinds.count("new_conflict") == 1 and "new_fact" in kinds
        assert set(kinds) == {"new_article", "new_fact", "new_conflict"}
        for a in alerts:
            if a["kind"] == "new_fact":
                assert set(a["data"]["new_sources"]) <= {gazette.source, radio.source}
                assert set(a["data"]["articles"]) <= {g, r}
            if a["kind"] == "new_article" and a["article_id"] in (g, r):
                assert a["data"]["independent"] is True
        conflict = next(a for a in alerts if a["kind"] == "new_conflict")
        values = {v["value"] for v in conflict["data"]["values"]}
        assert {"2,300", "2,600"} <= values, values
        # The spokeswoman: named in both new articles, her quote carried by the copy first.
        person = _by_run(alerts, person_track)
        assert ("new_article", c) in person[2] and ("new_article", r) in person[3]
        assert ("new_article", g) in person[3]
        assert [k for k, _ in person[2]].count("new_quote") == 1

        # A restart reads the feed again (its content re-serialised, so it is new to the
        # poller): the articles are recognised and no alert is recorded twice.
        count = len(alerts)
        site.serve("/feed.xml", rss([wire, copy, gazette, radio], extra="<!-- again -->"))
        again = _cli("watch", url, "--db", str(db), "--once")
        assert again.returncode == 0, again.stderr
        assert "0 new article(s), 4 seen" in again.stderr
        with Corpus(db) as corpus:
            assert len(tracking.alerts(corpus.store, limit=1000)) == count
            shown = _cli("alerts", "--db", str(db), "--json")
        listed = json.loads(shown.stdout)
        assert len(listed) == count and {a["kind"] for a in listed} == {
            "new_article", "new_copy", "new_fact", "new_conflict", "new_quote"
        }  # fmt: skip


def _settings(**kw: float) -> WatchSettings:
    return WatchSettings(**{"interval_s": 60.0, "host_interval_s": 0.0, **kw})


def test_poller_is_polite_conditional_gets_backoff_and_retry_after(tmp_path: Path) -> None:
    now = [1000.0]
    with http_site() as (site, base), Corpus(tmp_path / "p.db") as corpus:
        poller = FeedPoller(corpus, tmp_path / "spool", _settings(host_interval_s=5.0),
                            clock=lambda: now[0])  # fmt: skip
        url = f"{base}/f.xml"
        site.serve("/f.xml", b"<rss version='2.0'><channel><title>x</title></channel></rss>")
        p = poller.poll(url)
        assert p.outcome == "new" and p.path is not None and p.path.is_file()
        poller.save(p)
        # Its own schedule and its host's gap both hold the next poll back.
        assert poller.wait_for(url) == pytest.approx(60.0)
        assert poller.host_gap(f"{base}/other.xml") == pytest.approx(5.0)
        now[0] += 61
        p = poller.poll(url)
        assert p.outcome == "unchanged" and "304" in p.message
        assert site.requests[-1][1].get("If-None-Match")
        poller.save(p)
        # A server error backs off, doubling; Retry-After is honoured.
        site.serve("/f.xml", b"down", status=503, Retry_After="600")
        now[0] += 61
        p = poller.poll(url)
        poller.save(p)
        assert p.outcome == "error" and "503" in p.message
        assert poller.wait_for(url) == pytest.approx(600.0)
        site.serve("/f.xml", b"gone", status=500)
        now[0] += 600
        p = poller.poll(url)
        poller.save(p)
        assert tracking.poll_state(corpus.store, url)["failures"] == 2
        assert poller.wait_for(url) == pytest.approx(60.0 * 4)
        # A body over the limit is refused, not read whole.
        big = FeedPoller(corpus, tmp_path / "spool", _settings(max_feed_mb=0.001))
        site.serve("/big.xml", b"x" * 5000)
        p = big.poll(f"{base}/big.xml")
        assert p.outcome == "error" and "max_feed_mb" in p.message
        # Nobody listening: an error line, not an exception.
        p = poller.poll("http://127.0.0.1:9/feed.xml")
        assert p.outcome == "error"


def test_watch_reads_new_files_in_a_folder_and_stops_cleanly(tmp_path: Path) -> None:
    from builders import BODY, write_jsonl

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_jsonl(inbox / "a.jsonl", [{"text": BODY, "url": "https://x.example/1", "source": "X"}])
    settings = Settings.from_dict({"embed": {"model": "hashing"}})
    stop = threading.Event()
    batches: list[Any] = []
    lines: list[str] = []
    with Corpus(tmp_path / "w.db", settings) as corpus:
        watcher = Watcher(corpus, [str(inbox)], settings.watch, say=lines.append, stop=stop,
                          on_batch=batches.append)  # fmt: skip
        thread = threading.Thread(target=watcher.run)
        thread.start()
        try:
            _wait(lambda: len(batches) == 1, 60)
            (inbox / ".hidden.jsonl").write_text("{}")
            (inbox / "b.jsonl.part").write_text("half")
            write_jsonl(inbox / "b.jsonl", [{"text": BODY.replace("Marrow Bend", "Tarn Hill"),
                                             "url": "https://y.example/2", "source": "Y"}])  # fmt: skip
            _wait(lambda: len(batches) == 2, 60)
        finally:
            stop.set()
            thread.join(30)
        assert not thread.is_alive()
        assert batches[1].counts["articles_new"] == 1 and batches[1].counts["files"] == 1
        assert sorted(a.url for a in corpus.articles()) == ["https://x.example/1",
                                                            "https://y.example/2"]  # fmt: skip
        assert watcher.counts["batches"] == 2
    with pytest.raises(FileNotFoundError, match="nothing to watch"):
        Watcher(Corpus(":memory:"), [str(tmp_path / "missing")], settings.watch)


def test_webhook_posts_alerts_retries_and_keeps_what_failed(tmp_path: Path) -> None:
    from builders import BODY, write_jsonl

    db = tmp_path / "h.db"
    settings = Settings.from_dict({"embed": {"model": "hashing"}})
    with Corpus(db, settings) as corpus:
        tracking.add_track(corpus.store, "query", "Marrow Bend")
        first = write_jsonl(tmp_path / "1.jsonl", [
            {"text": BODY, "url": f"https://x.example/{i}", "source": f"Outlet {i}"}
            for i in range(2)
        ])  # fmt: skip
        result = corpus.add([str(first)])
        assert result.counts["alerts"] == 2
    with http_site() as (site, base):
        site.post_status = [500, 503]  # the receiver fails twice, then takes them
        hook = Webhook(str(db), f"{base}/hook", attempts=5, timeout=5, backoff=0.05)
        with Corpus(db) as corpus:
            assert hook.deliver_pending(corpus.store) == 2
            pending = tracking.undelivered(corpus.store, 5)
            assert sorted(a["last_error"] for a in pending) == ["HTTP 500", "HTTP 503"]
            assert {a["attempts"] for a in pending} == {1}
            hook.start()
            hook.notify()
            _wait(lambda: len(site.posts) == 2, 30)
            hook.stop()
            assert not tracking.undelivered(corpus.store, 5)
            assert {p["kind"] for p in site.posts} == {"new_article"}
            assert {p["data"]["url"] for p in site.posts} == {"https://x.example/0",
                                                              "https://x.example/1"}  # fmt: skip
        # A receiver that is down never fails the run that made the alert.
        hook = Webhook(str(db), "http://127.0.0.1:9/hook", attempts=1, timeout=1)
        with Corpus(db) as corpus:
            assert hook.deliver_pending(corpus.store) == 0  # nothing pending any more


def test_tracks_start_from_now_and_alerts_are_found_once(tmp_path: Path) -> None:
    from builders import BODY, write_jsonl

    settings = Settings.from_dict({"embed": {"model": "hashing"}})
    with Corpus(tmp_path / "t.db", settings) as corpus:
        old = write_jsonl(tmp_path / "old.jsonl", [{"text": BODY, "url": "https://o.example/1",
                                                    "source": "Old"}])  # fmt: skip
        corpus.add([str(old)])
        track, made = tracking.add_track(corpus.store, "query", "  Marrow   Bend ")
        assert made and track["value"] == "Marrow Bend"
        assert tracking.add_track(corpus.store, "query", "Marrow Bend")[1] is False
        # The article stored before the track makes no alert, even looked at again.
        assert find_alerts(corpus.store, 0) == []
        new = write_jsonl(tmp_path / "new.jsonl", [{"text": BODY.replace("flood", "storm"),
                                                    "url": "https://n.example/2",
                                                    "source": "New"}])  # fmt: skip
        result = corpus.add([str(new)])
        assert result.counts["alerts"] == 1
        # Looking again at the same articles records nothing more (the keys are unique).
        again = find_alerts(corpus.store, 0)
        assert len(again) == 1
        assert tracking.save_alerts(corpus.store, again, result.run_id) == 0
        with pytest.raises(ValueError, match="one of story, entity, query"):
            tracking.add_track(corpus.store, "person", "x")
        assert tracking.remove_track(corpus.store, track["id"])
        assert tracking.alerts(corpus.store)[0]["kind"] == "new_article"  # history stays


def test_alerts_in_the_web_app_page_atom_and_api(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from fastapi.testclient import TestClient

    from builders import BODY, write_jsonl
    from storyline.web import create_app

    db = tmp_path / "web.db"
    settings = Settings.from_dict({"embed": {"model": "hashing"}})
    with Corpus(db, settings) as corpus:
        tracking.add_track(corpus.store, "query", "Marrow Bend")
        tracking.add_track(corpus.store, "entity", "<script>alert(1)</script> Dahl")
        corpus.add([str(write_jsonl(tmp_path / "n.jsonl", [
            {"text": BODY, "url": "https://n.example/1", "source": "News & <Co>",
             "title": "Flood <b>in</b> Marrow Bend"},
        ]))])  # fmt: skip
    with TestClient(create_app(db)) as client:
        page = client.get("/alerts")
        assert page.status_code == 200
        assert (
            "Flood &lt;b&gt;in&lt;/b&gt; Marrow Bend" in page.text and "<b>in</b>" not in page.text
        )
        assert "<script>alert(1)" not in page.text
        assert 'href="/alerts.atom"' in page.text and "new article" in page.text
        only = client.get("/alerts", params={"kind": "new_copy"})
        assert only.status_code == 200 and 'class="alert ' not in only.text
        assert client.get("/alerts", params={"kind": "other"}).status_code == 422
        feed = client.get("/alerts.atom")
        assert feed.headers["content-type"].startswith("application/atom+xml")
        root = ET.fromstring(feed.content)
        entries = root.findall("{http://www.w3.org/2005/Atom}entry")
        assert len(entries) == 1
        title = entries[0].find("{http://www.w3.org/2005/Atom}title")
        assert title is not None and "Flood <b>in</b> Marrow Bend" in (title.text or "")
        api = client.get("/api/alerts").json()
        assert [a["kind"] for a in api] == ["new_article"]
        assert api[0]["data"]["outlet"] == "News & <Co>" and api[0]["track"]["kind"] == "query"
        assert client.get("/api/alerts", params={"after": api[0]["id"]}).json() == []
        assert {t["kind"] for t in client.get("/api/tracks").json()} == {"query", "entity"}


def test_add_and_watch_once_post_alerts_to_the_configured_webhook(tmp_path: Path) -> None:
    from builders import BODY, write_jsonl

    db = tmp_path / "cli.db"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with http_site() as (site, base):
        config = tmp_path / "hook.toml"
        config.write_text(f'[embed]\nmodel = "hashing"\n[alerts]\nwebhook = "{base}/hook"\n')
        made = _cli("track", "query", "Marrow Bend", "--db", str(db))
        assert made.returncode == 0, made.stderr
        write_jsonl(
            inbox / "1.jsonl", [{"text": BODY, "url": "https://a.example/1", "source": "A"}]
        )
        added = _cli("add", str(inbox / "1.jsonl"), "--db", str(db), "--config", str(config))
        assert added.returncode == 0, added.stderr
        assert "webhook: 1 alert(s) delivered" in added.stderr
        write_jsonl(inbox / "2.jsonl", [{"text": BODY.replace("flood", "storm"),
                                         "url": "https://b.example/2", "source": "B"}])  # fmt: skip
        once = _cli("watch", str(inbox), "--db", str(db), "--config", str(config), "--once",
                    "--json")  # fmt: skip
        assert once.returncode == 0, once.stderr
        counts = json.loads(once.stdout)
        assert counts["articles_new"] == 1 and counts["webhook_delivered"] == 1
        assert [p["data"]["url"] for p in site.posts] == ["https://a.example/1",
                                                          "https://b.example/2"]  # fmt: skip
        # The report's settings show that a webhook is set, never its address.
        with sqlite3.connect(db) as con:
            settings = [json.loads(r[0]) for r in con.execute("SELECT settings FROM runs")]
        assert {s["alerts"]["webhook"] for s in settings} == {"(set)"}
