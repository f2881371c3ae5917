"""The apps I have allowed (issue 14): list, and revoke one (ending its sessions)."""

from __future__ import annotations

from fastapi import Response

from tollgate.api.dependencies import CallerDep, ClientDep, ConsentsDep
from tollgate.api.operation import operation
from tollgate.api.responses import errors
from tollgate.api.schemas import ConsentOut


@operation(
    response_model=list[ConsentOut],
    responses=errors(401, 503),
    summary="Apps I have allowed to sign me in, with the scopes I gave each",
)
async def list_consents(caller: CallerDep, consents: ConsentsDep) -> list[ConsentOut]:
    return [
        ConsentOut(
            client_id=app.client_id,
            client_name=app.client_name,
            scope=app.scope,
            granted_at=app.granted_at,
        )
        for app in await consents.for_user(caller.sub)
    ]


@operation(
    status_code=204,
    responses=errors(401, 404, 503),
    summary="Take back what I allowed an app; its sessions of mine end",
)
async def revoke_consent(
    client_id: str, caller: CallerDep, consents: ConsentsDep, client: ClientDep
) -> Response:
    await consents.revoke(caller.sub, client_id, client)
    return Response(status_code=204)
