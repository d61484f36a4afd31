"""Identity: an article is one publication.

Its id comes from its canonical URL when there is one; otherwise from its outlet and
its raw content. Never from the cleaned text: cleaning may change as the corpus grows,
and an id must not.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mc_")
_TRACKING_KEYS = {"fbclid", "gclid", "dclid", "msclkid", "igshid", "ref", "cmpid"}


def canonical_url(url: str) -> str:
    """A URL in the one form used for identity: lower-case host, no fragment or trackers."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (scheme == "http" and parts.port == 80) or (scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS
    ]
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def article_id(url: str | None, source: str | None, raw: str) -> str:
    """The stable id of one publication (16 hex digits)."""
    if url:
        key = "url\0" + canonical_url(url)
    else:
        key = "raw\0" + (source or "").strip().lower() + "\0" + raw
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def domain_of(url: str | None) -> str | None:
    """The URL's host without a leading ``www.``, as a fallback outlet name."""
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    return host or None
