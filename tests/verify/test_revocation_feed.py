"""RevocationFeed believes only SETs the issuer signed for it.

The transmitter here is a forger's (an httpx transport): it serves the issuer's JWKS but
mixes SETs signed by other keys, for other receivers or of other types into the poll.
The real transmitter is exercised end to end in e2e/test_revocation_feed.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tollgate.verify import RevocationFeed

ISSUER = "https://auth.example"
CLIENT = "tgc_board"
REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"


def jwk_of(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    public: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": "ES256", "use": "sig"}


class Transmitter:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.forger = ec.generate_private_key(ec.SECP256R1())
        self.pending: dict[str, str] = {}
        self.acks: list[list[str]] = []
        self.stream_gone = False
        self.streams_made = 0

    def set(
        self,
        jti: str,
        sid: str,
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        kid: str = "k1",
        aud: str = CLIENT,
        typ: str = "secevent+jwt",
        iss: str = ISSUER,
        at: float | None = None,
    ) -> None:
        now = int(at if at is not None else time.time())
        claims = {
            "iss": iss,
            "aud": aud,
            "iat": now,
            "jti": jti,
            "sub_id": {"format": "complex", "session": {"format": "opaque", "id": sid}},
            "events": {REVOKED: {"event_timestamp": now}},
        }
        self.pending[jti] = jwt.encode(
            claims, key or self.key, algorithm="ES256", headers={"kid": kid, "typ": typ}
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/ssf-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "jwks_uri": f"{ISSUER}/jwks",
                    "configuration_endpoint": f"{ISSUER}/streams",
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [jwk_of(self.key, "k1")]})
        if path == "/streams" and request.method == "POST":
            self.streams_made += 1
            self.stream_gone = False
            return httpx.Response(
                201,
                json={
                    "stream_id": f"s{self.streams_made}",
                    "delivery": {"method": "urn:ietf:rfc:8936", "endpoint_url": f"{ISSUER}/poll"},
                },
            )
        if path == "/poll":
            if self.stream_gone:
                return httpx.Response(404, json={"error": "not_found"})
            body = json.loads(request.content)
            self.acks.append(body["ack"])
            for jti in body["ack"]:
                self.pending.pop(jti, None)
            return httpx.Response(200, json={"sets": dict(self.pending), "moreAvailable": False})
        return httpx.Response(404)


@pytest.fixture
def transmitter() -> Transmitter:
    return Transmitter()


def feed_for(transmitter: Transmitter, **options: Any) -> RevocationFeed:
    feed = RevocationFeed(CLIENT, "secret", transport=httpx.MockTransport(transmitter), **options)
    feed.follow(ISSUER, background=False)
    return feed


def test_only_sets_the_issuer_signed_for_this_receiver_revoke(transmitter: Transmitter) -> None:
    transmitter.set("good", "sid-good")
    transmitter.set("forged", "sid-forged", key=transmitter.forger)  # right kid, wrong key
    transmitter.set("unknown-kid", "sid-kid", key=transmitter.forger, kid="k9")
    transmitter.set("other-aud", "sid-aud", aud="tgc_other")
    transmitter.set("other-typ", "sid-typ", typ="JWT")
    transmitter.set("other-iss", "sid-iss", iss="https://evil.example")
    feed = feed_for(transmitter)
    assert feed.poll_once() is True
    assert feed.revoked("sid-good")
    for sid in ("sid-forged", "sid-kid", "sid-aud", "sid-typ", "sid-iss"):
        assert not feed.revoked(sid), sid
    assert not feed.revoked(None)
    feed.poll_once()  # acknowledges all six: refused ones would only come back
    assert sorted(transmitter.acks[-1]) == sorted(
        ["good", "forged", "unknown-kid", "other-aud", "other-typ", "other-iss"]
    )
    assert transmitter.pending == {}


def test_a_revoked_sid_is_forgotten_after_remember_for(transmitter: Transmitter) -> None:
    now = [1_000_000.0]
    transmitter.set("j", "sid-1", at=now[0])
    feed = feed_for(transmitter, remember_for=600, clock=lambda: now[0])
    feed.poll_once()
    now[0] += 599
    assert feed.revoked("sid-1")
    now[0] += 2
    assert not feed.revoked("sid-1")


def test_a_deleted_stream_is_made_again(transmitter: Transmitter) -> None:
    feed = feed_for(transmitter)
    feed.poll_once()
    assert feed.stream_id == "s1"
    transmitter.stream_gone = True
    with pytest.raises(Exception, match="deleted"):
        feed.poll_once()
    transmitter.set("j", "sid-2")
    feed.poll_once()
    assert feed.stream_id == "s2"
    assert feed.revoked("sid-2")
