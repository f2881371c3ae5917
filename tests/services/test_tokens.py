"""Issuing and checking tokens with real keys from a real database."""

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tollgate.errors import InvalidToken
from tollgate.keys import keyring as keyring_module
from tollgate.services.container import Services
from tollgate.settings import Settings
from tollgate.tokens.issuing import TokenIssuer

USER = uuid.uuid4()
SESSION = uuid.uuid4()


async def issue_access(services: Services, **overrides: Any) -> str:
    issuer = TokenIssuer(services.keyring, services.settings)
    return await issuer.access_token(
        user_id=USER,
        username="minsu",
        session_id=SESSION,
        scope="profile",
        now=int(time.time()),
        **overrides,
    )


async def issue_refresh(services: Services) -> str:
    now = int(time.time())
    return await TokenIssuer(services.keyring, services.settings).refresh_token(
        user_id=USER, session_id=SESSION, jti="abc", iat=now, exp=now + 60
    )


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def resign(services: Services, claims: dict[str, Any], **header: Any) -> str:
    key = await services.keyring.signer()
    headers = {"typ": "at+jwt", "kid": key.kid, **header}
    return jwt.encode(claims, key.signing_key, algorithm=key.alg, headers=headers)


async def test_access_token_shape(services: Services) -> None:
    token = await issue_access(services)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": (await services.keyring.signer()).kid}
    claims = claims_of(token)
    assert set(claims) >= {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "sid",
        "scope",
        "username",
        "client_id",
    }
    assert claims["exp"] - claims["iat"] == services.settings.access_ttl
    checked = await services.checker.access(token)
    assert (checked.sub, checked.sid, checked.username) == (USER, SESSION, "minsu")


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "HS256"])
async def test_every_algorithm_round_trips(
    alg: str, make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await Services.open(make_settings(signing_alg=alg), hasher, migrate_first=True)
    await services.start()
    try:
        token = await issue_access(services)
        assert jwt.get_unverified_header(token)["alg"] == alg
        assert (await services.checker.access(token)).sub == USER
    finally:
        await services.close()


async def test_types_never_cross(services: Services) -> None:
    with pytest.raises(InvalidToken, match="wrong type"):
        await services.checker.access(await issue_refresh(services))
    with pytest.raises(InvalidToken, match="wrong type"):
        await services.checker.refresh(await issue_access(services))


async def test_refresh_typed_token_with_access_audience_is_refused(services: Services) -> None:
    # Even with the right `typ`, an access token's audience is not the refresh audience.
    claims = claims_of(await issue_access(services))
    with pytest.raises(InvalidToken):
        await services.checker.refresh(await resign(services, claims, typ="rt+jwt"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "http://tollgate.test.evil"}, "someone else"),
        ({"iss": "http://tollgate"}, "someone else"),
        ({"exp": int(time.time()) - 1}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"iat": int(time.time()) + 3600}, "not valid yet"),
        ({"sub": "not-a-uuid"}, "malformed identifier"),
        ({"scope": ["profile"]}, "wrong type"),
    ],
)
async def test_claims_are_checked(services: Services, change: dict[str, Any], message: str) -> None:
    claims = {**claims_of(await issue_access(services)), **change}
    with pytest.raises(InvalidToken, match=message):
        await services.checker.access(await resign(services, claims))


@pytest.mark.parametrize("missing", ["exp", "sid", "sub", "aud", "iss", "jti", "nbf", "scope"])
async def test_required_claims(services: Services, missing: str) -> None:
    claims = claims_of(await issue_access(services))
    del claims[missing]
    with pytest.raises(InvalidToken):
        await services.checker.access(await resign(services, claims))


async def test_alg_none_is_refused(services: Services) -> None:
    claims = claims_of(await issue_access(services))
    kid = (await services.keyring.signer()).kid
    token = jwt.encode(claims, None, algorithm="none", headers={"typ": "at+jwt", "kid": kid})
    with pytest.raises(InvalidToken):
        await services.checker.access(token)


async def test_changed_payload_with_old_signature_is_refused(services: Services) -> None:
    header, payload, signature = (await issue_access(services)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "profile admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        await services.checker.access(f"{header}.{forged}.{signature}")


async def test_hs256_signed_with_public_key_is_refused(services: Services) -> None:
    key = await services.keyring.signer()
    pem = key.verifying_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = claims_of(await issue_access(services))
    # PyJWT refuses PEM as an HMAC secret, so sign by hand as an attacker would.
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidToken, match="algorithm does not match"):
        await services.checker.access(f"{head}.{body}.{sig}")


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "http://evil.test/jwks"},
        {"x5u": "http://evil.test/cert"},
        {"crit": ["exp"]},
        {"jwk": {"kty": "oct", "k": "AAAA"}},
    ],
)
async def test_key_selecting_headers_are_refused(
    services: Services, header: dict[str, Any]
) -> None:
    token = await resign(services, claims_of(await issue_access(services)), **header)
    with pytest.raises(InvalidToken):
        await services.checker.access(token)


@pytest.mark.parametrize("kid", ["unknown", "../../etc/passwd", "' OR 1=1 --"])
async def test_unknown_kid_is_refused(services: Services, kid: Any) -> None:
    token = await resign(services, claims_of(await issue_access(services)), kid=kid)
    with pytest.raises(InvalidToken, match="known key"):
        await services.checker.access(token)


async def test_non_string_kid_is_refused(services: Services) -> None:
    head = base64.urlsafe_b64encode(b'{"alg":"ES256","typ":"at+jwt","kid":7}').decode()
    with pytest.raises(InvalidToken):
        await services.checker.access(f"{head.rstrip('=')}.e30.c2ln")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.???.***",
        "eyJhbGciOiJFUzI1NiJ9.e30",
        "\udcff.x.y",
        "x" * 9000,
    ],
)
async def test_garbage_is_refused(services: Services, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        await services.checker.access(garbage)


async def test_key_made_by_another_process_is_found_by_kid(
    services: Services, settings: Settings, hasher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second process on the same database with a different algorithm makes its own key;
    # the first verifies its tokens after reloading on the unknown kid.
    other = await Services.open(
        settings.model_copy(update={"signing_alg": "EdDSA"}), hasher, migrate_first=True
    )
    await other.start()
    try:
        token = await issue_access(other)
        monkeypatch.setattr(keyring_module, "MISS_RELOAD_SECONDS", 0)
        assert (await services.checker.access(token)).sub == USER
    finally:
        await other.close()
