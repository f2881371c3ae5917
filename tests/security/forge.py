"""Forged and broken tokens, each built from a real token the way an attacker would."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tollgate.keys.keyring import Key


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, body, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(head))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
        sig,
    )


def b64std(data: bytes) -> str:
    """x5c holds standard (not URL-safe) base64 DER, RFC 7515 §4.1.6."""
    return base64.b64encode(data).decode()


def self_signed_certificate(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A DER certificate for the attacker's key, as an x5c header would carry it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tollgate.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def raw(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, signature: str) -> str:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64(h)}.{b64(p)}.{signature}"


def hs256(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, secret: bytes) -> str:
    unsigned = raw(header, payload, "").rstrip(".")
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64(signature)}"


class Forger:
    """Builds attack tokens against a server whose signing key is `key`."""

    def __init__(self, key: Key, access: str, refresh: str) -> None:
        self.key = key
        self.access = access
        self.refresh = refresh

    def signed(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        """Validly signed by the server's key: isolates the one check under test."""
        return jwt.encode(payload, self.key.signing_key, algorithm=self.key.alg, headers=header)

    def signed_raw(self, header_json: bytes, payload_json: bytes) -> str:
        unsigned = f"{b64(header_json)}.{b64(payload_json)}"
        signature = jwt.get_algorithm_by_name(self.key.alg).sign(
            unsigned.encode(), self.key.signing_key
        )
        return f"{unsigned}.{b64(signature)}"

    def access_attacks(self, jku_url: str) -> dict[str, str]:
        header, claims, signature = parts(self.access)
        now = int(time.time())
        public = self.key.verifying_key
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        jwk_json = json.dumps(jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)).encode()
        hs_header = {**header, "alg": "HS256"}
        attacker_ec = ec.generate_private_key(ec.SECP256R1())
        attacker_jwk = jwt.algorithms.ECAlgorithm.to_jwk(attacker_ec.public_key(), as_dict=True)
        attacker_p384 = ec.generate_private_key(ec.SECP384R1())
        attacker_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        admin = {**claims, "scope": "profile admin"}

        def with_claims(**changes: Any) -> dict[str, Any]:
            return {k: v for k, v in {**claims, **changes}.items() if v is not None}

        attacks: dict[str, str] = {}
        for alg in ("none", "None", "NONE", "nOnE"):
            attacks[f"alg {alg}"] = raw({**header, "alg": alg}, admin, "")
            attacks[f"alg {alg} with old signature"] = raw({**header, "alg": alg}, admin, signature)
        attacks["stripped signature"] = self.access.rsplit(".", 1)[0] + "."
        attacks["changed payload, old signature"] = raw(header, admin, signature)
        attacks["hs256 keyed with public PEM"] = hs256(hs_header, admin, pem)
        attacks["hs256 keyed with public DER"] = hs256(hs_header, admin, der)
        attacks["hs256 keyed with public JWK"] = hs256(hs_header, admin, jwk_json)
        for secret in (b"", b"secret", b"password", b"tollgate", b"your-256-bit-secret"):
            attacks[f"hs256 secret {secret!r}"] = hs256(hs_header, admin, secret)
        attacks["ecdsa r=s=0"] = raw(header, admin, b64(bytes(64)))
        attacks["embedded jwk"] = jwt.encode(
            admin,
            attacker_ec,
            algorithm="ES256",
            headers={**header, "jwk": attacker_jwk},
        )
        attacks["jku elsewhere"] = jwt.encode(
            admin, attacker_ec, algorithm="ES256", headers={**header, "jku": jku_url}
        )
        attacks["x5u elsewhere"] = jwt.encode(
            admin, attacker_ec, algorithm="ES256", headers={**header, "x5u": jku_url}
        )
        attacks["x5c attacker certificate"] = jwt.encode(
            admin,
            attacker_ec,
            algorithm="ES256",
            headers={**header, "x5c": [b64std(self_signed_certificate(attacker_ec))]},
        )
        # The same certificate chain on a token our own key signed: x5c is refused as a
        # header member, not only because the signature fails.
        attacks["x5c on a validly signed token"] = self.signed(
            {**header, "x5c": [b64std(self_signed_certificate(attacker_ec))]}, claims
        )
        for label, kid in (
            ("path", "../../../../../../dev/null"),
            ("sql", "' OR '1'='1' --"),
            ("unknown", "no-such-key"),
            ("empty", ""),
            ("nul", "a\x00b"),
        ):
            attacks[f"kid {label}"] = jwt.encode(
                admin, attacker_ec, algorithm="ES256", headers={**header, "kid": kid}
            )
        same_kid = {k: v for k, v in header.items() if k != "alg"}
        attacks["alg ES384 outside pin"] = jwt.encode(
            admin, attacker_p384, algorithm="ES384", headers=same_kid
        )
        attacks["alg RS256 outside pin"] = jwt.encode(
            admin, attacker_rsa, algorithm="RS256", headers=same_kid
        )
        attacks["alg PS256 outside pin"] = jwt.encode(
            admin, attacker_rsa, algorithm="PS256", headers=same_kid
        )
        attacks["unknown crit"] = self.signed(
            {**header, "crit": ["x-tollgate"], "x-tollgate": 1}, claims
        )
        attacks["two segments"] = ".".join(self.access.split(".")[:2])
        attacks["four segments"] = self.access + ".AAAA"
        attacks["bad base64url"] = self.access.replace("-", "+").replace("_", "/") + "=="
        attacks["stars"] = "***.***.***"
        attacks["non-utf8 header"] = raw(b'{"alg":"ES256","kid":"\xff"}', claims, signature)
        attacks["non-utf8 payload"] = raw(header, b'{"sub":"\xfe\xff"}', signature)
        header_json = json.dumps(header).encode()
        attacks["duplicate header keys"] = self.signed_raw(
            header_json[:-1] + b', "alg": "none"}', json.dumps(claims).encode()
        )
        attacks["duplicate payload keys"] = self.signed_raw(
            header_json, json.dumps(claims).encode()[:-1] + b', "scope": "profile admin"}'
        )
        attacks["huge token"] = self.access + "A" * 100_000
        attacks["wrong typ JWT"] = self.signed({**header, "typ": "JWT"}, claims)
        attacks["no typ"] = self.signed({k: v for k, v in header.items() if k != "typ"}, claims)
        attacks["refresh token as access"] = self.refresh
        attacks["wrong aud"] = self.signed(header, with_claims(aud="another-service"))
        attacks["aud list without us"] = self.signed(header, with_claims(aud=["a", "b"]))
        attacks["wrong iss"] = self.signed(header, with_claims(iss="https://evil.example"))
        attacks["prefix iss"] = self.signed(header, with_claims(iss=claims["iss"] + ".evil.com"))
        attacks["truncated iss"] = self.signed(header, with_claims(iss=claims["iss"][:-1]))
        attacks["expired"] = self.signed(header, with_claims(exp=now - 60, iat=now - 700))
        attacks["not yet valid"] = self.signed(header, with_claims(nbf=now + 3600))
        attacks["missing exp"] = self.signed(header, with_claims(exp=None))
        attacks["string exp"] = self.signed(header, with_claims(exp=str(now + 600)))
        return attacks

    def refresh_attacks(self) -> dict[str, str]:
        header, claims, signature = parts(self.refresh)
        now = int(time.time())
        other_session = {**claims, "sid": "00000000-0000-0000-0000-000000000000"}

        def with_claims(**changes: Any) -> dict[str, Any]:
            return {k: v for k, v in {**claims, **changes}.items() if v is not None}

        return {
            "alg none": raw({**header, "alg": "none"}, claims, ""),
            "changed sid, old signature": raw(header, other_session, signature),
            "stripped signature": self.refresh.rsplit(".", 1)[0] + ".",
            "access token as refresh": self.access,
            "access typ": self.signed({**header, "typ": "at+jwt"}, claims),
            "wrong aud": self.signed(header, with_claims(aud="tollgate")),
            "expired": self.signed(header, with_claims(exp=now - 1)),
            "missing exp": self.signed(header, with_claims(exp=None)),
            "unknown jti": self.signed(header, with_claims(jti="never-issued")),
            "hs256 public pem": hs256(
                {**header, "alg": "HS256"},
                claims,
                self.key.verifying_key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            ),
            "four segments": self.refresh + ".x",
        }
