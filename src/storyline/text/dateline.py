"""Datelines: "PORT HALLORAN, March 18 (CPA) —" at the head of a wire story's first sentence.

A dateline says where and when an article was filed, and for whom; it is not part of what
the sentence states. Digests show sentences without it and keep it beside them.
"""

from __future__ import annotations

import re

__all__ = ["split_dateline"]

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATELINE = re.compile(
    r"^(?P<dateline>"
    r"[A-Z][A-Z.'’]+(?:[ -][A-Z][A-Z.'’]*){0,4}"  # the place, in capitals: ST. LOUIS
    r"(?:,[ ][A-Z][A-Za-z.]+(?:[ ][A-Z][A-Za-z.]+){0,2}(?=,|[ ]\(|[ ][—–_-]))?"  # , Calif.
    rf"(?:,?[ ]{_MONTH}[ ]\d{{1,2}}(?:,[ ]\d{{4}})?)?"  # , March 18
    r"(?:[ ]?\((?P<outlet>[^()]{2,40})\))?"  # (CPA)
    r")[ ]?(?:—|–|--|-|_)[ ]*(?=\S)"
)


def split_dateline(text: str) -> tuple[str | None, str]:
    """(the dateline, the sentence after it), or (None, text) when it opens with none."""
    m = _DATELINE.match(text)
    # What follows a dateline is a sentence: it opens with a capital, a figure or a quote.
    if not m or not (text[m.end()].isupper() or text[m.end()] in "0123456789“\"‘'"):
        return None, text
    return m.group("dateline").strip(), text[m.end() :]
