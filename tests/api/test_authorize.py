"""GET /authorize and its login and consent pages, in-process: refusals first (no open
redirect, PKCE, prompt=none, CSRF, framing, replay), then the flow and single sign-on."""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ISSUER, OTHER_PASSWORD, PASSWORD, join
from tests.support.authorize import (
    LOOPBACK_URI,
    REDIRECT_URI,
    add_client,
    authorize_url,
    form_token,
    query_of,
)
from tollgate.app import create_app
from tollgate.services.codes import code_id
from tollgate.store.records import AuditQuery, ClientRecord, ScopeDescription


@pytest.fixture
async def shop(app: FastAPI) -> ClientRecord:
    return await add_client(app.state.services.stores.clients)


def assert_page_headers(response: httpx.Response) -> None:
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def log_in(
    client: httpx.AsyncClient,
    page: httpx.Response,
    username: str = "minsu",
    password: str = PASSWORD,
) -> httpx.Response:
    return await client.post(
        "/authorize/login",
        data={"request": form_token(page.text), "username": username, "password": password},
    )


async def signed_in_consent_page(
    client: httpx.AsyncClient, shop: ClientRecord, **params: str | None
) -> httpx.Response:
    page = await client.get(authorize_url(shop, **params))
    assert page.status_code == 200, page.text
    consent = await log_in(client, page)
    assert consent.status_code == 200, consent.text
    assert "Allow Photo Shop" in consent.text
    return consent


async def audit_events(app: FastAPI, name: str) -> list[Any]:
    events = await app.state.services.stores.audit.events(AuditQuery())
    return [e for e in events if e.event == name]


# -- never an open redirect ------------------------------------------------------------


async def test_unknown_client_gets_an_error_page_not_a_redirect(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    url = authorize_url(shop, client_id="tgc_nobody")
    response = await client.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not registered" in response.text
    assert_page_headers(response)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        None,
        "https://evil.example/callback",
        "https://app.example/callback/",
        "https://app.example/callback?next=x",
        "https://app.example/Callback",
        "http://app.example/callback",
        "https://app.example:8443/callback",
        "https://app.example.evil.example/callback",
        "https://app.example@evil.example/callback",
        "https://app.example/callback#frag",
        "http://127.0.0.1:8080/other",
        "http://localhost:8080/callback",
        "http://127.0.0.1:99999/callback",
    ],
)
async def test_unregistered_or_near_miss_redirect_uri_is_never_redirected_to(
    client: httpx.AsyncClient, shop: ClientRecord, redirect_uri: str | None
) -> None:
    # Errors that would otherwise go back to the app (no PKCE) must not either.
    response = await client.get(authorize_url(shop, redirect_uri=redirect_uri, code_challenge=None))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert_page_headers(response)


async def test_a_loopback_redirect_may_use_any_port(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    assert LOOPBACK_URI == "http://127.0.0.1:8080/callback"
    response = await client.get(authorize_url(shop, redirect_uri="http://127.0.0.1:53124/callback"))
    assert response.status_code == 200
    assert "Log in to continue to Photo Shop" in response.text


async def test_an_ipv6_loopback_redirect_may_use_any_port_but_not_another_host(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    native = await add_client(
        app.state.services.stores.clients, name="CLI", redirect_uris=("http://[::1]/cb",)
    )
    good = await client.get(authorize_url(native, redirect_uri="http://[::1]:6001/cb"))
    assert good.status_code == 200
    for bad in ("http://[::1]:6001/cb2", "http://[::1]:1@evil.example/cb", "https://[::1]:6001/cb"):
        refused = await client.get(authorize_url(native, redirect_uri=bad))
        assert refused.status_code == 400, bad
        assert "location" not in refused.headers


async def test_an_unknown_client_is_not_redirected_even_with_prompt_none(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    response = await client.get(authorize_url(shop, client_id="x" * 300, prompt="none"))
    assert response.status_code == 400
    assert "location" not in response.headers


# -- errors that go back to the app (RFC 6749 §4.1.2.1, RFC 9207) -------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
    ],
)
async def test_refusals_go_back_to_the_app_with_state_and_iss(
    client: httpx.AsyncClient, shop: ClientRecord, overrides: dict[str, str | None], error: str
) -> None:
    response = await client.get(authorize_url(shop, state="xyz", **overrides))
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    answer = query_of(location)
    assert answer["error"] == error
    assert answer["state"] == "xyz"
    assert answer["iss"] == ISSUER
    assert answer["error_description"]
    assert "code" not in answer


async def test_overlong_parameters_are_refused_before_any_page(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    response = await client.get(authorize_url(shop, state="s" * 5000))
    assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_a_parameter_sent_twice_is_refused(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    response = await client.get(authorize_url(shop) + "&scope=openid")
    assert query_of(response.headers["location"])["error"] == "invalid_request"


# -- the login page --------------------------------------------------------------------


async def test_login_page_is_labelled_framing_proof_and_prefilled_with_login_hint(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    response = await client.get(authorize_url(shop, login_hint="minsu"))
    assert response.status_code == 200
    assert_page_headers(response)
    assert '<meta name="viewport"' in response.text
    assert '<label for="username">' in response.text
    assert '<label for="password">' in response.text
    assert 'value="minsu"' in response.text
    assert 'href="/"' in response.text  # sign up on the account page
    assert "tollgate_csrf" in response.headers["set-cookie"]
    assert "httponly" in response.headers["set-cookie"].lower()


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await client.get(authorize_url(shop))
    wrong = await log_in(client, page, password=OTHER_PASSWORD)
    unknown = await log_in(client, page, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password." in wrong.text
    assert "Wrong username or password." in unknown.text
    assert "tollgate_sso" not in wrong.headers.get("set-cookie", "")


async def test_a_disabled_account_cannot_sign_in(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    await app.state.services.accounts.set_disabled("minsu", True)
    page = await client.get(authorize_url(shop))
    response = await log_in(client, page)
    assert response.status_code == 403
    assert "disabled" in response.text


# -- CSRF and the form tokens ----------------------------------------------------------


async def test_a_forged_login_post_without_the_browsers_csrf_cookie_is_refused(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    # The attacker opens /authorize itself and gets a genuine form token...
    page = await client.get(authorize_url(shop))
    token = form_token(page.text)
    # ...but the victim's browser has its own CSRF cookie (or none).
    transport = httpx.ASGITransport(app=app.state.asgi, client=("198.51.100.9", 4444))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as victim:
        await victim.get(authorize_url(shop))
        forged = await victim.post(
            "/authorize/login",
            data={"request": token, "username": "minsu", "password": PASSWORD},
        )
    assert forged.status_code == 403
    assert "tollgate_sso" not in forged.headers.get("set-cookie", "")
    assert not await audit_events(app, "login_succeeded")


async def test_a_post_without_a_form_token_or_from_another_origin_is_refused(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await client.get(authorize_url(shop))
    missing = await client.post(
        "/authorize/login", data={"username": "minsu", "password": PASSWORD}
    )
    assert missing.status_code == 403
    cross = await client.post(
        "/authorize/login",
        data={"request": form_token(page.text), "username": "minsu", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert_page_headers(cross)


async def test_the_request_in_the_form_cannot_be_changed_by_the_browser(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await client.get(authorize_url(shop))
    head, body, signature = form_token(page.text).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["params"]["redirect_uri"] = "https://evil.example/callback"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = await client.post(
        "/authorize/login",
        data={
            "request": f"{head}.{forged_body}.{signature}",
            "username": "minsu",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_a_login_form_token_does_not_pass_as_a_consent_form(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await client.get(authorize_url(shop))
    await log_in(client, page)
    response = await client.post(
        "/authorize/consent",
        data={"request": form_token(page.text), "action": "allow", "scope": "openid"},
    )
    assert response.status_code == 403


# -- consent ---------------------------------------------------------------------------


async def test_consent_page_lists_each_scope_with_openid_fixed(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await app.state.services.stores.scopes.describe(
        ScopeDescription("email", "Read the <b>email</b> address", shop.created_at)
    )
    await join(client)
    page = await signed_in_consent_page(client, shop)
    assert_page_headers(page)
    assert page.text.count('type="checkbox"') == 3
    assert 'value="openid" checked disabled' in page.text
    assert 'value="profile" checked aria' in page.text
    assert "Read the &lt;b&gt;email&lt;/b&gt; address" in page.text  # escaped
    assert ">Allow</button>" in page.text
    assert ">Deny</button>" in page.text
    # A form post may end on the app (the redirect after Allow): CSP form-action names it.
    assert "form-action 'self' https://app.example;" in page.headers["content-security-policy"]


async def test_an_unchecked_scope_is_absent_from_the_code(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    user = (await join(client))["user"]
    page = await signed_in_consent_page(client, shop, state="s1", nonce="n1")
    response = await client.post(
        "/authorize/consent",
        # openid is not sent (a disabled checkbox is not): it is kept anyway.
        data={"request": form_token(page.text), "action": "allow", "scope": ["profile"]},
    )
    assert response.status_code == 303
    answer = query_of(response.headers["location"])
    assert answer["state"] == "s1"
    assert answer["iss"] == ISSUER
    services = app.state.services
    code = await services.stores.codes.by_id(code_id(answer["code"]))
    assert code is not None
    assert code.scope.split() == ["openid", "profile"]
    assert code.client_id == shop.client_id
    assert code.redirect_uri == REDIRECT_URI
    assert code.nonce == "n1"
    assert str(code.user_id) == user["id"]
    assert (code.expires_at - code.issued_at).total_seconds() == 60
    sso = await services.stores.sessions.live(code.login_session_id, code.issued_at)
    assert sso is not None
    assert sso.client_id is None
    consent = await services.stores.consents.get(code.user_id, shop.client_id)
    assert consent is not None
    assert consent.scope == "openid profile"
    assert len(await audit_events(app, "consent.granted")) == 1
    assert len(await audit_events(app, "code.issued")) == 1


async def test_a_consent_form_cannot_be_replayed(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await signed_in_consent_page(client, shop)
    data = {"request": form_token(page.text), "action": "allow", "scope": ["profile", "email"]}
    first = await client.post("/authorize/consent", data=data)
    assert first.status_code == 303
    again = await client.post("/authorize/consent", data=data)
    assert again.status_code == 400
    assert "location" not in again.headers
    assert "already answered" in again.text
    assert len(await audit_events(app, "code.issued")) == 1


async def test_deny_sends_access_denied_and_no_code(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await signed_in_consent_page(client, shop, state="d")
    response = await client.post(
        "/authorize/consent", data={"request": form_token(page.text), "action": "deny"}
    )
    assert response.status_code == 303
    answer = query_of(response.headers["location"])
    assert answer == {
        "error": "access_denied",
        "error_description": "The user denied the request.",
        "state": "d",
        "iss": ISSUER,
    }
    assert not await audit_events(app, "code.issued")


# -- single sign-on --------------------------------------------------------------------


async def test_signed_in_browser_with_consent_goes_straight_through(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await signed_in_consent_page(client, shop)
    sso = next(c for c in client.cookies.jar if c.name == "tollgate_sso")
    assert sso.path == "/"
    assert sso.has_nonstandard_attr("HttpOnly")
    await client.post(
        "/authorize/consent",
        data={"request": form_token(page.text), "action": "allow", "scope": ["profile"]},
    )
    # Fewer or the same scopes: no page at all.
    again = await client.get(authorize_url(shop, scope="openid profile", state="2"))
    assert again.status_code == 303
    answer = query_of(again.headers["location"])
    assert answer["state"] == "2"
    assert answer["code"]
    silent = await client.get(authorize_url(shop, scope="openid", prompt="none"))
    assert "code" in query_of(silent.headers["location"])
    # A scope the user left out is asked for again, never given silently.
    more = await client.get(authorize_url(shop, scope="openid email"))
    assert more.status_code == 200
    assert "Allow Photo Shop" in more.text
    refused = await client.get(authorize_url(shop, scope="openid email", prompt="none"))
    assert query_of(refused.headers["location"])["error"] == "consent_required"
    asked = await client.get(authorize_url(shop, scope="openid", prompt="consent"))
    assert asked.status_code == 200
    assert "Allow Photo Shop" in asked.text


async def test_prompt_login_and_max_age_ask_for_the_password_again(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    page = await signed_in_consent_page(client, shop)
    await client.post(
        "/authorize/consent",
        data={"request": form_token(page.text), "action": "allow", "scope": ["profile", "email"]},
    )
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        # auth_time is in whole seconds, rounded down: max_age=0 is always exceeded.
        again = await client.get(authorize_url(shop, **extra))
        assert again.status_code == 200
        assert "Log in to continue" in again.text
        done = await log_in(client, again)
        assert done.status_code == 303
        assert "code" in query_of(done.headers["location"])
    refused = await client.get(authorize_url(shop, prompt="login"))
    assert "Log in to continue" in refused.text


async def test_trusted_client_skips_consent(app: FastAPI, client: httpx.AsyncClient) -> None:
    own = await add_client(app.state.services.stores.clients, name="Our Wiki", trusted=True)
    await join(client)
    page = await client.get(authorize_url(own))
    response = await log_in(client, page)
    assert response.status_code == 303
    code = query_of(response.headers["location"])["code"]
    stored = await app.state.services.stores.codes.by_id(code_id(code))
    assert stored is not None
    assert stored.scope == "openid profile email"


async def test_scopes_the_user_does_not_hold_are_never_offered(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin_app = await add_client(app.state.services.stores.clients, scope="openid admin")
    await join(client)
    page = await client.get(authorize_url(admin_app, scope="openid admin"))
    consent = await log_in(client, page)
    assert 'value="openid"' in consent.text
    assert 'value="admin"' not in consent.text


@pytest.mark.parametrize("cookie_mode", [False, True])
async def test_single_sign_on_works_in_either_cookie_mode(
    make_settings: Any, hasher: Any, cookie_mode: bool
) -> None:
    application = create_app(make_settings(cookie_mode=cookie_mode), hasher)
    async with application.router.lifespan_context(application):
        shop = await add_client(application.state.services.stores.clients)
        transport = httpx.ASGITransport(app=application.state.asgi)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as browser:
            await join(browser)
            page = await signed_in_consent_page(browser, shop)
            sso = [h for h in page.headers.get_list("set-cookie") if h.startswith("tollgate_sso=")]
            assert len(sso) == 1
            assert "httponly" in sso[0].lower()
            assert "samesite=lax" in sso[0].lower()
            assert "secure" not in sso[0].lower()  # the issuer is http here
            await browser.post(
                "/authorize/consent",
                data={"request": form_token(page.text), "action": "allow", "scope": ["profile"]},
            )
            again = await browser.get(authorize_url(shop, scope="openid profile"))
            assert again.status_code == 303
            assert "code" in query_of(again.headers["location"])


async def test_cookies_are_secure_when_the_issuer_is_https(make_settings: Any, hasher: Any) -> None:
    application = create_app(make_settings(issuer="https://tollgate.test"), hasher)
    async with application.router.lifespan_context(application):
        shop = await add_client(application.state.services.stores.clients)
        transport = httpx.ASGITransport(app=application.state.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="https://tollgate.test") as b:
            await join(b)
            page = await b.get(authorize_url(shop))
            assert "secure" in page.headers["set-cookie"].lower()
            consent = await log_in(b, page)
            sso = next(
                h for h in consent.headers.get_list("set-cookie") if h.startswith("tollgate_sso=")
            )
            assert "; secure" in sso.lower()


async def test_not_you_logs_in_as_someone_else_and_ends_the_first_sign_in(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    await join(client)
    await join(client, "jiwoo")
    page = await signed_in_consent_page(client, shop)
    services = app.state.services
    first = await services.browser.current(client.cookies["tollgate_sso"])
    assert first is not None
    switch = re.search(r'href="(/authorize\?[^"]*)">Log in as someone else', page.text)
    assert switch is not None
    login_page = await client.get(html.unescape(switch.group(1)))
    assert "Log in to continue" in login_page.text
    consent = await log_in(client, login_page, username="jiwoo")
    assert "Signed in as jiwoo" in consent.text
    second = await services.browser.current(client.cookies["tollgate_sso"])
    assert second is not None
    assert second.user.username == "jiwoo"
    assert await services.stores.sessions.live(first.session.id, services.clock.now()) is None
