"""What routes need from a request: the services they use, the bearer token, the caller.

Each route names the services it uses (`AccountsDep`, `GrantsDep`, ...), never the whole
container: `services.container.Services` is the composition root that builds and closes
them, and only this module reaches into it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from tollgate.api.dpop import authorized, public_urls, token_request_proof
from tollgate.keys.keyring import Keyring
from tollgate.metrics import Metrics
from tollgate.services.accounts import Accounts
from tollgate.services.client_credentials import ClientCredentialsGrant
from tollgate.services.clients import Clients
from tollgate.services.code_grant import CodeGrant
from tollgate.services.consents import Consents
from tollgate.services.container import Services
from tollgate.services.dpop import ProofGate
from tollgate.services.grants import ClientInfo, Grants
from tollgate.services.login import Login
from tollgate.services.recovery import Recovery
from tollgate.services.sessions import Sessions
from tollgate.services.shared_signals import SharedSignals
from tollgate.services.throttle import Throttle
from tollgate.services.token_control import TokenControl
from tollgate.settings import Settings
from tollgate.store.interfaces import Database, ScopeStore
from tollgate.tokens.claims import AccessClaims
from tollgate.verify.dpop import Proof

T = TypeVar("T")


def provided(part: Callable[[Services], T]) -> Any:
    """A dependency giving one part of the app's services (opened by the app's lifespan)."""

    # async: FastAPI runs a plain `def` dependency on its thread pool, a hop per request.
    async def dependency(request: Request) -> T:
        return part(request.app.state.services)

    return Depends(dependency)


AccountsDep = Annotated[Accounts, provided(lambda s: s.accounts)]
GrantsDep = Annotated[Grants, provided(lambda s: s.grants)]
LoginDep = Annotated[Login, provided(lambda s: s.login)]
SessionsDep = Annotated[Sessions, provided(lambda s: s.sessions)]
TokenControlDep = Annotated[TokenControl, provided(lambda s: s.token_control)]
RegisteredClientsDep = Annotated[Clients, provided(lambda s: s.clients)]
ClientCredentialsDep = Annotated[ClientCredentialsGrant, provided(lambda s: s.client_credentials)]
CodeGrantDep = Annotated[CodeGrant, provided(lambda s: s.code_grant)]
ThrottleDep = Annotated[Throttle, provided(lambda s: s.throttle)]
KeyringDep = Annotated[Keyring, provided(lambda s: s.keyring)]
SettingsDep = Annotated[Settings, provided(lambda s: s.settings)]
MetricsDep = Annotated[Metrics, provided(lambda s: s.metrics)]
DatabaseDep = Annotated[Database, provided(lambda s: s.stores.database)]
ConsentsDep = Annotated[Consents, provided(lambda s: s.consents)]
ScopeStoreDep = Annotated[ScopeStore, provided(lambda s: s.stores.scopes)]
SchemaHeadDep = Annotated[str | None, provided(lambda s: s.schema_head)]
SharedSignalsDep = Annotated[SharedSignals, provided(lambda s: s.shared_signals)]
RecoveryDep = Annotated[Recovery, provided(lambda s: s.recovery)]


ProofsDep = Annotated[ProofGate, provided(lambda s: s.proofs)]


async def current_claims(
    request: Request, sessions: SessionsDep, proofs: ProofsDep, settings: SettingsDep
) -> AccessClaims:
    """RFC 6750 §2.1 (the Authorization header only, never the query string), or RFC 9449
    §7.1 (`DPoP` with the request's proof for a token bound to a key)."""
    return await authorized(
        request, sessions, proofs, method=request.method, urls=public_urls(request, settings)
    )


async def optional_claims(
    request: Request, sessions: SessionsDep, proofs: ProofsDep, settings: SettingsDep
) -> AccessClaims | None:
    """The caller when a token is sent; None when no Authorization header is."""
    if "authorization" not in request.headers:
        return None
    return await current_claims(request, sessions, proofs, settings)


async def token_proof(request: Request, proofs: ProofsDep, settings: SettingsDep) -> Proof | None:
    """The DPoP proof of a request for tokens (400 invalid_dpop_proof when bad)."""
    return await token_request_proof(request, proofs, settings)


async def refresh_proof(request: Request, proofs: ProofsDep, settings: SettingsDep) -> Proof | None:
    """The DPoP proof of POST /refresh (401 invalid_dpop_proof when bad, as its other
    refusals are)."""
    return await token_request_proof(request, proofs, settings, status=401)


TokenProofDep = Annotated[Proof | None, Depends(token_proof)]
RefreshProofDep = Annotated[Proof | None, Depends(refresh_proof)]


async def client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )


CallerDep = Annotated[AccessClaims, Depends(current_claims)]
OptionalCallerDep = Annotated[AccessClaims | None, Depends(optional_claims)]
ClientDep = Annotated[ClientInfo, Depends(client_info)]


def rate_limited(route: str) -> Any:
    """A route dependency counting requests per client address (429 past the limit)."""

    async def count(throttle: ThrottleDep, client: ClientDep) -> None:
        await throttle.request(route, client.ip or "unknown")

    return Depends(count)
