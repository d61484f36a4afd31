"""What the summarizer chooses from: a story's sentences, each with its fact group.

A ``Unit`` is one sentence in one article's wording. Sentences of different articles that
state the same thing share a ``group`` (a fact group, ``storyline.digest.facts``); the
group's ``articles`` are all the articles that state it and ``sources`` is how many
independent sources stand behind it (a copy family counts once). ``is_copy`` marks wording
taken from a copy (a duplicate or a spun rewrite) rather than from its original, so a
summary can prefer the original's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Unit:
    text: str
    article: str  # the article whose wording this is
    index: int  # the sentence's position in that article (0 = lead)
    group: int  # its fact group; units of one group state the same thing
    articles: list[str] = field(default_factory=list)  # every article stating the fact
    sources: int = 1  # independent sources behind the fact
    is_copy: bool = False  # wording from a copy rather than an original
    published: str | None = None  # when its article was published (ISO 8601)
    vector: np.ndarray | None = None  # unit-norm sentence embedding, when computed
    article_sentences: int = 1  # how many sentences its article has

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class DigestDoc:
    """One article as the digest sees it (from the store, or from files given to summarize)."""

    id: str
    sentences: list[str]
    title: str = ""
    source: str | None = None
    published: str | None = None
    url: str | None = None
    #: The outlet this article credits as its source ("Source: CNN", a wire dateline), if any:
    #: a copy of wire copy counts for the wire, not for the outlet that re-ran it.
    credit: str | None = None
    #: The clean text (quotes are read from it; sentences alone lose paragraph breaks).
    text: str = ""
