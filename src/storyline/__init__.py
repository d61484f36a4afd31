"""storyline: find the stories, the copies and the corroborated facts in news coverage.

>>> from storyline import analyze
>>> corpus = analyze(["news/"])            # in-memory store
>>> corpus.report()["summary"]["articles"]
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from storyline.config import Settings
from storyline.corpus import Corpus, analyze
from storyline.pipeline import RunResult
from storyline.records import Article, Credit, Origin, Problem, RawDoc, RemovedLine, Sentence
from storyline.store import Store

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Article",
    "Corpus",
    "Credit",
    "Origin",
    "Problem",
    "RawDoc",
    "RemovedLine",
    "RunResult",
    "Sentence",
    "Settings",
    "Store",
    "__version__",
    "analyze",
]
