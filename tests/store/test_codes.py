"""AuthorizationCodeStore: single-use, 60-second codes bound to client, redirect URI and
PKCE challenge (RFC 6749 §4.1.2, RFC 7636 §4.6); the exchange starts the session in the
same transaction, and a replay learns which session to revoke."""

from __future__ import annotations

import asyncio
import dataclasses

from tests.store.builders import (
    REFRESH_TTL,
    a_code,
    a_session,
    add_app,
    add_user,
    at,
    event,
    first_token,
    token_id,
    without_id,
)
from tollgate.store.records import (
    AuthorizationCodeRecord,
    ClientRecord,
    CodeExchange,
    Consumed,
    NotConsumable,
    Replayed,
    Rotated,
    RotationRequest,
    UserRecord,
)
from tollgate.store.stores import Stores


def exchange_of(
    code: AuthorizationCodeRecord,
    user: UserRecord,
    *,
    now_seconds: float = 5,
    refresh: bool = True,
    **bindings: str,
) -> CodeExchange:
    """The token request that matches `code` (unless `bindings` says otherwise), at T0+5 s."""
    now = at(now_seconds)
    session = dataclasses.replace(
        a_session(user, created=now), scope=code.scope, client_id=code.client_id
    )
    return CodeExchange(
        code_id=bindings.get("code_id", code.id),
        client_id=bindings.get("client_id", code.client_id),
        redirect_uri=bindings.get("redirect_uri", code.redirect_uri),
        code_challenge=bindings.get("code_challenge", code.code_challenge),
        now=now,
        session=session,
        first_token=first_token(session) if refresh else None,
        audit=[event("code_exchanged", now, user=user, session=session)],
    )


async def issued(stores: Stores) -> tuple[ClientRecord, UserRecord, AuthorizationCodeRecord]:
    client = await add_app(stores)
    user = await add_user(stores)
    code = a_code(client, user)
    await stores.codes.add(code)
    return client, user, code


async def test_a_code_reads_back_whole_with_its_audit_row(stores: Stores) -> None:
    client = await add_app(stores)
    user = await add_user(stores)
    code = a_code(client, user)
    nonceless = dataclasses.replace(a_code(client, user), nonce=None, login_session_id=None)

    await stores.codes.add(code, [event("code_issued", user=user, detail=client.client_id)])
    await stores.codes.add(nonceless)

    assert await stores.codes.by_id(code.id) == code
    assert await stores.codes.by_id(nonceless.id) == nonceless
    assert await stores.codes.by_id("0" * 64) is None
    assert [without_id(e) for e in await stores.audit.events()] == [
        event("code_issued", user=user, detail=client.client_id)
    ]


async def test_the_first_exchange_uses_the_code_and_starts_the_session(stores: Stores) -> None:
    _client, user, code = await issued(stores)
    exchange = exchange_of(code, user)

    outcome = await stores.codes.consume(exchange)

    used = dataclasses.replace(code, used_at=exchange.now, session_id=exchange.session.id)
    assert outcome == Consumed(used)
    assert await stores.codes.by_id(code.id) == used
    assert await stores.sessions.live(exchange.session.id, exchange.now) == exchange.session
    assert exchange.first_token is not None
    assert await stores.sessions.refresh_token(exchange.first_token.id) == exchange.first_token
    assert [without_id(e) for e in await stores.audit.events()] == list(exchange.audit)


async def test_the_apps_session_rotates_as_any_and_keeps_its_client(stores: Stores) -> None:
    client, user, code = await issued(stores)
    exchange = exchange_of(code, user)
    await stores.codes.consume(exchange)
    assert exchange.first_token is not None

    rotation = await stores.sessions.rotate(
        RotationRequest(
            token_id=exchange.first_token.id,
            session_id=exchange.session.id,
            user_id=user.id,
            child_id=token_id(),
            child_salt=b"salt",
            now=at(30),
            refresh_ttl=REFRESH_TTL,
        )
    )

    assert isinstance(rotation, Rotated)
    assert rotation.session.client_id == client.client_id
    assert [s.client_id for s in await stores.sessions.live_for_user(user.id, at(30))] == [
        client.client_id
    ]


async def test_a_replay_is_refused_writes_nothing_and_names_the_session(stores: Stores) -> None:
    _client, user, code = await issued(stores)
    first = exchange_of(code, user)
    await stores.codes.consume(first)
    audit_before = await stores.audit.events()

    # Presented again, later, even by another client: the first exchange's session.
    again = exchange_of(code, user, now_seconds=20, client_id="tgc_other")
    outcome = await stores.codes.consume(again)

    used = dataclasses.replace(code, used_at=first.now, session_id=first.session.id)
    assert outcome == Replayed(used)
    assert await stores.codes.by_id(code.id) == used
    assert await stores.sessions.live(again.session.id, again.now) is None
    assert again.first_token is not None
    assert await stores.sessions.refresh_token(again.first_token.id) is None
    assert await stores.audit.events() == audit_before


async def test_of_20_concurrent_exchanges_of_one_code_exactly_one_wins(stores: Stores) -> None:
    client, user, code = await issued(stores)
    # A first race warms up what a race needs (pooled connections, prepared statements),
    # so the second one overlaps on the database rather than queueing to connect.
    warm_up = a_code(client, user)
    await stores.codes.add(warm_up)
    await asyncio.gather(*(stores.codes.consume(exchange_of(warm_up, user)) for _ in range(20)))
    audit_before = len(await stores.audit.events())
    exchanges = [exchange_of(code, user) for _ in range(20)]

    outcomes = await asyncio.gather(*(stores.codes.consume(e) for e in exchanges))

    winners = [o for o in outcomes if isinstance(o, Consumed)]
    assert len(winners) == 1
    session_id = winners[0].code.session_id
    replays = [o for o in outcomes if isinstance(o, Replayed)]
    assert len(replays) == 19
    # Every loser learns the winner's session, to revoke it.
    assert {o.code.session_id for o in replays} == {session_id}
    started = [e.session.id for e in exchanges if await stores.sessions.live(e.session.id, e.now)]
    assert started == [session_id]
    assert len(await stores.audit.events()) == audit_before + 1


async def test_a_code_expires_by_the_clock_it_is_given(stores: Stores) -> None:
    _client, user, code = await issued(stores)
    at_expiry = (code.expires_at - at()).total_seconds()

    outcome = await stores.codes.consume(exchange_of(code, user, now_seconds=at_expiry))

    assert outcome == NotConsumable("expired", code)
    assert await stores.codes.by_id(code.id) == code
    assert await stores.audit.events() == []
    just_before = exchange_of(code, user, now_seconds=at_expiry - 0.000001)
    assert isinstance(await stores.codes.consume(just_before), Consumed)


async def test_a_request_that_does_not_match_the_code_writes_nothing(stores: Stores) -> None:
    _client, user, code = await issued(stores)
    mismatches = {
        "client": exchange_of(code, user, client_id="tgc_other"),
        "redirect_uri": exchange_of(code, user, redirect_uri=code.redirect_uri + "/"),
        "code_verifier": exchange_of(code, user, code_challenge=code.code_challenge[:-1] + "A"),
    }

    for reason, exchange in mismatches.items():
        assert await stores.codes.consume(exchange) == NotConsumable(reason, code)
        assert await stores.sessions.live(exchange.session.id, exchange.now) is None

    assert await stores.codes.by_id(code.id) == code
    assert await stores.audit.events() == []
    # The rightful client's exchange still works.
    assert isinstance(await stores.codes.consume(exchange_of(code, user)), Consumed)


async def test_an_unknown_code_is_not_consumable(stores: Stores) -> None:
    _client, user, code = await issued(stores)
    exchange = exchange_of(code, user, code_id="f" * 64)

    assert await stores.codes.consume(exchange) == NotConsumable("unknown")
    assert await stores.sessions.live(exchange.session.id, exchange.now) is None


async def test_an_exchange_without_a_refresh_token_starts_the_session_alone(
    stores: Stores,
) -> None:
    _client, user, code = await issued(stores)
    exchange = exchange_of(code, user, refresh=False)

    assert isinstance(await stores.codes.consume(exchange), Consumed)

    assert await stores.sessions.live(exchange.session.id, exchange.now) == exchange.session


async def test_purge_deletes_codes_expired_before_then(stores: Stores) -> None:
    client = await add_app(stores)
    user = await add_user(stores)
    codes = [a_code(client, user, issued=at(minutes=i)) for i in range(4)]
    for code in codes:
        await stores.codes.add(code)
    await stores.codes.consume(exchange_of(codes[0], user))

    # codes[0] and [1] expired at T0+1 min and T0+2 min; [2] expires exactly then.
    assert await stores.codes.purge(at(minutes=3)) == 2

    assert [await stores.codes.by_id(c.id) for c in codes[:2]] == [None, None]
    assert await stores.codes.by_id(codes[2].id) == codes[2]
    assert await stores.codes.purge(at(minutes=3)) == 0


async def test_codes_go_with_their_client_or_user(stores: Stores) -> None:
    client, user, code = await issued(stores)
    other_app = await add_app(stores, "agenda")
    other_user = await add_user(stores, "other")
    of_other_app = a_code(other_app, user)
    of_other_user = a_code(client, other_user, issued=at(1))
    await stores.codes.add(of_other_app)
    await stores.codes.add(of_other_user)

    assert await stores.clients.delete_by_name(other_app.name)
    assert await stores.users.delete(other_user.id)

    assert await stores.codes.by_id(of_other_app.id) is None
    assert await stores.codes.by_id(of_other_user.id) is None
    assert await stores.codes.by_id(code.id) == code
