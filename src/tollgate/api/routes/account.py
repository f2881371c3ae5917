"""Using a token: who am I, logout, sessions, password change, deletion."""

from __future__ import annotations

import uuid
from contextlib import suppress
from typing import Annotated

from fastapi import Query, Request, Response

from tollgate.api.cookies import clear_session_cookies, uses_cookies
from tollgate.api.dependencies import (
    AccountsDep,
    CallerDep,
    ClientDep,
    OptionalCallerDep,
    SessionsDep,
)
from tollgate.api.operation import operation
from tollgate.api.responses import errors
from tollgate.api.schemas import (
    AccountDeleteRequest,
    LogoutRequest,
    PasswordChangeRequest,
    SessionOut,
    UserOut,
)
from tollgate.errors import InvalidToken, MissingToken, NotFound


@operation(response_model=UserOut, responses=errors(401, 503), summary="Who am I")
async def me(caller: CallerDep, accounts: AccountsDep) -> UserOut:
    try:
        user = await accounts.get(caller.sub)
    except NotFound as exc:
        raise InvalidToken("The user of this token no longer exists.") from exc
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        email_verified=user.email_verified,
        scope=caller.scope,
        created_at=user.created_at,
    )


@operation(
    status_code=204,
    responses=errors(401, 413, 422, 503),
    summary="End this session, the session of a refresh token, or all sessions",
    description=(
        "Ends exactly the sessions named, never another: with `refresh_token`, that token's "
        "session (the bearer is then optional; if sent, it must be the same user's); "
        "otherwise the bearer's own session. `all: true` ends every session of that user."
    ),
)
async def logout(
    request: Request,
    caller: OptionalCallerDep,
    sessions: SessionsDep,
    client: ClientDep,
    body: LogoutRequest | None = None,
) -> Response:
    body = body or LogoutRequest()
    if body.refresh_token:
        # The refresh token names the session and proves it is the caller's (as RFC 7009).
        await sessions.end_by_refresh_token(
            caller.sub if caller else None, body.refresh_token, client, everywhere=body.all
        )
    elif caller is None:
        raise MissingToken()
    elif body.all:
        await sessions.end_all(caller.sub, "logout_all", client)
    else:
        # NotFound: a concurrent request ended it a moment ago; the outcome is the same.
        with suppress(NotFound):
            await sessions.end(caller.sub, caller.sid, "logout", client)
    response = Response(status_code=204)
    if uses_cookies(request):
        clear_session_cookies(response)
    return response


@operation(
    response_model=list[SessionOut],
    responses=errors(401, 503),
    summary="My live sessions (and, with ?history=true, recently ended ones)",
)
async def list_sessions(
    caller: CallerDep,
    sessions: SessionsDep,
    history: Annotated[bool, Query(description="Also sessions ended in the last 30 days")] = False,
) -> list[SessionOut]:
    found = list(await sessions.live_for_user(caller.sub))
    if history:
        found += await sessions.recently_ended(caller.sub)
    return [
        SessionOut(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            expires_at=s.expires_at,
            user_agent=s.user_agent,
            ip=s.ip,
            current=s.id == caller.sid,
            ended_at=s.revoked_at,
            end_reason=s.revoked_reason,
        )
        for s in found
    ]


@operation(
    status_code=204,
    responses=errors(401, 404, 503),
    summary="End one of my sessions",
)
async def end_session(
    session_id: str, caller: CallerDep, sessions: SessionsDep, client: ClientDep
) -> Response:
    try:
        parsed = uuid.UUID(session_id)
    except ValueError as exc:
        raise NotFound("No such session.") from exc
    await sessions.end(caller.sub, parsed, "revoked_by_user", client)
    return Response(status_code=204)


@operation(
    status_code=204,
    responses=errors(401, 413, 422, 503),
    summary="Change my password; every other session ends",
)
async def change_password(
    body: PasswordChangeRequest, caller: CallerDep, accounts: AccountsDep, client: ClientDep
) -> Response:
    await accounts.change_password(
        caller.sub, caller.sid, body.current_password, body.new_password, client
    )
    return Response(status_code=204)


@operation(
    status_code=204,
    responses=errors(401, 413, 422, 503),
    summary="Delete my account (the password again); its sessions and tokens end",
)
async def delete_me(
    request: Request, body: AccountDeleteRequest, caller: CallerDep, accounts: AccountsDep
) -> Response:
    try:
        await accounts.delete_own(caller.sub, body.password)
    except NotFound as exc:
        raise InvalidToken("The user of this token no longer exists.") from exc
    response = Response(status_code=204)
    if uses_cookies(request):
        clear_session_cookies(response)
    return response
