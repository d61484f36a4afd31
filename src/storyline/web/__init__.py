"""The web app: HTML pages and a JSON API over the library (FastAPI + Jinja2).

FastAPI and uvicorn are imported only here, so the rest of storyline runs without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    """The app over a store; see :func:`storyline.web.app.create_app`."""
    try:
        from storyline.web.app import create_app as make
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"the web app needs FastAPI and uvicorn ({exc.name} is missing): "
            'pip install "storyline[web]" or pip install fastapi uvicorn'
        ) from exc
    return make(*args, **kwargs)
