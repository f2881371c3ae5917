"""A password reset through a mailed link ends every session of the user, as the Shared
Signals feed tells receivers: one session-revoked SET per session, and credential-change
(issue 17, with a real SMTP server process)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.api.ssf.conftest import log_in, sid_of, sub_of
from tests.conftest import OTHER_PASSWORD, PASSWORD
from tests.support.smtp import SmtpSink, link_in
from tests.support.ssf_receiver import CREDENTIAL_CHANGE, Receiver, revoked_sids
from tollgate.settings import Settings


@pytest.fixture
def settings(make_settings: Callable[..., Settings], smtp: SmtpSink) -> Settings:
    return make_settings(
        ssf_long_poll_seconds=2.0,
        ssf_poll_check_interval=0.1,
        smtp_url=smtp.url,
        mail_interval=0.05,
    )


async def test_a_reset_revokes_every_session_on_the_feed(
    client: httpx.AsyncClient, receiver: Receiver, smtp: SmtpSink
) -> None:
    joined = await client.post(
        "/join", json={"username": "minsu", "password": PASSWORD, "email": "minsu@example.org"}
    )
    me = joined.json()
    other = await log_in(client)
    await client.post("/password/forgot", json={"username": "minsu"})
    reset = next(m for m in await smtp.arrived(count=2) if link_in(m)[1] == "reset")
    answer = await client.post(
        "/password/reset", json={"token": link_in(reset)[2], "new_password": OTHER_PASSWORD}
    )
    assert answer.status_code == 204
    claims = await receiver.poll()
    assert sorted(revoked_sids(claims)) == sorted([sid_of(me), sid_of(other)])
    [change] = [c for c in claims if CREDENTIAL_CHANGE in c["events"]]
    assert change["sub_id"]["sub"] == sub_of(me)
