"""Publication times: parsed to UTC when present, left empty (never guessed) when not."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_published(value: object) -> str | None:
    """ISO 8601 in UTC (``2022-02-01T14:05:00+00:00``), ``YYYY-MM-DD`` for a bare date, or None.

    Accepts ISO 8601 strings, RFC 2822 dates (feeds), epoch seconds or milliseconds,
    ``time.struct_time`` (feedparser) and datetime objects. A time without a zone is
    taken as UTC, as news APIs that omit it almost always mean.
    """
    if value is None or value == "":
        return None
    if isinstance(value, time.struct_time):
        return _iso(datetime(*value[:6], tzinfo=UTC))
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000.0 if value > 1e11 else float(value)
        return _iso(datetime.fromtimestamp(seconds, tz=UTC))
    text = str(value).strip()
    if not text:
        return None
    if _DATE_ONLY.match(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    try:
        return _iso(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return _iso(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()
