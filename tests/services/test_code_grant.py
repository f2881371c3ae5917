"""The services behind the token endpoint for other apps, on SQLite and PostgreSQL:
registration rules, the code exchange and its replay, client_credentials, client-bound
refresh, deleting a client."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.support.codes import issue_code, register
from tollgate.errors import InvalidClient, InvalidGrant, InvalidInput, UnauthorizedClient
from tollgate.events import NO_CLIENT
from tollgate.services.clients import ClientCredentials, Registration, redirect_uri_problem
from tollgate.services.container import Services
from tollgate.store.records import AuditQuery, UserRecord

CALLBACK = "https://shop.example/callback"


async def a_user(services: Services) -> UserRecord:
    return await services.accounts.join("minsu", PASSWORD, "minsu@example.org")


@pytest.mark.parametrize(
    "uri",
    [
        "https://shop.example/callback",
        "https://shop.example:8443/cb?from=tollgate",
        "http://127.0.0.1/callback",
        "http://[::1]:8080/callback",
        "http://localhost:3000/cb",
        "com.example.phone:/callback",
    ],
)
def test_redirect_uris_that_register(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("/callback", "not absolute"),
        ("https://shop.example/cb#top", "fragment"),
        ("http://shop.example/callback", "uses http"),
        ("javascript:alert(1)", "reverse domain"),
        ("https:///nohost", "no host"),
        ("https://shop.example/a b", "not a URI"),
    ],
)
def test_redirect_uris_that_do_not(uri: str, says: str) -> None:
    problem = redirect_uri_problem(uri)
    assert problem is not None
    assert says in problem


async def test_registration_defaults_and_refusals(services: Services) -> None:
    new = await register(services, "shop")
    stored = await services.stores.clients.by_id(new.client_id)
    assert stored is not None
    assert stored.grant_types == ("authorization_code", "refresh_token")
    assert stored.scope == "email openid profile"
    assert stored.redirect_uris == ("https://shop.example/callback",)
    refusals = [
        (Registration("a", redirect_uris=("http://a.example/cb",)), "redirect_uri"),
        (Registration("b", grant_types=("authorization_code",)), "redirect_uri"),
        (Registration("c", public=True, grant_types=("client_credentials",)), "grant"),
        (Registration("d", grant_types=("implicit",)), "grant"),
        (Registration("e", redirect_uris=(CALLBACK,), id_token_alg="HS256"), "id_token_alg"),
        (Registration("f", redirect_uris=(CALLBACK,), scope='bad"scope'), "scope"),
        (Registration("shop", redirect_uris=(CALLBACK,)), "name"),
    ]
    for registration, field in refusals:
        with pytest.raises(InvalidInput) as refused:
            await services.clients.register(registration)
        assert field in refused.value.fields, registration
    # A bare name: a client that only introspects and revokes, as before issue 14.
    plain = await services.clients.register("resource")
    assert plain.client_secret is not None
    resource = await services.stores.clients.by_id(plain.client_id)
    assert resource is not None
    assert (resource.grant_types, resource.scope) == ((), "")


async def test_token_endpoint_authentication_methods(services: Services) -> None:
    shop = await register(services, "shop")
    phone = await register(services, "phone", public=True)
    authenticate = services.clients.authenticate_at_token_endpoint
    assert shop.client_secret is not None
    found = await authenticate(ClientCredentials(shop.client_id, shop.client_secret, "basic"))
    assert found.client_id == shop.client_id
    assert (await authenticate(ClientCredentials(phone.client_id, None, "none"))).public
    for wrong in (
        ClientCredentials(shop.client_id, None, "none"),  # confidential: secret required
        ClientCredentials(shop.client_id, shop.client_secret + "x", "post"),
        ClientCredentials(phone.client_id, "", "post"),
        ClientCredentials("tgc_unknown", None, "none"),
    ):
        with pytest.raises(InvalidClient):
            await authenticate(wrong)


async def test_exchange_then_replay_revokes_the_session(services: Services) -> None:
    user = await a_user(services)
    new = await register(services, "shop")
    shop = await services.stores.clients.by_id(new.client_id)
    assert shop is not None
    issued = await issue_code(services, shop.client_id, user.id, redirect_uri=CALLBACK)
    grant = services.code_grant

    tokens = await grant.exchange(shop, issued.code, CALLBACK, issued.pkce.verifier, NO_CLIENT)

    assert tokens.id_token is not None
    assert tokens.refresh_token is not None
    claims = await services.checker.access(tokens.access_token)
    session = await services.stores.sessions.live(claims.sid, services.clock.now())
    assert session is not None
    assert session.client_id == shop.client_id
    with pytest.raises(InvalidGrant):
        await grant.exchange(shop, issued.code, CALLBACK, issued.pkce.verifier, NO_CLIENT)
    assert await services.stores.sessions.live(claims.sid, services.clock.now()) is None
    ended = await services.stores.sessions.ended_for_user(user.id, session.created_at)
    assert [s.revoked_reason for s in ended] == ["authorization_code_replayed"]
    names = [e.event for e in await services.audit.events(AuditQuery(user_id=user.id))]
    assert {"code.exchanged", "code.replayed"} <= set(names)


async def test_refresh_of_an_apps_session_only_by_that_app(services: Services) -> None:
    user = await a_user(services)
    new = await register(services, "shop")
    shop = await services.stores.clients.by_id(new.client_id)
    assert shop is not None
    issued = await issue_code(services, shop.client_id, user.id, redirect_uri=CALLBACK)
    tokens = await services.code_grant.exchange(
        shop, issued.code, CALLBACK, issued.pkce.verifier, NO_CLIENT
    )
    assert tokens.refresh_token is not None

    for presenter in (None, "tgc_other"):
        with pytest.raises(InvalidGrant):
            await services.grants.refresh(tokens.refresh_token, None, client_id=presenter)
    pair = await services.grants.refresh(tokens.refresh_token, None, client_id=shop.client_id)
    # The OpenID Connect scopes are every user's own: a refresh keeps them.
    assert pair.scope == "email openid profile"
    first_party = await services.accounts.join("other", PASSWORD, None)
    own = await services.grants.start_session(first_party, None, NO_CLIENT)
    with pytest.raises(InvalidGrant):
        await services.grants.refresh(own.refresh_token, None, client_id=shop.client_id)


async def test_client_credentials_and_the_grant_it_needs(services: Services) -> None:
    machine_new = await register(
        services, "machine", redirect_uris=(), grant_types=("client_credentials",), scope="a b"
    )
    machine = await services.stores.clients.by_id(machine_new.client_id)
    shop = await services.stores.clients.by_id((await register(services, "shop")).client_id)
    assert machine is not None
    assert shop is not None

    issued = await services.client_credentials.issue(machine, "a", NO_CLIENT)

    assert issued.scope == "a"
    assert issued.refresh_token is None
    with pytest.raises(UnauthorizedClient):
        await services.client_credentials.issue(shop, None, NO_CLIENT)


async def test_deleting_a_client_ends_its_sessions_and_no_others(services: Services) -> None:
    user = await a_user(services)
    new = await register(services, "shop")
    shop = await services.stores.clients.by_id(new.client_id)
    assert shop is not None
    issued = await issue_code(services, shop.client_id, user.id, redirect_uri=CALLBACK)
    tokens = await services.code_grant.exchange(
        shop, issued.code, CALLBACK, issued.pkce.verifier, NO_CLIENT
    )
    app_sid = (await services.checker.access(tokens.access_token)).sid
    own = await services.grants.start_session(user, None, NO_CLIENT)

    assert await services.clients.delete("shop") == 1

    now = services.clock.now()
    assert await services.stores.sessions.live(app_sid, now) is None
    assert await services.stores.sessions.live(own.session_id, now) is not None
    assert await services.stores.clients.by_id(shop.client_id) is None
    assert tokens.refresh_token is not None
    with pytest.raises(InvalidGrant):
        await services.grants.refresh(tokens.refresh_token, None, client_id=shop.client_id)
