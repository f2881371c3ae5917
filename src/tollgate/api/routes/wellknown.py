"""Public, unauthenticated endpoints: the JWKS and the authorization server metadata."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from tollgate.api.dependencies import KeyringDep, ScopeStoreDep, SettingsDep
from tollgate.api.operation import operation
from tollgate.keys.keyring import Keyring
from tollgate.services.scopes import EVERY_USERS_SCOPES
from tollgate.settings import Settings
from tollgate.store.interfaces import ScopeStore
from tollgate.tokens.claims import ACR_ONE_FACTOR, ACR_TWO_FACTORS
from tollgate.verify.dpop import PROOF_ALGORITHMS

METADATA_CACHE = {"Cache-Control": "public, max-age=3600"}


@operation(summary="Public keys that verify Tollgate's tokens")
async def jwks(keyring: KeyringDep, settings: SettingsDep) -> JSONResponse:
    body: dict[str, Any] = await keyring.jwks()
    max_age = settings.jwks_max_age
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})


# OIDC Core §5.1 claims Tollgate releases (ID token and /userinfo), and the ID token's own.
CLAIMS_SUPPORTED = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "sid",
    "at_hash",
    "amr",
    "acr",
    "preferred_username",
    "email",
    "email_verified",
]


async def authorization_server_metadata(
    settings: Settings, keyring: Keyring, scope_store: ScopeStore
) -> dict[str, Any]:
    """RFC 8414 §2 and OpenID Connect Discovery 1.0 §3, one document at both paths.
    Endpoints hang off the issuer, which must be this server's public URL; the
    authorization and end-session endpoints are /authorize and /end-session."""
    issuer = settings.issuer.rstrip("/")
    client_auth = ["client_secret_basic", "client_secret_post"]
    # The OpenID Connect scopes, the default one, and those the operator described
    # (`tollgate scopes describe`): the scopes apps are told about.
    described = {scope.name for scope in await scope_store.list()}
    scopes = set(settings.default_scope.split()) | EVERY_USERS_SCOPES | described
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/auth",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "end_session_endpoint": f"{issuer}/end-session",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
        ],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        # RFC 9700 §2.1.1: S256 for every client; `plain` is refused.
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [*client_auth, "none"],
        "revocation_endpoint_auth_methods_supported": ["none", *client_auth],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": await keyring.id_token_algorithms(),
        "scopes_supported": sorted(scopes),
        "claims_supported": CLAIMS_SUPPORTED,
        # Issue 18: "1" a password, "2" two factors (a code or a passkey).
        "acr_values_supported": [ACR_ONE_FACTOR, ACR_TWO_FACTORS],
        # RFC 9449 §5.1: the algorithms a DPoP proof may be signed with.
        "dpop_signing_alg_values_supported": list(PROOF_ALGORITHMS),
        # RFC 9207: the authorization response carries `iss`.
        "authorization_response_iss_parameter_supported": True,
        # The algorithms access tokens may be signed with, for verifiers to pin.
        "token_signing_alg_values_supported": await keyring.algorithms(),
        "service_documentation": f"{issuer}/docs",
    }


METADATA_SUMMARY = "Authorization server metadata (RFC 8414)"


@operation(summary=METADATA_SUMMARY)
async def oauth_metadata(
    settings: SettingsDep, keyring: KeyringDep, scope_store: ScopeStoreDep
) -> JSONResponse:
    metadata = await authorization_server_metadata(settings, keyring, scope_store)
    return JSONResponse(metadata, headers=METADATA_CACHE)


@operation(summary=METADATA_SUMMARY + ", OIDC path")
async def openid_configuration(
    settings: SettingsDep, keyring: KeyringDep, scope_store: ScopeStoreDep
) -> JSONResponse:
    metadata = await authorization_server_metadata(settings, keyring, scope_store)
    return JSONResponse(metadata, headers=METADATA_CACHE)
