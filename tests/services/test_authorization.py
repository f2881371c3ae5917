"""The authorization endpoint's rules, the browser sign-in and consents, on SQLite and
PostgreSQL with a clock the tests move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import PASSWORD
from tests.support.authorize import add_client, authorize_params
from tollgate.clock import MovableClock
from tollgate.errors import InvalidGrant
from tollgate.events import NO_CLIENT
from tollgate.services.authorization import (
    AuthorizationPageError,
    CodeIssued,
    ConsentNeeded,
    LoginNeeded,
    RedirectedError,
)
from tollgate.services.browser_session import SignedIn
from tollgate.services.codes import code_id
from tollgate.services.container import Services, authorize_audience
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store.records import AuditQuery, ClientRecord
from tollgate.tokens.browser import AUTHORIZE_FORM_TYP, SSO_TYP


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def services(
    settings: Settings, hasher: PasswordHasher, clock: MovableClock
) -> AsyncIterator[Services]:
    built = await Services.open(settings, hasher, clock=clock, migrate_first=True)
    await built.start()
    yield built
    await built.close()


async def signed_in(services: Services, username: str = "minsu") -> tuple[SignedIn, str]:
    await services.accounts.join(username, PASSWORD)
    return await services.browser.sign_in(username, PASSWORD, NO_CLIENT)


def params(client: ClientRecord, **overrides: str | None) -> list[tuple[str, str]]:
    return list(authorize_params(client, **overrides).items())


def code_of(issued: CodeIssued) -> str:
    return parse_qs(urlsplit(issued.location).query)["code"][0]


async def test_browser_sign_in_lasts_as_long_as_its_session(services: Services) -> None:
    who, cookie = await signed_in(services)
    current = await services.browser.current(cookie)
    assert current is not None
    assert current.user.username == "minsu"
    assert current.session.id == who.session.id
    assert current.session.client_id is None
    assert current.auth_time == int(who.session.created_at.timestamp())
    # The cookie is a token of its own kind, for the authorization endpoint only.
    audience = authorize_audience(services.settings)
    claims = await services.browser_tokens.read(SSO_TYP, audience, cookie)
    assert claims is not None
    assert claims["sid"] == str(who.session.id)
    assert await services.browser_tokens.read(AUTHORIZE_FORM_TYP, audience, cookie) is None
    assert await services.browser.current(cookie[:-3] + "abc") is None
    # Ending the session from anywhere (here: the account page's session list) ends it.
    await services.sessions.end(who.user.id, who.session.id, "revoked_by_user", NO_CLIENT)
    assert await services.browser.current(cookie) is None


async def test_a_disabled_user_is_signed_out_and_cannot_sign_in(services: Services) -> None:
    _, cookie = await signed_in(services)
    await services.accounts.set_disabled("minsu", True)
    assert await services.browser.current(cookie) is None
    with pytest.raises(InvalidGrant):
        await services.browser.sign_in("minsu", "wrong-password-123", NO_CLIENT)


async def test_the_whole_decision_from_login_to_code(
    services: Services, clock: MovableClock
) -> None:
    shop = await add_client(services.stores.clients)
    authorization = services.authorization
    request = await authorization.validate(params(shop, scope="openid profile email"))
    assert isinstance(await authorization.decide(request, None, NO_CLIENT), LoginNeeded)
    who, _ = await signed_in(services)
    asked = await authorization.decide(request, who, NO_CLIENT, just_logged_in=True)
    assert isinstance(asked, ConsentNeeded)
    assert asked.offered == ("openid", "profile", "email")
    issued = await authorization.consent(request, who, ["profile"], asked.version, NO_CLIENT)
    code = await services.stores.codes.by_id(code_id(code_of(issued)))
    assert code is not None
    assert code.scope == "openid profile"
    assert code.login_session_id == who.session.id
    assert code.code_challenge == request.code_challenge
    assert code.expires_at == clock.now() + timedelta(seconds=60)
    # The same form answered twice: the second is refused, no second code.
    with pytest.raises(AuthorizationPageError):
        await authorization.consent(request, who, ["profile"], asked.version, NO_CLIENT)
    # Fewer scopes than allowed: straight through; max_age past: log in again.
    fewer = await authorization.validate(params(shop, scope="openid profile", max_age="300"))
    assert isinstance(await authorization.decide(fewer, who, NO_CLIENT), CodeIssued)
    clock.advance(301)
    assert isinstance(await authorization.decide(fewer, who, NO_CLIENT), LoginNeeded)
    events = [e.event for e in await services.audit.events(AuditQuery())]
    assert events.count("code.issued") == 2
    assert events.count("consent.granted") == 1


async def test_one_consent_form_posted_at_once_yields_one_code(services: Services) -> None:
    shop = await add_client(services.stores.clients)
    authorization = services.authorization
    request = await authorization.validate(params(shop, scope="openid profile"))
    who, _ = await signed_in(services)
    asked = await authorization.decide(request, who, NO_CLIENT, just_logged_in=True)
    assert isinstance(asked, ConsentNeeded)

    answers = await asyncio.gather(
        *(
            authorization.consent(request, who, ["profile"], asked.version, NO_CLIENT)
            for _ in range(8)
        ),
        return_exceptions=True,
    )

    assert sum(isinstance(a, CodeIssued) for a in answers) == 1
    assert all(isinstance(a, CodeIssued | AuthorizationPageError) for a in answers)
    events = [e.event for e in await services.audit.events(AuditQuery())]
    assert events.count("code.issued") == 1
    assert events.count("consent.granted") == 1


async def test_scopes_are_what_the_client_may_have_and_the_user_holds(
    services: Services,
) -> None:
    tool = await add_client(services.stores.clients, scope="openid email reports:read admin")
    _, cookie = await signed_in(services)
    await services.accounts.set_scope("minsu", "reports:read")
    who = await services.browser.current(cookie)  # the user as it is now
    assert who is not None
    request = await services.authorization.validate(
        params(tool, scope="openid profile reports:read admin")
    )
    # profile: not allowed the client; admin: not the user's.
    asked = await services.authorization.decide(request, who, NO_CLIENT)
    assert isinstance(asked, ConsentNeeded)
    assert asked.offered == ("openid", "reports:read")
    with pytest.raises(RedirectedError) as refused:
        await services.authorization.validate(params(tool, scope="profile"))
    assert refused.value.error == "invalid_scope"


async def test_revoking_a_consent_ends_that_apps_sessions_only(services: Services) -> None:
    shop = await add_client(services.stores.clients)
    who, cookie = await signed_in(services)
    request = await services.authorization.validate(params(shop))
    asked = await services.authorization.decide(request, who, NO_CLIENT)
    assert isinstance(asked, ConsentNeeded)
    await services.authorization.consent(request, who, ["profile"], asked.version, NO_CLIENT)
    apps = await services.consents.for_user(who.user.id)
    assert [(a.client_name, a.scope) for a in apps] == [("Photo Shop", "openid profile")]
    assert await services.consents.revoke(who.user.id, shop.client_id, NO_CLIENT) == 0
    assert await services.consents.for_user(who.user.id) == []
    # The browser's own sign-in is first-party: it stays.
    assert await services.browser.current(cookie) is not None
