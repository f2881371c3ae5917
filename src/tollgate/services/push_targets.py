"""Where push delivery (RFC 8935) may send: only receiver URLs the operator allow-listed
(TOLLGATE_SSF_PUSH_ALLOWED_URLS). A stream names its own endpoint, so without this list
any registered client could make the server send requests into its own network (SSRF).

An entry is an exact URL, or a prefix ending in "/" that covers the URLs below it. The URL
is compared as text, after refusing what could make two readings of one string differ
(user info, backslashes, whitespace, dot segments, fragments); redirects are never
followed (push_delivery.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from tollgate.errors import InvalidRequest


class PushTargets:
    def __init__(self, allowed: Sequence[str]) -> None:
        self._allowed = tuple(allowed)

    def allows(self, url: str) -> bool:
        if not _plain(url):
            return False
        return any(
            url == entry or (entry.endswith("/") and url.startswith(entry))
            for entry in self._allowed
        )

    def check(self, url: str) -> None:
        if not self.allows(url):
            raise InvalidRequest(
                "delivery.endpoint_url is not an allowed push receiver "
                "(TOLLGATE_SSF_PUSH_ALLOWED_URLS)."
            )


def _plain(url: str) -> bool:
    if len(url) > 2048 or any(c.isspace() or c == "\\" for c in url) or not url.isascii():
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    if "@" in parts.netloc or parts.fragment or "%" in parts.netloc:
        return False
    segments = parts.path.split("/")
    return ".." not in segments and "." not in segments
