"""The verifier's own JWS parsing and signature check, against forged tokens."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tollgate.keys.generation import generate_key
from tollgate.verify import InvalidToken
from tollgate.verify.jws import parse, verify_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def signed() -> tuple[str, ec.EllipticCurvePrivateKey]:
    key = generate_key("ES256")
    private = serialization.load_pem_private_key(key.private_key, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    now = int(time.time())
    token = jwt.encode(
        {"sub": "u", "exp": now + 60},
        private,
        algorithm="ES256",
        headers={"kid": key.kid, "typ": "at+jwt"},
    )
    return token, private


def check(token: str, private: ec.EllipticCurvePrivateKey, alg: str = "ES256") -> None:
    parsed = parse(token, {})
    verify_signature(alg, private.public_key(), parsed.signing_input, parsed.signature)


def test_a_genuine_token_passes(signed: tuple[str, ec.EllipticCurvePrivateKey]) -> None:
    check(*signed)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t + ".x",
        lambda t: ".".join(t.split(".")[:2]),
        lambda t: t.replace("-", "+") + "==",
        lambda t: t.rsplit(".", 1)[0] + "." + b64(bytes(64)),  # r = s = 0
        lambda t: t.rsplit(".", 1)[0] + "." + b64(bytes(63)),  # wrong length
        lambda t: t.rsplit(".", 1)[0] + ".",
        lambda t: b64(b'{"alg":"ES256","alg":"none"}') + "." + t.split(".", 1)[1],
    ],
)
def test_forgeries_fail(signed: tuple[str, ec.EllipticCurvePrivateKey], mutate: object) -> None:
    token, private = signed
    with pytest.raises(InvalidToken):
        check(mutate(token), private)  # type: ignore[operator]


def test_hs256_keyed_with_the_public_key_fails(
    signed: tuple[str, ec.EllipticCurvePrivateKey],
) -> None:
    token, private = signed
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
    body = token.split(".")[1]
    sig = b64(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidToken, match="does not match"):
        check(f"{head}.{body}.{sig}", private, alg="HS256")


def test_header_memo_is_bounded_and_not_shared(
    signed: tuple[str, ec.EllipticCurvePrivateKey],
) -> None:
    token, _ = signed
    memo: dict[str, dict[str, object]] = {}
    first = parse(token, memo)
    first.header["kid"] = "changed by a caller"
    assert parse(token, memo).header["kid"] != "changed by a caller"
    for i in range(200):
        head = b64(json.dumps({"alg": "ES256", "kid": str(i)}).encode())
        parse(f"{head}.e30.c2ln", memo)
    assert len(memo) <= 64
