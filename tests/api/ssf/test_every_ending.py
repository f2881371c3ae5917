"""Every way a session ends yields one session-revoked SET naming it (and its user); a
password change also yields credential-change. Each checked by the independent receiver."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api.ssf.conftest import log_in, sid_of, sub_of
from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer, join
from tests.support.codes import issue_code, register
from tests.support.ssf_receiver import CREDENTIAL_CHANGE, SESSION_REVOKED, Receiver, revoked_sids
from tollgate.services.container import Services
from tollgate.store.records import ConsentGrant

SHOP_CALLBACK = "https://shop.example/callback"


async def ended(receiver: Receiver) -> list[str]:
    return sorted(revoked_sids(await receiver.poll()))


async def test_logout(client: httpx.AsyncClient, receiver: Receiver) -> None:
    tokens = await join(client)
    kept = await log_in(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    assert await ended(receiver) == [sid_of(tokens)]
    assert sid_of(kept) != sid_of(tokens)


async def test_logout_with_the_refresh_token(client: httpx.AsyncClient, receiver: Receiver) -> None:
    tokens = await join(client)
    response = await client.post(
        "/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 204
    assert await ended(receiver) == [sid_of(tokens)]


async def test_logout_everywhere(client: httpx.AsyncClient, receiver: Receiver) -> None:
    sessions = [await join(client), await log_in(client), await log_in(client)]
    other_user = await join(client, "jiwoo")
    response = await client.post(
        "/logout", json={"all": True}, headers=bearer(sessions[0]["access_token"])
    )
    assert response.status_code == 204
    claims = await receiver.poll()
    assert sorted(revoked_sids(claims)) == sorted(sid_of(s) for s in sessions)
    assert {c["sub_id"]["user"]["sub"] for c in claims} == {sub_of(sessions[0])}
    assert sid_of(other_user) not in revoked_sids(claims)


async def test_delete_a_session(client: httpx.AsyncClient, receiver: Receiver) -> None:
    me = await join(client)
    other = await log_in(client)
    response = await client.delete(f"/sessions/{sid_of(other)}", headers=bearer(me["access_token"]))
    assert response.status_code == 204
    assert await ended(receiver) == [sid_of(other)]


async def test_password_change(client: httpx.AsyncClient, receiver: Receiver) -> None:
    me = await join(client)
    others = [await log_in(client), await log_in(client)]
    response = await client.post(
        "/password",
        json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
        headers=bearer(me["access_token"]),
    )
    assert response.status_code == 204, response.text
    claims = await receiver.poll()
    assert sorted(revoked_sids(claims)) == sorted(sid_of(s) for s in others)  # not this one
    [change] = [c for c in claims if CREDENTIAL_CHANGE in c["events"]]
    assert change["sub_id"] == {"format": "iss_sub", "iss": change["iss"], "sub": sub_of(me)}
    assert change["events"][CREDENTIAL_CHANGE]["credential_type"] == "password"
    assert change["events"][CREDENTIAL_CHANGE]["change_type"] == "update"


async def test_refresh_token_reuse(client: httpx.AsyncClient, receiver: Receiver) -> None:
    tokens = await join(client)
    first = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    second = await client.post("/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert second.status_code == 200
    reused = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401
    assert await ended(receiver) == [sid_of(tokens)]


async def test_revoke_endpoint(client: httpx.AsyncClient, receiver: Receiver) -> None:
    tokens = await join(client)
    response = await client.post("/revoke", data={"token": tokens["refresh_token"]})
    assert response.status_code == 200
    assert await ended(receiver) == [sid_of(tokens)]


async def test_users_disable(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    sessions = [await join(client), await log_in(client)]
    await services.accounts.set_disabled("minsu", True)  # what `tollgate users disable` runs
    assert await ended(receiver) == sorted(sid_of(s) for s in sessions)


async def test_sessions_revoke_by_an_operator(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    one = await join(client)
    rest = [await log_in(client), await log_in(client)]
    # What `tollgate sessions revoke SESSION_ID` and `--user` run.
    await services.sessions.end(None, uuid.UUID(sid_of(one)), "revoked_by_admin")
    [claims] = await receiver.poll()
    assert revoked_sids([claims]) == [sid_of(one)]
    assert claims["sub_id"]["user"]["sub"] == sub_of(one)
    await services.sessions.end_all(uuid.UUID(sub_of(one)), "revoked_by_admin")
    assert await ended(receiver) == sorted(sid_of(s) for s in rest)


async def app_session(
    client: httpx.AsyncClient, services: Services, user: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A session the user started in the app "shop" (authorization code flow)."""
    shop = await register(services, "shop", scope="openid profile")
    issued = await issue_code(services, shop.client_id, sub_of(user), redirect_uri=SHOP_CALLBACK)
    response = await client.post(
        "/auth",
        data={
            "grant_type": "authorization_code",
            "code": issued.code,
            "redirect_uri": SHOP_CALLBACK,
            "code_verifier": issued.pkce.verifier,
        },
        auth=(shop.client_id, shop.client_secret or ""),
    )
    assert response.status_code == 200, response.text
    return shop.client_id, response.json()


async def test_consent_revoked(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    me = await join(client)
    client_id, in_app = await app_session(client, services, me)
    await services.stores.consents.grant(
        ConsentGrant(
            uuid.UUID(sub_of(me)),
            client_id,
            "openid profile",
            "openid profile",
            services.clock.now(),
        )
    )
    response = await client.delete(f"/consents/{client_id}", headers=bearer(me["access_token"]))
    assert response.status_code == 204
    assert await ended(receiver) == [sid_of(in_app)]  # the app's session, not mine here


async def test_client_deleted(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    me = await join(client)
    _, in_app = await app_session(client, services, me)
    assert await services.clients.delete("shop") == 1  # what `tollgate clients delete` runs
    assert await ended(receiver) == [sid_of(in_app)]


async def test_every_set_is_session_revoked_or_credential_change(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    delivered = await receiver.poll()
    assert delivered
    for claims in delivered:
        assert set(claims["events"]) <= {SESSION_REVOKED, CREDENTIAL_CHANGE}


async def test_authorization_code_replayed(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    me = await join(client)
    shop = await register(services, "shop", scope="openid profile")
    issued = await issue_code(services, shop.client_id, sub_of(me), redirect_uri=SHOP_CALLBACK)
    form = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": SHOP_CALLBACK,
        "code_verifier": issued.pkce.verifier,
    }
    auth = (shop.client_id, shop.client_secret or "")
    first = await client.post("/auth", data=form, auth=auth)
    assert first.status_code == 200
    replayed = await client.post("/auth", data=form, auth=auth)
    assert replayed.status_code == 400
    assert await ended(receiver) == [sid_of(first.json())]
