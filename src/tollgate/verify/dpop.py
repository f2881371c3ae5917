"""DPoP proofs (RFC 9449): the check a server or a resource service makes of one proof.

`ProofChecker.check` is RFC 9449 §4.3's list, one check per step, on a proof already
taken from the one `DPoP` header of the request. It is pure (the clock is passed in):
the replay check (§11.1) is separate, `ReplayCache.first_use`, because a server shares
it across workers and replicas while a single service may keep it in memory.

Written here rather than taken from a library: PyJWT has no DPoP support and neither
has Authlib (its issue #315); joserfc would be a second JOSE library. The signature is
checked by the same strict code as access tokens (`jws.py`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import jwt

from tollgate.verify.errors import _UNSAFE, InvalidToken, OAuthError, VerificationError
from tollgate.verify.jws import HEADER_MEMO_SIZE, json_object, parse, verify_signature
from tollgate.verify.thumbprint import b64url, thumbprint

# The proof algorithms: asymmetric only (§4.2: never `none` or a MAC); the two the
# account page's WebCrypto and tollgate.client make.
PROOF_ALGORITHMS = ("ES256", "EdDSA")
KEY_TYPES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}
# §4.2: the header's jwk "MUST NOT contain a private key".
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_JTI_LENGTH = 256
MAX_PROOF_LENGTH = 8192
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]")
DEFAULT_PORTS = {"http": 80, "https": 443}


def dpop_challenge(error: OAuthError) -> str:
    """RFC 9449 §7.1: the DPoP challenge, naming the algorithms a proof may use."""
    description = _UNSAFE.sub("", error.description)
    return (
        f'DPoP algs="{" ".join(PROOF_ALGORITHMS)}", error="{error.error}", '
        f'error_description="{description}"'
    )


class InvalidDPoPProof(VerificationError):
    """The DPoP proof is missing, malformed, forged or does not fit the request."""

    status = 401
    error = "invalid_dpop_proof"
    description = "The DPoP proof is invalid."

    def www_authenticate(self, realm: str = "api") -> str:
        return dpop_challenge(self)


class UseDPoPNonce(InvalidDPoPProof):
    """RFC 9449 §8: the proof must carry the nonce this error hands out."""

    error = "use_dpop_nonce"
    description = "The DPoP proof must carry the server's nonce."

    def __init__(self, nonce: str, description: str | None = None) -> None:
        self.nonce = nonce
        super().__init__(description)

    def headers(self, realm: str = "api") -> dict[str, str]:
        return {**super().headers(realm), "DPoP-Nonce": self.nonce}


class BoundTokenRefused(InvalidToken):
    """A DPoP-bound token presented without its proof (as Bearer, or to `verify`)."""

    description = "The token is bound to a key: send it as `Authorization: DPoP` with a proof."

    def www_authenticate(self, realm: str = "api") -> str:
        return dpop_challenge(self)


@dataclass(frozen=True)
class Proof:
    """A proof that passed every check: `jkt` is the thumbprint of its key (what `cnf.jkt`
    binds a token to) and `expires_at` is how long its `jti` must be remembered."""

    jkt: str
    jti: str
    iat: float
    nonce: str | None
    expires_at: float


def access_token_hash(access_token: str) -> str:
    """RFC 9449 §4.2 `ath`: base64url(SHA-256(ASCII of the access token))."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


@functools.lru_cache(maxsize=1024)
def normalized_url(url: str) -> tuple[str, str, int | None, str]:
    """Scheme, host, port and path, normalized as RFC 3986 §6.2.2-6.2.3 says (case,
    percent-encoding, default port, empty path); query and fragment left out (§4.3)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    path = _PERCENT.sub(_normalize_escape, parts.path) or "/"
    return scheme, (parts.hostname or "").lower(), port, path


def _normalize_escape(match: re.Match[str]) -> str:
    char = unquote(match.group(0))
    return char if _UNRESERVED.fullmatch(char) else match.group(0).upper()


@dataclass
class ProofChecker:
    """Checks a proof for one request (RFC 9449 §4.3). `max_age`: how old `iat` may be;
    `leeway`: clock skew allowed either way."""

    max_age: float = 60.0
    leeway: float = 5.0
    algorithms: tuple[str, ...] = PROOF_ALGORITHMS
    clock: Callable[[], float] = time.time
    # Proofs of one key share one header: parsed once (bounded; see jws.HEADER_MEMO_SIZE),
    # and its checked key (algorithm, public key, thumbprint) built once.
    _header_memo: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _keys: dict[str, tuple[str, Any, str]] = field(default_factory=dict, repr=False)

    def check(
        self,
        proof: str,
        *,
        method: str,
        url: str | Sequence[str],
        access_token: str | None = None,
        jkt: str | None = None,
        nonce: str | None = None,
    ) -> Proof:
        """The checked proof, or InvalidDPoPProof. `url`: the request's URL, or the names
        it may go by (a server knows its public URL and the one it was reached at). With
        `access_token`, the proof must carry
        its `ath`; with `jkt` (the token's `cnf.jkt`), its key must be that one; with
        `nonce`, it must carry that nonce (UseDPoPNonce otherwise)."""
        if len(proof) > MAX_PROOF_LENGTH:
            raise InvalidDPoPProof("The DPoP proof is too long.")
        try:
            parsed = parse(proof, self._header_memo)
            claims = json_object(parsed.payload_segment)
        except OAuthError as exc:
            raise InvalidDPoPProof("The DPoP proof is not a well-formed JWT.") from exc
        alg, key, proof_jkt = self._key(proof[: proof.index(".")], parsed.header)
        try:
            verify_signature(alg, key, parsed.signing_input, parsed.signature)
        except OAuthError as exc:
            raise InvalidDPoPProof("The DPoP proof's signature is invalid.") from exc
        _check_required(claims)
        _check_method(claims, method)
        _check_url(claims, (url,) if isinstance(url, str) else url)
        iat = self._check_iat(claims)
        _check_nonce(claims, nonce)
        if access_token is not None:
            _check_ath(claims, access_token)
        if jkt is not None and not hmac.compare_digest(proof_jkt, jkt):
            raise InvalidDPoPProof("The DPoP proof's key is not the one the token is bound to.")
        raw_nonce = claims.get("nonce")
        return Proof(
            jkt=proof_jkt,
            jti=claims["jti"],
            iat=iat,
            nonce=raw_nonce if isinstance(raw_nonce, str) else None,
            expires_at=iat + self.max_age + self.leeway,
        )

    def _key(self, segment: str, header: dict[str, Any]) -> tuple[str, Any, str]:
        """The header's algorithm, public key and thumbprint, each checked (§4.3 steps 4-7),
        once per distinct header segment."""
        known = self._keys.get(segment)
        if known is not None:
            return known
        _check_type(header)
        alg = self._check_algorithm(header)
        key_jwk = _check_public_key(header, alg)
        try:
            key = jwt.PyJWK(key_jwk, algorithm=alg).key
            checked = (alg, key, thumbprint(key_jwk))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise InvalidDPoPProof("The DPoP proof's key is malformed.") from exc
        if len(self._keys) >= HEADER_MEMO_SIZE:
            self._keys.clear()
        self._keys[segment] = checked
        return checked

    def _check_algorithm(self, header: dict[str, Any]) -> str:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidDPoPProof(
                f"The DPoP proof's algorithm must be one of: {' '.join(self.algorithms)}."
            )
        return alg

    def _check_iat(self, claims: dict[str, Any]) -> float:
        iat = claims["iat"]
        now = self.clock()
        if iat > now + self.leeway:
            raise InvalidDPoPProof("The DPoP proof was issued in the future.")
        if iat < now - self.max_age - self.leeway:
            raise InvalidDPoPProof("The DPoP proof is too old.")
        return float(iat)


def _check_type(header: dict[str, Any]) -> None:
    if header.get("typ") != "dpop+jwt":
        raise InvalidDPoPProof('The DPoP proof\'s "typ" must be "dpop+jwt".')
    # The key is the header's jwk, nothing else; extensions we do not know are refused.
    for member in ("crit", "jku", "x5u", "x5c"):
        if member in header:
            raise InvalidDPoPProof(f'The DPoP proof may not carry "{member}".')


def _check_public_key(header: dict[str, Any], alg: str) -> dict[str, Any]:
    key_jwk = header.get("jwk")
    if not isinstance(key_jwk, dict):
        raise InvalidDPoPProof('The DPoP proof\'s header must carry its public key as "jwk".')
    if PRIVATE_MEMBERS & key_jwk.keys():
        raise InvalidDPoPProof("The DPoP proof's jwk carries a private key.")
    kty, crv = KEY_TYPES[alg]
    if key_jwk.get("kty") != kty or key_jwk.get("crv") != crv:
        raise InvalidDPoPProof("The DPoP proof's key does not fit its algorithm.")
    return key_jwk


def _check_required(claims: dict[str, Any]) -> None:
    jti, htm, htu, iat = (claims.get(name) for name in ("jti", "htm", "htu", "iat"))
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidDPoPProof('The DPoP proof needs a "jti".')
    if not isinstance(htm, str) or not isinstance(htu, str):
        raise InvalidDPoPProof('The DPoP proof needs "htm" and "htu".')
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise InvalidDPoPProof('The DPoP proof needs a numeric "iat".')


def _check_method(claims: dict[str, Any], method: str) -> None:
    if claims["htm"] != method.upper():
        raise InvalidDPoPProof("The DPoP proof was made for another HTTP method.")


def _check_url(claims: dict[str, Any], urls: Sequence[str]) -> None:
    try:
        htu = normalized_url(claims["htu"])
        matches = any(htu == normalized_url(url) for url in urls)
    except ValueError:  # urlsplit: a bad port or IPv6 literal
        matches = False
    if not matches:
        raise InvalidDPoPProof("The DPoP proof was made for another URL.")


def _check_nonce(claims: dict[str, Any], nonce: str | None) -> None:
    if nonce is None:
        return
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, nonce):
        raise UseDPoPNonce(nonce)


def _check_ath(claims: dict[str, Any], access_token: str) -> None:
    ath = claims.get("ath")
    if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
        raise InvalidDPoPProof("The DPoP proof does not name this access token.")


class ReplayCache(Protocol):
    def first_use(self, proof: Proof) -> bool:
        """True the first time this key's `jti` is seen before the proof expires."""
        ...


class MemoryReplayCache:
    """The `jti`s seen, per key, each until its proof expires: for one process. A server
    with several workers or replicas needs one shared cache (Redis or its database)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = 100_000):
        self._seen: dict[tuple[str, str], float] = {}
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def first_use(self, proof: Proof) -> bool:
        """True the first time this key's `jti` is seen before it expires; False after."""
        now = self._clock()
        entry = (proof.jkt, proof.jti)
        with self._lock:
            if len(self._seen) >= self._max_entries:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            if self._seen.get(entry, float("-inf")) > now:
                return False
            self._seen[entry] = proof.expires_at
            return True
