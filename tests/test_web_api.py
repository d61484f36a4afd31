"""The JSON API and the pages through FastAPI's test client, and the OpenAPI spec fuzzed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from storyline.store import Store  # noqa: E402
from storyline.web import create_app  # noqa: E402
from webtools import example_store, scratch_copy, truth  # noqa: E402


@pytest.fixture(scope="session")
def example_db() -> Path:
    """The example corpus in a store, built once per session."""
    return example_store()


@pytest.fixture(scope="module")
def client(example_db: Path) -> TestClient:
    with TestClient(create_app(example_db)) as c:
        yield c


@pytest.fixture(scope="module")
def ids(example_db: Path) -> dict[str, Any]:
    """Article ids of the truth's URLs, and the stories."""
    store = Store(example_db)
    by_url = {a.url: a.id for a in store.iter_articles(full=False)}
    stories = store.stories()
    store.close()
    return {"by_url": by_url, "stories": stories}


def _rewrite(ids: dict[str, Any]) -> tuple[str, str]:
    link = next(ln for ln in truth()["links"] if ln["kind"] == "rewrite")
    return ids["by_url"][link["source"]], ids["by_url"][link["copy"]]


def test_stories_paginated(client: TestClient, ids: dict[str, Any]) -> None:
    everything = client.get("/api/stories", params={"limit": 500}).json()
    assert everything["total"] == len(ids["stories"]) == len(everything["stories"])
    page = client.get("/api/stories", params={"limit": 2, "offset": 1}).json()
    assert [s["id"] for s in page["stories"]] == [s["id"] for s in everything["stories"][1:3]]
    first = page["stories"][0]
    for key in ("id", "headline", "articles", "first_seen", "last_seen", "outlets",
                "article_count", "independent_sources"):  # fmt: skip
        assert key in first
    biggest = client.get("/api/stories", params={"sort": "biggest"}).json()["stories"]
    assert [s["article_count"] for s in biggest] == sorted(
        (s["article_count"] for s in biggest), reverse=True
    )


def test_stories_filters(client: TestClient, ids: dict[str, Any]) -> None:
    outlet = ids["stories"][0]["outlets"][0]
    rows = client.get("/api/stories", params={"outlet": outlet}).json()["stories"]
    assert rows and all(outlet in s["outlets"] for s in rows)
    assert client.get("/api/stories", params={"since": "2099-01-01"}).json()["total"] == 0
    assert client.get("/api/stories", params={"until": "1999-01-01"}).json()["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "ten"},
        {"offset": -1},
        {"sort": "random"},
        {"since": "March 3"},
    ],
)
def test_stories_bad_params(client: TestClient, params: dict[str, Any]) -> None:
    r = client.get("/api/stories", params=params)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][0] == "query"


def test_story_and_aliases(client: TestClient, ids: dict[str, Any]) -> None:
    sid = ids["stories"][0]["id"]
    story = client.get(f"/api/stories/{sid}").json()
    assert story["id"] == sid and "digest" in story
    assert client.get(f"/api/stories/{sid[:8]}").json()["id"] == sid  # unique prefix
    r = client.get("/api/stories/s-no-such-story")
    assert r.status_code == 404 and "no story" in r.json()["detail"]


def test_article(client: TestClient, ids: dict[str, Any]) -> None:
    src, cpy = _rewrite(ids)
    art = client.get(f"/api/articles/{cpy}").json()
    for key in ("id", "source", "title", "url", "published", "credits", "removed", "text",
                "origins", "links", "story"):  # fmt: skip
        assert key in art
    assert any(ln["source"] == src and ln["copy"] == cpy for ln in art["links"])
    assert client.get("/api/articles/ffffffffffffffff").status_code == 404


def test_compare(client: TestClient, ids: dict[str, Any]) -> None:
    src, cpy = _rewrite(ids)
    r = client.get("/api/compare", params={"a": cpy, "b": src}).json()
    assert r["kind"] == "rewrite" and r["source"] == src and r["copy"] == cpy
    assert any(p["substitutions"] for p in r["pairs"])
    assert r["reasons"]
    assert client.get("/api/compare", params={"a": src, "b": "nope"}).status_code == 404
    assert client.get("/api/compare", params={"a": src, "b": src}).status_code == 400
    assert client.get("/api/compare", params={"a": src}).status_code == 422


def test_links(client: TestClient) -> None:
    every = client.get("/api/links").json()
    rewrites = client.get("/api/links", params={"kind": "rewrite"}).json()
    assert rewrites and all(ln["kind"] == "rewrite" for ln in rewrites)
    assert len(every) > len(rewrites)
    assert {"source", "copy", "kind", "direction", "reasons", "pairs"} <= set(every[0])
    assert "a" not in every[0]
    assert client.get("/api/links", params={"kind": "plagiarism"}).status_code == 422


def test_search(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "Millbrook dam"}).json()
    assert r["total"] >= 3 and r["results"]
    hit = r["results"][0]
    assert {"id", "title", "source", "published", "snippet", "story"} <= set(hit)
    assert "dam" in hit["snippet"].lower() and "\x02" not in hit["snippet"]
    # FTS5 syntax in user input is taken as words, never as a query.
    odd = client.get("/api/search", params={"q": 'dam" OR (NEAR'})
    assert odd.status_code == 200
    assert client.get("/api/search", params={"q": "zzzqqqxx"}).json()["total"] == 0
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    assert client.get("/api/search", params={"q": "dam", "limit": 1000}).status_code == 422
    page2 = client.get("/api/search", params={"q": "Millbrook dam", "limit": 1, "offset": 1})
    assert page2.json()["results"][0]["id"] == r["results"][1]["id"]


def test_pages_render(client: TestClient, ids: dict[str, Any]) -> None:
    src, cpy = _rewrite(ids)
    sid = ids["stories"][0]["id"]
    assert "story-link" in client.get("/").text
    assert "<mark>" in client.get("/", params={"q": "dam"}).text
    story = client.get(f"/stories/{sid}")
    assert story.status_code == 200 and "Coverage timeline" in story.text
    assert "content-security-policy" in story.headers
    compare = client.get("/compare", params={"a": src, "b": cpy}).text
    assert '<mark class="new">' in compare
    article = client.get(f"/articles/{cpy}").text
    assert "Clean text" in article and f"/compare?a={src}&amp;b={cpy}" in article
    assert client.get("/stories/nope").status_code == 404
    assert client.get("/articles/nope").status_code == 404
    assert client.get("/compare", params={"a": "nope", "b": src}).status_code == 404


def test_atom_feed(client: TestClient, ids: dict[str, Any]) -> None:
    from xml.etree import ElementTree

    st = ids["stories"][0]
    r = client.get(f"/stories/{st['id']}/feed.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ElementTree.fromstring(r.content)
    assert len(feed.findall("a:entry", ns)) == st["article_count"]
    assert client.get("/stories/nope/feed.atom").status_code == 404


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/stories", "/api/stories/{story_id}", "/api/articles/{article_id}",
            "/api/compare", "/api/links", "/api/search", "/api/articles"} <= set(spec["paths"])  # fmt: skip


# -- ingest -----------------------------------------------------------------------------
ARTICLE = {
    "title": "Quarry lake warning after swimmer rescued",
    "source": "Brackwater Bugle",
    "url": "https://bugle.example/quarry-lake-warning",
    "published": "2026-04-03T10:00:00+00:00",
    "text": (
        "Rangers at the Hollin quarry lake put up new warning signs on Friday after a swimmer "
        "was pulled from the cold water by two anglers.\n\n"
        "The lake is forty metres deep in places and stays below ten degrees all summer, "
        "the park authority said."
    ),
}


def test_read_only_by_default(client: TestClient) -> None:
    r = client.post("/api/articles", json=[ARTICLE])
    assert r.status_code == 403 and "--allow-ingest" in r.json()["detail"]


@pytest.fixture
def ingest_client(example_db: Path, request: pytest.FixtureRequest) -> TestClient:
    """An ingest-enabled app over a private copy of the example store."""
    rate = getattr(request, "param", (100, 60.0))
    db = scratch_copy(example_db, "ingest")
    app = create_app(db, allow_ingest=True, max_body=20_000, rate=rate)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c


def test_ingest_rejects_bad_input(ingest_client: TestClient) -> None:
    post = ingest_client.post
    r = post("/api/articles", content=b"[{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not JSON" in r.json()["detail"]
    assert post("/api/articles", json={"text": "x"}).status_code == 400
    assert post("/api/articles", json=[]).status_code == 400
    assert (
        post("/api/articles", content="hello", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    r = post("/api/articles", json=[{**ARTICLE, "colour": "red"}])
    assert r.status_code == 422 and "colour" in json.dumps(r.json())
    assert post("/api/articles", json=[{"title": "no text"}]).status_code == 422
    assert post("/api/articles", json=[{**ARTICLE, "text": "x" * 30_000}]).status_code == 413
    foreign = post("/api/articles", json=[ARTICLE], headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403 and "cross-origin" in foreign.json()["detail"]
    rebound = post("/api/articles", json=[ARTICLE], headers={"host": "evil.example"})
    assert rebound.status_code == 403


@pytest.mark.parametrize("ingest_client", [(3, 60.0)], indirect=True)
def test_ingest_adds_and_indexes(ingest_client: TestClient) -> None:
    r = ingest_client.post(
        "/api/articles", json=[ARTICLE], headers={"origin": "http://127.0.0.1:8000"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["articles_new"] == 1
    hits = ingest_client.get("/api/search", params={"q": "quarry anglers"}).json()["results"]
    assert [h["title"] for h in hits] == [ARTICLE["title"]]
    again = ingest_client.post("/api/articles", json=[ARTICLE])
    assert again.status_code == 201 and again.json()["counts"]["articles_seen"] == 1
    # Three posts a minute here; the fourth is turned away.
    third = ingest_client.post("/api/articles", json=[ARTICLE])
    assert third.status_code == 201
    limited = ingest_client.post("/api/articles", json=[ARTICLE])
    assert limited.status_code == 429


# -- the OpenAPI spec, fuzzed -------------------------------------------------------------
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402


def test_openapi_fuzzed(example_db: Path) -> None:
    """Requests generated from the OpenAPI spec never crash the server, and each answer
    matches the schema the spec declares (a bounded number of examples per operation).

    Schemathesis's own pytest plugin does not load under this pytest, so its strategies
    are driven by hypothesis directly.
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(example_db))
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.response_schema_conformance,
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7

    negative = schemathesis.GenerationMode.NEGATIVE
    runs = [(op, schemathesis.GenerationMode.POSITIVE, checks) for op in operations] + [
        # Invalid query parameters must be refused with a 4xx, never crash. (A bare string
        # path parameter has no invalid values, nor has an operation without parameters, so
        # those have no negative run.)
        (op, negative, checks[:1])
        for op in operations
        if op.method.upper() == "GET" and "{" not in op.path and list(op.query)
    ]
    for operation, mode, run_checks in runs:
        _fuzz(operation.as_strategy(generation_mode=mode), run_checks)


def _fuzz(strategy: Any, checks: list[Any]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        response = case.call_and_validate(checks=checks)
        assert response.status_code < 500

    check()


def fake_digest(story: dict[str, Any]) -> dict[str, Any]:
    """A digest of the documented shape over a story's first articles (for rendering only)."""
    a, b = story["articles"][0], story["articles"][-1]
    return {
        "story": story["id"],
        "method": "test",
        "words": 12,
        "summary": [{"text": "Something <b>happened</b>.", "articles": [a, b], "sources": 2}],
        "facts": [
            {
                "id": "f1",
                "text": "It happened at dawn.",
                "articles": [b],
                "sources": 1,
                "outlets": ["Somewhere"],
                "first": {"article": b, "outlet": "Somewhere", "published": None},
                "attribution": "police",
                "variants": [{"text": "It happened at sunrise.", "articles": [b]}],
            }
        ],
        "quotes": [
            {
                "text": "We <script>saw</script> it",
                "speaker": "A. Witness",
                "variants": [{"text": "We saw it", "articles": [a]}],
                "articles": [a],
            }
        ],
        "entities": {
            "extractor": "test",
            "people": [{"name": "A. Witness", "mentions": 2}],
            "organisations": [],
            "places": [{"name": "Caddock Falls", "mentions": 3}],
        },
        "conflicts": [
            {
                "fact": "how many died",
                "kind": "number",
                "values": [
                    {"value": "3", "articles": [a], "outlets": ["X"], "sentence": "Three died."},
                    {"value": "4", "articles": [b], "outlets": ["Y"], "sentence": "Four died."},
                ],
            }
        ],
    }


def test_story_page_renders_a_digest(
    client: TestClient, ids: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyline.corpus import Corpus

    story = ids["stories"][0]
    # Every connection the site reads through (it keeps a pool) gives this digest.
    monkeypatch.setattr(Corpus, "digest", lambda self, sid: fake_digest(story))
    html = client.get(f"/stories/{story['id']}").text
    api = client.get(f"/api/stories/{story['id']}").json()
    assert api["digest"]["method"] == "test"
    assert (
        f'href="#ref-{story["id"]}-1">[1]</a><a class="cite" href="#ref-{story["id"]}-2">[2]'
        in html
    )
    assert "Something &lt;b&gt;happened&lt;/b&gt;." in html
    assert "We &lt;script&gt;saw&lt;/script&gt; it" in html and "A. Witness" in html
    assert "It happened at sunrise." in html and "police" in html
    assert "Caddock Falls" in html and "how many died" in html
    assert html.count('<li id="ref-') == len({story["articles"][0], story["articles"][-1]})


def test_static_report_renders_digests(example_db: Path) -> None:
    import json

    from storyline.report import render_html
    from storyline.report.markdown import render_markdown

    report = json.loads((example_db.parent / "report.json").read_text("utf-8"))
    report["digests"] = [fake_digest(s) for s in report["stories"]]
    html = render_html(report)
    assert html.count("We &lt;script&gt;saw&lt;/script&gt; it") == len(report["stories"])
    assert "No digest yet" not in html
    md = render_markdown(report)
    assert "Something &lt;b&gt;happened&lt;/b&gt;\\. [1][2]" in md
    report["digests"] = []
    assert render_html(report).count("No digest yet") == len(report["stories"])


def test_cli_run_writes_markdown(example_db: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from storyline.cli import app
    from webtools import EXAMPLES

    db = scratch_copy(example_db, "cli")
    runner = CliRunner()
    args = ["run", str(EXAMPLES / "corpus"), "--db", str(db), "--out", str(tmp_path)]
    done = runner.invoke(app, [*args, "--format", "md"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    assert (tmp_path / "report.md").read_text("utf-8").startswith("# storyline report")
    assert runner.invoke(app, [*args, "--format", "pdf"]).exit_code == 2


def test_cli_serve_needs_a_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from storyline.cli import app

    done = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "none.db")])
    assert done.exit_code == 2 and "no store" in done.output


def test_search_index_follows_adds_and_recleaning(fresh_store: Store) -> None:
    from storyline.records import Article, Origin

    art = Article("a1", "raw", "Ferry pier closes", Origin("x.txt"), title="Pier news")
    fresh_store.add_article(art)
    assert [h["id"] for h in fresh_store.search("pier")] == ["a1"]  # the title, before cleaning
    fresh_store.save_cleaning("a1", "The ferry pier closes on Monday.", [], [], None, "s1")
    assert [h["id"] for h in fresh_store.search("monday ferry")] == ["a1"]
    fresh_store.save_cleaning("a1", "The harbour wall reopens.", [], [], None, "s2")
    assert fresh_store.search("monday") == [] and fresh_store.search_total("harbour") == 1
    assert fresh_store.search("harb")[0]["snippet"] == "The [harbour] wall reopens."
    assert fresh_store.search("***") == [] and fresh_store.search_total("") == 0


def test_atom_feed_survives_control_characters_and_bare_dates(tmp_path: Path) -> None:
    from xml.etree import ElementTree

    from storyline import Corpus

    record = {
        "text": "The council met on Monday to vote on the budget.\x0b It passed by six votes to"
        " three after a long debate.\x01 Residents cheered.",
        "title": "Budget\x08 passes", "source": "Bend Post", "url": "https://x.example/1",
        "published": "2026-03-01",
    }  # fmt: skip
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    with Corpus(tmp_path / "s.db") as corpus:
        corpus.add([str(tmp_path / "a.jsonl")])
        sid = corpus.stories()[0]["id"]
    r = TestClient(create_app(tmp_path / "s.db")).get(f"/stories/{sid}/feed.atom")
    assert r.status_code == 200
    feed = ElementTree.fromstring(r.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entry = feed.find("a:entry", ns)
    assert entry is not None
    assert entry.findtext("a:title", namespaces=ns) == "Budget passes"
    assert entry.findtext("a:published", namespaces=ns) == "2026-03-01T00:00:00+00:00"


def test_pages_read_only_their_links_families_and_story(example_db: Path) -> None:
    """The story and article pages read by index what they show; the same as filtering all."""
    store = Store(example_db)
    try:
        every = store.links()
        stories = store.stories()
        for st in stories:
            inside = set(st["articles"])
            among = [ln for ln in every if ln["source"] in inside and ln["copy"] in inside]
            assert store.links_of(st["articles"], both=True) == among
            roots = store.families()
            assert store.families_of(st["articles"]) == {
                a: r for a, r in roots.items() if a in inside
            }
            for aid in st["articles"]:
                assert store.story_of(aid) == st["id"]
                touching = [ln for ln in every if aid in (ln["source"], ln["copy"])]
                assert store.links_of([aid]) == touching
        assert any(store.links_of(st["articles"], both=True) for st in stories)
    finally:
        store.close()


def test_stories_page_is_paged(example_db: Path, tmp_path: Path) -> None:
    """Fifty stories a page, with links that keep the filters; the example fits on one."""
    import re

    from storyline.web import app as web_app

    old = web_app.STORIES_PER_PAGE
    web_app.STORIES_PER_PAGE = 2
    try:
        with TestClient(create_app(example_db)) as c:
            first = c.get("/", params={"sort": "biggest"}).text
            assert first.count('class="story-link"') == 2
            assert "page 1 of" in first and 'rel="next"' in first and 'rel="prev"' not in first
            nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
            assert "sort=biggest" in nxt and "page=2" in nxt
            second = c.get(nxt).text
            assert 'rel="prev"' in second and "page 2 of" in second
            assert c.get("/", params={"page": 999}).status_code == 200  # past the end: the last
    finally:
        web_app.STORIES_PER_PAGE = old
    with TestClient(create_app(example_db)) as c:
        assert 'class="pages"' not in c.get("/").text


def test_story_list_is_read_again_after_another_connection_writes(example_db: Path) -> None:
    from storyline.web.site import Site

    db = scratch_copy(example_db, "cache")
    site = Site(db)
    try:
        before = site.stories()
        assert site.stories() == before  # the second read comes from the cache
        other = Store(db)
        gone = before[0]["id"]
        other.update_stories([], {}, [gone])  # another process drops a story
        other.close()
        assert [s["id"] for s in site.stories()] == [s["id"] for s in before[1:]]
    finally:
        site.close()


def test_reads_do_not_wait_for_each_other(example_db: Path) -> None:
    """Each reading thread has a connection of its own (up to ``readers``): a read goes on
    while another thread is in the middle of one, and one past the pool waits its turn."""
    import threading

    from storyline.web.site import Site

    site = Site(scratch_copy(example_db, "pool"), readers=2)
    inside, leave = threading.Event(), threading.Event()
    held: list[int] = []

    def hold() -> None:
        with site._locked() as c:
            held.append(id(c))
            inside.set()
            leave.wait(30)

    def read(out: list[Any]) -> None:
        out.append(site.stories())

    try:
        holder = threading.Thread(target=hold)
        holder.start()
        assert inside.wait(30)
        first: list[Any] = []
        t = threading.Thread(target=read, args=(first,))
        t.start()
        t.join(30)
        assert first and first[0], "a read waited for another thread's read"
        # Both connections busy: a third reader waits until one is given back.
        inside.clear()
        second = threading.Thread(target=hold)
        second.start()
        assert inside.wait(30)
        late: list[Any] = []
        t = threading.Thread(target=read, args=(late,))
        t.start()
        t.join(0.5)
        assert not late
        leave.set()
        t.join(30)
        assert late == first
        holder.join(30)
        second.join(30)
        assert len(set(held)) == 2 and len(site._opened) == 2
    finally:
        leave.set()
        site.close()


def test_story_page_lists_at_most_so_many_links_and_facts_unless_asked(example_db: Path) -> None:
    from storyline.web import app as web_app

    store = Store(example_db)
    biggest = max(store.stories(), key=lambda s: s["article_count"])
    store.close()
    old = web_app.LINKS_PER_SECTION
    web_app.LINKS_PER_SECTION = 1
    try:
        with TestClient(create_app(example_db)) as c:
            short = c.get(f"/stories/{biggest['id']}").text
            full = c.get(f"/stories/{biggest['id']}", params={"show": "all"}).text
    finally:
        web_app.LINKS_PER_SECTION = old
    assert 'href="?show=all"' in short and 'href="?show=all"' not in full
    assert short.count("<td><b>") < full.count("<td><b>")  # fewer fact rows


def test_search_page_is_paged(example_db: Path) -> None:
    import re

    from storyline.web import app as web_app

    old = web_app.HITS_PER_PAGE
    web_app.HITS_PER_PAGE = 2
    try:
        with TestClient(create_app(example_db)) as c:
            first = c.get("/", params={"q": "the"}).text
            assert first.count('<div class="snippet">') == 2 and 'rel="next"' in first
            nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
            assert "q=the" in nxt and "from=2" in nxt
            second = c.get(nxt).text
            assert 'start="3"' in second and 'rel="prev"' in second
    finally:
        web_app.HITS_PER_PAGE = old
