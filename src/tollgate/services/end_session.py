"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which app asks, where
the browser may be sent afterwards, and whether to log out without asking.

The browser is sent back only to a `post_logout_redirect_uri` registered for the app
named by a valid `id_token_hint` (or by `client_id`, which must then be the hint's
audience, §2); any other value shows the "signed out" page instead (no open
redirector). Without a valid hint for the signed-in user the user is asked first (§2:
the OP SHOULD ask when it cannot tell the request comes from that user's app), so a bare
link on another site cannot log anyone out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from tollgate.store.interfaces import ClientStore
from tollgate.store.records import ClientRecord
from tollgate.tokens.browser import BrowserTokens


@dataclass(frozen=True)
class LogoutRequest:
    client: ClientRecord | None  # the app asking, when known
    hint_subject: str | None  # `sub` of a valid id_token_hint
    redirect: str | None  # where to go afterwards (registered), with `state`


def _with_state(uri: str, state: str | None) -> str:
    if state is None:
        return uri
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode({"state": state})) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _audience(claims: Mapping[str, Any]) -> str | None:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        # OIDC Core §2: with several audiences, `azp` names the client it was issued to.
        azp = claims.get("azp")
        if isinstance(azp, str) and azp in aud:
            return azp
        return aud[0] if len(aud) == 1 else None
    return None


@dataclass(eq=False)
class EndSession:
    # What it uses, given by the composition root (services/container.py).
    _clients: ClientStore
    _tokens: BrowserTokens

    async def parse(self, params: Mapping[str, str]) -> LogoutRequest:
        hint = await self._tokens.id_token_hint(params.get("id_token_hint"))
        client_id = _audience(hint) if hint is not None else None
        asked_id = params.get("client_id")
        if asked_id and client_id and asked_id != client_id:
            # §2: client_id must match the hint's audience; trust neither.
            hint, client_id = None, None
        elif asked_id and not client_id and hint is None:
            client_id = asked_id
        client = None
        if client_id and len(client_id) <= 256:
            client = await self._clients.by_id(client_id)
        if client is None:
            hint = None
        subject = hint.get("sub") if hint is not None else None
        uri = params.get("post_logout_redirect_uri")
        redirect = None
        if client is not None and uri and uri in client.post_logout_redirect_uris:
            redirect = _with_state(uri, params.get("state"))
        return LogoutRequest(client, subject if isinstance(subject, str) else None, redirect)
