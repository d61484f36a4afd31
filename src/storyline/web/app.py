"""The FastAPI app: HTML pages and a JSON API under /api, both views over :class:`Site`.

Read-only unless built with ``allow_ingest=True``; then ``POST /api/articles`` takes a
JSON list of articles, with a size limit (checked as the body arrives, never after reading it
whole), a per-client rate limit, a Host/Origin check (so a web page elsewhere cannot post into
a server on localhost) and, when a token is set, ``Authorization: Bearer TOKEN``.

Every response carries security headers (a Content-Security-Policy without inline script,
``nosniff``, no framing, no referrer). ``/docs`` is the Swagger UI whose files ship in the
``fastapi-offline`` package, so it works without reaching a CDN.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote, urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from storyline.config import Settings
from storyline.report.html import environment as report_environment
from storyline.store.lock import StoreBusy
from storyline.web.site import Site

__all__ = ["create_app"]

#: Kinds a link can have, for validating ?kind=.
AlertKind = Literal["new_article", "new_copy", "new_fact", "new_conflict", "new_quote"]
ALERT_KINDS = get_args(AlertKind)
ALERTS_PER_PAGE = 100
ID_MAX = 2**63 - 1  # SQLite's largest integer
LinkKind = Literal["duplicate", "near_duplicate", "rewrite", "partial", "shared_quotes"]
Sort = Literal["newest", "biggest", "sources"]

#: Pages need no script at all; this keeps even a template mistake from running one.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: /docs runs the Swagger UI: its own script files from this server, still nothing inline.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: Every other response (JSON, feeds, errors): nothing may run or be framed.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
#: The Swagger UI files /docs needs, by name (nothing else of the package is served).
DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon.png": "image/png",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: Stories on one page of the stories page (the API pages with limit and offset).
STORIES_PER_PAGE = 50
#: Search hits on one page (each has a snippet made by FTS5).
HITS_PER_PAGE = 20
#: Links, facts and conflicts listed in each section of a story page unless ?show=all (a
#: story of 150 articles has 1,000s of links and 100s of facts; the best corroborated first).
LINKS_PER_SECTION = 50
DATE = r"^\d{4}-\d{2}-\d{2}$"
FORM_DATE = r"^(\d{4}-\d{2}-\d{2})?$"  # a form sends an empty date field as ""
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such id"}}


class Page(BaseModel):
    """A page of a list: how many in all, and which slice this is."""

    total: int
    limit: int
    offset: int


class StoriesPage(Page):
    stories: list[dict[str, Any]]


class SearchPage(Page):
    query: str
    results: list[dict[str, Any]]


class ArticleIn(BaseModel):
    """An article to add: text or HTML, and what is known about it."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, max_length=500_000)
    html: str | None = Field(None, max_length=500_000)
    title: str | None = Field(None, max_length=1000)
    url: str | None = Field(None, max_length=2000)
    source: str | None = Field(None, max_length=300)
    published: str | None = Field(None, max_length=64)
    author: str | None = Field(None, max_length=300)


class IngestResult(BaseModel):
    run: int
    counts: dict[str, Any]
    problems: list[dict[str, Any]]


_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _atom_time(published: str) -> str:
    return published if len(published) > 10 else f"{published}T00:00:00+00:00"


def _marked(snippet: str) -> Markup:
    """A search snippet with its matched words in <mark>, everything else escaped."""
    return Markup(str(escape(snippet)).replace("\x02", "<mark>").replace("\x03", "</mark>"))


def templates() -> Environment:
    """The report's environment (filters, autoescape) over the web and report templates."""
    env = report_environment()
    env.loader = ChoiceLoader(
        [
            PackageLoader("storyline.web", "templates"),
            PackageLoader("storyline.report", "templates"),
        ]
    )
    env.filters["marked"] = _marked
    env.globals["href_article"] = lambda aid: f"/articles/{quote(aid, safe='')}"
    env.globals["href_story"] = lambda sid: f"/stories/{quote(sid, safe='')}"
    env.globals["href_outlet"] = lambda name: f"/outlets/{quote(name, safe='')}"
    env.globals["href_compare"] = lambda a, b: (
        f"/compare?a={quote(a, safe='')}&b={quote(b, safe='')}"
    )
    return env


class RateLimit:
    """At most ``count`` requests per ``window`` seconds from one client."""

    def __init__(self, count: int, window: float) -> None:
        self.count, self.window = count, window
        self.seen: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self.lock:
            q = self.seen.setdefault(client, deque())
            while q and now - q[0] > self.window:
                q.popleft()
            if len(q) >= self.count:
                return False
            q.append(now)
            return True


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, and a default CSP where a
    route set none (a plain ASGI layer, not BaseHTTPMiddleware: it adds no task per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in names)
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", DEFAULT_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _docs_folder() -> Path | None:
    """The Swagger UI's files (Swagger UI 5, which reads OpenAPI 3.1) in fastapi-offline."""
    from importlib.util import find_spec

    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def create_app(
    db: str | Path,
    settings: Settings | None = None,
    allow_ingest: bool = False,
    max_body: int = 2_000_000,
    max_articles: int = 200,
    rate: tuple[int, float] = (10, 60.0),
    hosts: tuple[str, ...] = (),
    token: str | None = None,
) -> FastAPI:
    """The web app over the store at ``db``.

    ``hosts`` are Host names accepted for ingest besides the loopback ones (the name the
    server is bound to when that is not loopback). ``token``, when given, must come with
    every ingest POST as ``Authorization: Bearer TOKEN``.
    """
    site = Site(db, settings)
    allowed_hosts = LOOPBACK | {h.lower() for h in hosts}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        site.close()

    env = templates()
    limiter = RateLimit(*rate)
    app = FastAPI(
        title="storyline",
        summary="Stories, copies and corroborated facts in news coverage.",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.state.site = site
    app.state.allow_ingest = allow_ingest

    def page(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(name).render(allow_ingest=allow_ingest, **ctx)
        return HTMLResponse(html, status, headers={"Content-Security-Policy": CSP})

    def missing(exc: KeyError) -> HTTPException:
        return HTTPException(404, str(exc.args[0]) if exc.args else "not found")

    # -- the API's docs, offline ---------------------------------------------------------
    docs_folder = _docs_folder()

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        if docs_folder is None:
            raise HTTPException(404, "install fastapi-offline for /docs; /openapi.json is here")
        html = env.get_template("docs.html").render()
        return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})

    @app.get("/docs/docs.js", include_in_schema=False)
    def docs_script() -> Response:
        script = (Path(__file__).parent / "static" / "docs.js").read_bytes()
        return Response(script, media_type="text/javascript")

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        if docs_folder is None or name not in DOCS_ASSETS:
            raise HTTPException(404, "no such file")
        return FileResponse(
            docs_folder / name,
            media_type=DOCS_ASSETS[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # -- HTML pages -------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def stories_page(
        q: Annotated[str | None, Query(max_length=200)] = None,
        outlet: Annotated[str | None, Query(max_length=300)] = None,
        since: Annotated[str | None, Query(pattern=FORM_DATE)] = None,
        until: Annotated[str | None, Query(pattern=FORM_DATE)] = None,
        sort: Sort = "newest",
        page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
        hits_from: Annotated[int, Query(alias="from", ge=0, le=1_000_000)] = 0,
    ) -> HTMLResponse:
        rows = site.stories(outlet or None, since or None, until or None, sort)
        found = site.search(q, HITS_PER_PAGE, hits_from) if q and q.strip() else None
        params = {"q": q or "", "outlet": outlet or "", "since": since or "",
                  "until": until or "", "sort": sort}  # fmt: skip
        pages = max(1, -(-len(rows) // STORIES_PER_PAGE))
        page_no = min(page_no, pages)
        start = (page_no - 1) * STORIES_PER_PAGE
        shown = rows[start : start + STORIES_PER_PAGE]
        kept = {k: v for k, v in params.items() if v and not (k == "sort" and v == "newest")}
        return page(
            "stories.html",
            stories=shown,
            total=len(rows),
            first=start + 1,
            last=start + len(shown),
            page=page_no,
            pages=pages,
            page_href=lambda n: "/?" + urlencode({**kept, "page": n}),
            hits_href=lambda n: "/?" + urlencode({**kept, "from": max(0, n)}),
            outlets=site.outlets(),
            search=found,
            params=params,
        )

    @app.get("/stories/{story_id}", response_class=HTMLResponse, include_in_schema=False)
    def story_page(
        story_id: str, show: Annotated[Literal["all"] | None, Query()] = None
    ) -> HTMLResponse:
        try:
            v = site.story_page(story_id)
        except KeyError as exc:
            return page("error.html", 404, message=str(exc.args[0]))
        shown = None if show == "all" else LINKS_PER_SECTION
        return page("story.html", v=v, shown=shown)

    @app.get("/stories/{story_id}/feed.atom", include_in_schema=False)
    def story_feed(story_id: str) -> Response:
        try:
            st, arts = site.story_articles(story_id)
        except KeyError as exc:
            raise missing(exc) from exc
        # Atom wants full timestamps: a bare date is taken as midnight UTC.
        arts = [
            {**a, "published": _atom_time(a["published"]) if a["published"] else None} for a in arts
        ]
        updated = max((a["published"] for a in arts if a["published"]), default=None)
        xml = env.get_template("feed.atom").render(
            story=st,
            articles=arts,
            updated=updated or datetime.now(UTC).isoformat(timespec="seconds"),
        )
        # Characters XML forbids (control codes in scraped text) would make the feed unreadable.
        xml = _XML_ILLEGAL.sub("", xml)
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    @app.get("/outlets", response_class=HTMLResponse, include_in_schema=False)
    def outlets_page() -> HTMLResponse:
        return page("outlets.html", outlets=site.outlet_summary())

    @app.get("/outlets/{name:path}", response_class=HTMLResponse, include_in_schema=False)
    def outlet_page(name: str) -> HTMLResponse:
        try:
            o = site.outlet(name)
        except KeyError as exc:
            return page("error.html", 404, message=str(exc.args[0]))
        return page("outlet.html", o=o)

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts_page(
        track: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
        kind: AlertKind | None = None,
        before: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
    ) -> HTMLResponse:
        rows = site.alerts(0, ALERTS_PER_PAGE, track, kind, before)
        keep = {k: v for k, v in (("track", track), ("kind", kind)) if v}
        older = (
            "/alerts?" + urlencode({**keep, "before": rows[-1]["id"]})
            if len(rows) == ALERTS_PER_PAGE
            else None
        )
        return page("alerts.html", alerts=rows, tracks=site.tracks(), track=track, kind=kind,
                    kinds=ALERT_KINDS, older=older)  # fmt: skip

    @app.get("/alerts.atom", include_in_schema=False)
    def alerts_feed(
        track: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None, kind: AlertKind | None = None
    ) -> Response:
        rows = site.alerts(0, ALERTS_PER_PAGE, track, kind)
        for a in rows:
            a["made"] = _atom_time(a["made"])
        updated = rows[0]["made"] if rows else datetime.now(UTC).isoformat(timespec="seconds")
        xml = env.get_template("alerts.atom").render(alerts=rows, updated=updated, track=track)
        xml = _XML_ILLEGAL.sub("", xml)
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    @app.get("/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(article_id: str) -> HTMLResponse:
        try:
            a = site.article(article_id)
        except KeyError as exc:
            return page("error.html", 404, message=str(exc.args[0]))
        others = {x for ln in a["links"] for x in (ln["source"], ln["copy"])} - {a["id"]}
        return page("article.html", a=a, titles=site.titles(sorted(others)))

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(
        a: Annotated[str, Query(min_length=1, max_length=100)],
        b: Annotated[str, Query(min_length=1, max_length=100)],
    ) -> HTMLResponse:
        try:
            c = site.compare_page(a, b)
        except KeyError as exc:
            return page("error.html", 404, message=str(exc.args[0]))
        except ValueError as exc:
            return page("error.html", 400, message=str(exc))
        return page("compare.html", c=c)

    # -- JSON API ----------------------------------------------------------------------
    @app.get("/api/stories", response_model=StoriesPage, tags=["stories"])
    def api_stories(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        outlet: Annotated[str | None, Query(max_length=300)] = None,
        since: Annotated[str | None, Query(pattern=DATE)] = None,
        until: Annotated[str | None, Query(pattern=DATE)] = None,
        sort: Sort = "newest",
    ) -> dict[str, Any]:
        """Stories (fields as in report.json), newest first unless ``sort`` says otherwise."""
        rows = site.stories(outlet, since, until, sort)
        return {
            "total": len(rows),
            "limit": limit,
            "offset": offset,
            "stories": rows[offset : offset + limit],
        }

    @app.get("/api/stories/{story_id}", tags=["stories"], responses=NOT_FOUND)
    def api_story(story_id: str) -> dict[str, Any]:
        """One story by id, alias or unique prefix, with ``digest`` (null until made)."""
        try:
            return site.story(story_id)
        except KeyError as exc:
            raise missing(exc) from exc

    @app.get("/api/articles/{article_id}", tags=["articles"], responses=NOT_FOUND)
    def api_article(article_id: str) -> dict[str, Any]:
        """One article by id or unique prefix: metadata, clean text, removed lines, links."""
        try:
            return site.article(article_id)
        except KeyError as exc:
            raise missing(exc) from exc

    @app.get(
        "/api/compare",
        tags=["articles"],
        responses={**NOT_FOUND, 400: {"description": "The same article twice"}},
    )
    def api_compare(
        a: Annotated[str, Query(min_length=1, max_length=100)],
        b: Annotated[str, Query(min_length=1, max_length=100)],
    ) -> dict[str, Any]:
        """Two articles aligned: pairs, substitutions, kind, direction and its reasons."""
        try:
            return site.compare(a, b)
        except KeyError as exc:
            raise missing(exc) from exc
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc

    @app.get("/api/links", tags=["articles"])
    def api_links(kind: LinkKind | None = None) -> list[dict[str, Any]]:
        """Reuse links (source, copy, kind, direction, reasons, coverage, pairs)."""
        return site.links(kind)

    @app.get("/api/outlets", tags=["outlets"])
    def api_outlets() -> list[dict[str, Any]]:
        """Each outlet: articles, stories, copies (share, of whom), who copies it, how many
        exclusives and blindspots. Copies never count as independent."""
        return site.outlet_summary()

    @app.get("/api/outlets/{name:path}", tags=["outlets"], responses=NOT_FOUND)
    def api_outlet(name: str) -> dict[str, Any]:
        """One outlet in full: its articles (copies marked), who copies it, its exclusives
        (facts only its copy family states) and blindspots (stories it missed)."""
        try:
            return site.outlet(name)
        except KeyError as exc:
            raise missing(exc) from exc

    @app.get("/api/alerts", tags=["alerts"])
    def api_alerts(
        after: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        track: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
        kind: AlertKind | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts, newest first (``after``: only those with a higher id, to follow them):
        kind, track, story, article, a one-line title and the evidence in ``data``."""
        return site.alerts(after, limit, track, kind)

    @app.get("/api/tracks", tags=["alerts"])
    def api_tracks() -> list[dict[str, Any]]:
        """What is tracked (``storyline track``), with each track's number of alerts."""
        return site.tracks()

    @app.get("/api/search", response_model=SearchPage, tags=["articles"])
    def api_search(
        q: Annotated[str, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> dict[str, Any]:
        """Articles whose title or clean text hold every word of ``q`` (the last as a prefix)."""
        found = site.search(q, limit, offset)
        for hit in found["results"]:
            hit.pop("marked_snippet", None)
        return found

    @app.post(
        "/api/articles",
        tags=["articles"],
        response_model=IngestResult,
        status_code=201,
        responses={
            400: {"description": "Not a JSON list of articles"},
            401: {"description": "The server has a token and the request did not carry it"},
            403: {"description": "Read-only server, or a foreign Host/Origin"},
            413: {"description": "Body too large"},
            415: {"description": "Not application/json"},
            429: {"description": "Too many requests"},
            503: {"description": "Another run is writing the store; retry later"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": ArticleIn.model_json_schema(),
                            "minItems": 1,
                            "maxItems": max_articles,
                        }
                    }
                },
            }
        },
    )
    async def api_ingest(request: Request) -> JSONResponse:
        """Add articles (a JSON list; each needs ``text`` or ``html``) and run the pipeline."""
        if not allow_ingest:
            raise HTTPException(403, "this server is read-only; start it with --allow-ingest")
        host = request.headers.get("host", "")
        hostname = urlsplit("//" + host).hostname or ""
        if hostname.lower() not in allowed_hosts:
            raise HTTPException(403, f"unexpected Host header {host!r}")
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != host:
            raise HTTPException(403, f"cross-origin request from {origin!r} refused")
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()
            ):
                raise HTTPException(
                    401,
                    "this server takes articles with its token only: "
                    "send the header Authorization: Bearer TOKEN",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise HTTPException(415, "send the articles as application/json")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            raise HTTPException(413, f"body larger than {max_body} bytes")
        client = request.client.host if request.client else "?"
        if not limiter.allow(client):
            raise HTTPException(429, "too many ingest requests; wait a minute")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                raise HTTPException(413, f"body larger than {max_body} bytes")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"body is not JSON: {exc}") from exc
        if not isinstance(data, list) or not data:
            raise HTTPException(400, "send a non-empty JSON list of article objects")
        if len(data) > max_articles:
            raise HTTPException(413, f"at most {max_articles} articles per request")
        try:
            items = TypeAdapter(list[ArticleIn]).validate_python(data)
        except ValidationError as exc:
            raise HTTPException(
                422, json.loads(exc.json(include_url=False, include_input=False))
            ) from exc
        bad = [
            i for i, x in enumerate(items) if not ((x.text or "").strip() or (x.html or "").strip())
        ]
        if bad:
            raise HTTPException(422, f"articles {bad} have neither text nor html")
        records = [x.model_dump(exclude_none=True) for x in items]
        try:
            result = await run_in_threadpool(site.ingest, records)
        except StoreBusy as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "10"}) from exc
        return JSONResponse(result, status_code=201)

    return app
