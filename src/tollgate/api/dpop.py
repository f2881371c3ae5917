"""DPoP at Tollgate's routes (RFC 9449): the proof of a token request, and the access token
of a request checked together with its proof when it is bound to a key.

Which URL a proof must name (§4.3 `htu`): Tollgate's public one (TOLLGATE_ISSUER plus the
path, what discovery tells clients) or the one the request reached it at; for `GET /auth`
behind a gateway, the original request's (see `original_request`).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import Request

from tollgate.api.errors import as_client_error
from tollgate.api.forwarded import from_trusted_proxy
from tollgate.services.dpop import ProofGate
from tollgate.services.sessions import Sessions
from tollgate.settings import Settings
from tollgate.tokens.claims import AccessClaims
from tollgate.verify.bearer import presented_token
from tollgate.verify.dpop import BoundTokenRefused, InvalidDPoPProof, Proof
from tollgate.verify.errors import InsufficientScope, InvalidToken


def public_urls(request: Request, settings: Settings) -> tuple[str, ...]:
    """The names of this request's URL a proof may use: public, and as reached."""
    path = request.url.path
    return (settings.issuer.rstrip("/") + path, str(request.url.replace(query="", fragment="")))


def original_request(request: Request, settings: Settings) -> tuple[str, tuple[str, ...]]:
    """`GET /auth` asked by a gateway about another request (nginx `auth_request`): that
    request's method and URL, which its proof names. nginx sends X-Original-Method and
    X-Original-URI; the scheme and host are the request's own (X-Forwarded-Proto and
    X-Forwarded-Host only from a trusted proxy, FORWARDED_ALLOW_IPS). Without
    X-Original-URI the request is its own subject."""
    uri = request.headers.get("x-original-uri")
    if uri is None:
        return request.method, public_urls(request, settings)
    method = request.headers.get("x-original-method", request.method)
    host = request.headers.get("host", request.url.netloc)
    if from_trusted_proxy(request):
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
    # request.url.scheme already follows a trusted proxy's X-Forwarded-Proto.
    return method, (f"{request.url.scheme}://{host}{urlsplit(uri).path}",)


async def token_request_proof(
    request: Request, proofs: ProofGate, settings: Settings, *, status: int = 400
) -> Proof | None:
    """The proof sent with a request for tokens (None without one). A bad proof is
    `400 invalid_dpop_proof` (RFC 9449 §5), or `status` where the contract says so."""
    try:
        return await proofs.check(
            request.headers.getlist("dpop"),
            method=request.method,
            url=public_urls(request, settings),
        )
    except InvalidDPoPProof as exc:
        if status == 400:
            raise as_client_error(exc) from None
        raise


async def authorized(
    request: Request,
    sessions: Sessions,
    proofs: ProofGate,
    *,
    method: str,
    urls: Sequence[str],
    required_scope: str = "",
) -> AccessClaims:
    """The caller's access token (a live session), with its proof when it is bound to a
    key; scopes are checked last, so a copied bound token tells nothing about them."""
    scheme, token = presented_token(request.headers.get("authorization"))
    claims = await sessions.authorize(token)
    if claims.jkt is None:
        if scheme == "DPoP":
            raise InvalidToken("The token is not bound to a key: send it as Bearer.")
    elif scheme != "DPoP":
        raise BoundTokenRefused()
    else:
        await proofs.check(
            request.headers.getlist("dpop"),
            method=method,
            url=urls,
            access_token=token,
            jkt=claims.jkt,
        )
    missing = set(required_scope.split()) - claims.scopes
    if missing:
        raise InsufficientScope(frozenset(missing))
    return claims
