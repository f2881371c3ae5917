"""An independent Shared Signals receiver (RFC 8936 poll), written from the RFCs and the
SSF 1.0 draft with httpx and PyJWT only: it uses none of Tollgate's code, so a SET it
accepts is one any receiver would accept.

Every SET is verified against the transmitter's JWKS (RFC 8417 §5: `typ` secevent+jwt,
signature by a published key of that key's algorithm, `iss`, `aud` = this receiver,
`iat`, `jti` equal to the key it was delivered under).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
POLL = "urn:ietf:rfc:8936"


def path_of(url: str) -> str:
    """The path of one of the transmitter's URLs: requests go through `http`'s base URL
    (an in-process app's issuer names no reachable host)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Receiver:
    http: httpx.AsyncClient
    client_id: str
    client_secret: str
    issuer: str
    poll_url: str = ""
    unacknowledged: list[str] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.client_id, self.client_secret)

    async def metadata(self) -> dict[str, Any]:
        response = await self.http.get("/.well-known/ssf-configuration")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["issuer"] == self.issuer
        return body

    async def subscribe(self, events: list[str] | None = None) -> dict[str, Any]:
        meta = await self.metadata()
        assert POLL in meta["delivery_methods_supported"]
        response = await self.http.post(
            path_of(meta["configuration_endpoint"]),
            json={
                "delivery": {"method": POLL},
                "events_requested": events or [SESSION_REVOKED, CREDENTIAL_CHANGE],
            },
            auth=self.auth,
        )
        assert response.status_code == 201, response.text
        stream: dict[str, Any] = response.json()
        assert stream["aud"] == self.client_id
        self.poll_url = stream["delivery"]["endpoint_url"]
        return stream

    async def poll(
        self,
        *,
        acknowledge: bool = True,
        return_immediately: bool = True,
        max_events: int = 100,
        wait_at_most: float = 30.0,
    ) -> list[dict[str, Any]]:
        """One RFC 8936 §2.4 poll: acknowledges what the last poll gave (unless told not
        to), returns the verified claims of the SETs it gets now."""
        body: dict[str, Any] = {"maxEvents": max_events, "returnImmediately": return_immediately}
        if acknowledge:
            body["ack"] = self.unacknowledged
        response = await self.http.post(
            path_of(self.poll_url), json=body, auth=self.auth, timeout=wait_at_most
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert set(answer) == {"sets", "moreAvailable"}
        if acknowledge:
            self.unacknowledged = []
        jwks = (await self.http.get("/.well-known/jwks.json")).json()
        verified = [self.verify(jti, token, jwks) for jti, token in answer["sets"].items()]
        self.unacknowledged += [c["jti"] for c in verified]
        self.seen += verified
        return verified

    def verify(self, jti: str, token: str, jwks: dict[str, Any]) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "secevent+jwt"
        published = {k["kid"]: k for k in jwks["keys"]}
        assert header["kid"] in published, "signed by a key the JWKS does not publish"
        jwk = published[header["kid"]]
        claims: dict[str, Any] = jwt.decode(
            token,
            jwt.PyJWK(jwk).key,
            algorithms=[jwk["alg"]],
            audience=self.client_id,
            issuer=self.issuer,
            options={"require": ["iss", "iat", "jti", "aud"]},
        )
        assert claims["jti"] == jti
        assert isinstance(claims["events"], dict)
        assert len(claims["events"]) == 1
        return claims


def revoked_sids(claims: list[dict[str, Any]]) -> list[str]:
    return [c["sub_id"]["session"]["id"] for c in claims if SESSION_REVOKED in c["events"]]
