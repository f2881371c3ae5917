"""The token endpoint's `client_credentials` grant (RFC 6749 §4.4): a confidential client's
own access token, for a service acting for itself (issue 14)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InvalidScope, UnauthorizedClient
from tollgate.events import ClientInfo, Event
from tollgate.services.audit import AuditTrail
from tollgate.services.clients import CLIENT_CREDENTIALS
from tollgate.services.code_grant import IssuedTokens
from tollgate.services.scopes import format_scope, parse_scope
from tollgate.settings import Settings
from tollgate.store.records import ClientRecord
from tollgate.tokens.issuing import TokenIssuer


@dataclass(eq=False)
class ClientCredentialsGrant:
    # What it uses, given by the composition root (services/container.py).
    _issuer: TokenIssuer
    _audit: AuditTrail
    _settings: Settings
    _clock: Clock = field(default_factory=SystemClock)

    async def issue(
        self,
        client: ClientRecord,
        requested_scope: str | None,
        info: ClientInfo,
        jkt: str | None = None,
    ) -> IssuedTokens:
        """RFC 6749 §4.4: a confidential client's own access token, within its registered
        scopes (all of them when none is asked), without a refresh token (§4.4.3)."""
        if CLIENT_CREDENTIALS not in client.grant_types or client.public:
            raise UnauthorizedClient("This client is not registered for client_credentials.")
        registered = set(client.scope.split())
        if requested_scope is None or requested_scope == "":
            scope = format_scope(registered)
        else:
            wanted = set(parse_scope(requested_scope))
            beyond = wanted - registered
            if beyond:
                raise InvalidScope(f"Not registered for this client: {format_scope(beyond)}.")
            scope = format_scope(wanted)
        now = self._clock.now()
        token = await self._issuer.client_access_token(
            client_id=client.client_id, scope=scope, now=int(now.timestamp()), jkt=jkt
        )
        await self._audit.record(
            Event(
                "client_credentials.issued",
                now,
                client=info,
                detail=f"client {client.client_id}, scope {scope!r}",
            )
        )
        return IssuedTokens(
            access_token=token,
            expires_in=self._settings.access_ttl,
            scope=scope,
            token_type="DPoP" if jkt else "Bearer",
        )
