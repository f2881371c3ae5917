"""Public, unauthenticated endpoints: the JWKS and the authorization server metadata."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from tollgate.api.dependencies import KeyringDep, SettingsDep
from tollgate.api.operation import operation
from tollgate.keys.keyring import Keyring
from tollgate.settings import Settings

METADATA_CACHE = {"Cache-Control": "public, max-age=3600"}


@operation(summary="Public keys that verify Tollgate's tokens")
async def jwks(keyring: KeyringDep, settings: SettingsDep) -> JSONResponse:
    body: dict[str, Any] = await keyring.jwks()
    max_age = settings.jwks_max_age
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})


async def authorization_server_metadata(settings: Settings, keyring: Keyring) -> dict[str, Any]:
    """RFC 8414 §2. Endpoints hang off the issuer, which must be this server's public URL."""
    issuer = settings.issuer.rstrip("/")
    client_auth = ["client_secret_basic", "client_secret_post"]
    return {
        "issuer": settings.issuer,
        "token_endpoint": f"{issuer}/auth",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "grant_types_supported": ["password", "refresh_token"],
        # No authorization endpoint: no response types.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none", *client_auth],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "scopes_supported": sorted(set(settings.default_scope.split())),
        # The algorithms access tokens may be signed with, for verifiers to pin.
        "token_signing_alg_values_supported": await keyring.algorithms(),
        "service_documentation": f"{issuer}/docs",
    }


METADATA_SUMMARY = "Authorization server metadata (RFC 8414)"


@operation(summary=METADATA_SUMMARY)
async def oauth_metadata(settings: SettingsDep, keyring: KeyringDep) -> JSONResponse:
    metadata = await authorization_server_metadata(settings, keyring)
    return JSONResponse(metadata, headers=METADATA_CACHE)


@operation(summary=METADATA_SUMMARY + ", OIDC path")
async def openid_configuration(settings: SettingsDep, keyring: KeyringDep) -> JSONResponse:
    metadata = await authorization_server_metadata(settings, keyring)
    return JSONResponse(metadata, headers=METADATA_CACHE)
