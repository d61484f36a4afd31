"""The vocabulary of storyline: plain, typed records that every stage passes along.

Records are dataclasses with no behaviour beyond small derived properties, so that
stages stay pure functions over them and the store and the report can persist and
render them field by field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Origin:
    """Where one copy of an article was read: a file, and a line or record inside it."""

    path: str
    line: int | None = None  # 1-based line for JSONL
    record: int | None = None  # 0-based record index for WARC and feeds
    format: str = ""

    def describe(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
        if self.record is not None:
            where += f" record {self.record}"
        return where


@dataclass(frozen=True)
class Credit:
    """An outlet that an article credits as its source ("Source: CNN", "according to NBC News").

    Photo credits are not article credits and never become one.
    """

    outlet: str
    words: str  # the words as written, e.g. "According to NBC NEWS"
    kind: str  # source_line | according_to | quoted_by | dateline | byline
    start: int  # character offset in the text the credit was found in
    end: int
    in_clean_text: bool  # False when the line carrying it was removed by cleaning


@dataclass(frozen=True)
class RemovedLine:
    """A line (paragraph) that cleaning took out of the article, with why."""

    line: int  # 1-based line in the text that was cleaned
    text: str
    reason: str


@dataclass(frozen=True)
class Sentence:
    """One sentence, with its character span in the article's clean text."""

    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass
class RawDoc:
    """What a reader hands on: one publication as found, before cleaning.

    ``raw`` is the text exactly as read (decoded); ``text`` is the reader's view of the
    article body (for HTML the extracted main text, for plain text the same as raw).
    """

    raw: str
    text: str
    origin: Origin
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published: str | None = None  # ISO 8601 in UTC, or YYYY-MM-DD when only a date is known
    author: str | None = None
    encoding: str = "utf-8"
    flags: list[str] = field(default_factory=list)
    removed: list[RemovedLine] = field(default_factory=list)  # removed by the reader (HTML)


@dataclass
class Article:
    """One publication: an outlet's article at one URL (or one outlet's raw text)."""

    id: str
    raw: str
    text: str  # the reader's body text, before storyline's own cleaning
    origin: Origin
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published: str | None = None
    author: str | None = None
    encoding: str = "utf-8"
    flags: list[str] = field(default_factory=list)
    clean: str | None = None
    removed: list[RemovedLine] = field(default_factory=list)
    credits: list[Credit] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """An input that could not be read, or a record inside one, and why it was skipped."""

    path: str
    reason: str
    line: int | None = None
    record: int | None = None
    severity: str = "skipped"  # skipped | warning

    def describe(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
        if self.record is not None:
            where += f" (record {self.record})"
        return f"{where}: {self.reason}"


def to_dict(record: Any) -> dict[str, Any]:
    """A JSON-ready dict of a record."""
    return asdict(record)
