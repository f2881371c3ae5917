"""Passkeys (WebAuthn Level 2, through py_webauthn; issue 18): register several per
account, sign in with one alone (a discoverable credential picks the account) or use one
as the second factor after the password.

The relying party id is the issuer's host (TOLLGATE_WEBAUTHN_RP_ID overrides) and the
origin the issuer's origin (TOLLGATE_WEBAUTHN_ORIGIN). Every ceremony's challenge is
stored (as its SHA-256) and used up by the answer, whatever the answer; it lives
TOLLGATE_MFA_TOKEN_TTL. The answer names its challenge in its clientDataJSON, which the
library then checks with the origin, the RP id hash, user presence and user
verification (always required: a passkey alone is a device and its PIN or biometric) and
the signature; the signature counter must grow when the authenticator keeps one, and is
stored by compare-and-set, so of two uses of one counter value one wins.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tollgate.clock import Clock, SystemClock
from tollgate.errors import (
    AccountDisabled,
    EmailNotVerified,
    InvalidGrant,
    InvalidRequest,
    NotFound,
    PasskeyTaken,
)
from tollgate.events import ClientInfo, Event
from tollgate.services.audit import AuditTrail
from tollgate.services.grants import Grants, TokenPair
from tollgate.services.mfa import PendingLogin, SecondFactors, digest
from tollgate.services.throttle import Throttle
from tollgate.settings import Settings
from tollgate.store.interfaces import SecondFactorStore, UserStore
from tollgate.store.records import ChallengeRecord, Conflict, PasskeyRecord, UserRecord

REGISTER_KIND = "webauthn_register"
LOGIN_KIND = "webauthn_login"
NOT_VERIFIED = "The passkey could not be verified."
TRANSPORTS = {t.value for t in AuthenticatorTransport}


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def challenge_of(credential: dict[str, Any]) -> str:
    """The challenge an answer names (its clientDataJSON's), base64url; ValueError if it
    names none."""
    response = credential.get("response")
    client_data = response.get("clientDataJSON") if isinstance(response, dict) else None
    if not isinstance(client_data, str) or len(client_data) > 16_384:
        raise ValueError("no clientDataJSON")
    try:
        parsed = json.loads(_b64url(client_data))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("clientDataJSON is not base64url JSON") from exc
    challenge = parsed.get("challenge") if isinstance(parsed, dict) else None
    if not isinstance(challenge, str) or not challenge or len(challenge) > 512:
        raise ValueError("clientDataJSON names no challenge")
    return challenge


def credential_id_of(credential: dict[str, Any]) -> bytes:
    raw = credential.get("rawId", credential.get("id"))
    if not isinstance(raw, str) or not raw or len(raw) > 2048:
        raise ValueError("no credential id")
    try:
        return _b64url(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the credential id is not base64url") from exc


@dataclass(eq=False)
class Passkeys:
    # What it uses, given by the composition root (services/container.py).
    _store: SecondFactorStore
    _factors: SecondFactors
    _users: UserStore
    _grants: Grants
    _throttle: Throttle
    _audit: AuditTrail
    _settings: Settings
    _clock: Clock = field(default_factory=SystemClock)

    @property
    def rp_id(self) -> str:
        return self._settings.webauthn_rp_id or urlsplit(self._settings.issuer).hostname or ""

    @property
    def origin(self) -> str:
        if self._settings.webauthn_origin:
            return self._settings.webauthn_origin.rstrip("/")
        parts = urlsplit(self._settings.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    # -- registration --------------------------------------------------------------------

    async def registration_options(self, user_id: uuid.UUID) -> str:
        """POST /webauthn/register/options: PublicKeyCredentialCreationOptions as JSON."""
        user = await self._user(user_id)
        held = (await self._store.factors(user.id)).passkeys
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self._settings.webauthn_rp_name,
            user_name=user.username,
            user_id=user.id.bytes,
            user_display_name=user.username,
            timeout=self._settings.mfa_token_ttl * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            # The same authenticator twice for one account: refused by the browser.
            exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in held],
        )
        await self._remember(options.challenge, REGISTER_KIND, user.id)
        return options_to_json(options)

    async def register(
        self, user_id: uuid.UUID, credential: dict[str, Any], name: str, client: ClientInfo
    ) -> PasskeyRecord:
        """POST /webauthn/register: the browser's answer to our options."""
        user = await self._user(user_id)
        try:
            challenge = challenge_of(credential)
        except ValueError as exc:
            raise InvalidRequest(f"{NOT_VERIFIED} ({exc})") from exc
        taken = await self._store.take_challenge(digest(challenge), self._clock.now())
        if taken is None or taken.kind != REGISTER_KIND or taken.user_id != user.id:
            raise InvalidRequest("The registration's challenge is unknown, used or expired.")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=_b64url(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError, binascii.Error) as exc:
            raise InvalidRequest(f"{NOT_VERIFIED} ({exc})") from exc
        response = credential.get("response")
        transports = response.get("transports") if isinstance(response, dict) else None
        passkey = PasskeyRecord(
            id=uuid.uuid4(),
            user_id=user.id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=name,
            created_at=self._clock.now(),
            transports=tuple(t for t in transports or () if t in TRANSPORTS),
        )
        try:
            await self._store.add_passkey(passkey)
        except Conflict as exc:
            raise PasskeyTaken() from exc
        await self._factors.enrolled(user, "webauthn", client)
        return passkey

    async def remove(
        self, user_id: uuid.UUID, passkey_id: str, password: str, client: ClientInfo
    ) -> None:
        """DELETE /mfa/webauthn/{id} (the password again)."""
        user = await self._factors.reauthenticate(user_id, password)
        try:
            parsed = uuid.UUID(passkey_id)
        except ValueError as exc:
            raise NotFound("No such passkey.") from exc
        if not await self._store.remove_passkey(user.id, parsed):
            raise NotFound("No such passkey.")
        await self._factors.removed(user, "webauthn", client)

    # -- signing in ----------------------------------------------------------------------

    async def login_options(self, mfa_token: str | None, jkt: str | None) -> str:
        """POST /webauthn/login/options: with the mfa_token of a right password, the
        user's passkeys are allowed; without, any discoverable one (passwordless)."""
        user_id: uuid.UUID | None = None
        allowed: list[PublicKeyCredentialDescriptor] = []
        if mfa_token is not None:
            pending = await self._factors.pending(mfa_token, jkt)
            user_id = pending.user.id
            passkeys = (await self._store.factors(user_id)).passkeys
            allowed = [
                PublicKeyCredentialDescriptor(
                    id=p.credential_id,
                    transports=[AuthenticatorTransport(t) for t in p.transports],
                )
                for p in passkeys
            ]
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=self._settings.mfa_token_ttl * 1000,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        await self._remember(options.challenge, LOGIN_KIND, user_id)
        return options_to_json(options)

    async def login(
        self,
        credential: dict[str, Any],
        mfa_token: str | None,
        client: ClientInfo,
        jkt: str | None = None,
    ) -> TokenPair:
        """POST /webauthn/login: a token pair, `amr` ["hwk"] passwordless or ["pwd",
        "hwk"] as the second factor."""
        try:
            challenge = challenge_of(credential)
            credential_id = credential_id_of(credential)
        except ValueError as exc:
            raise InvalidGrant(f"{NOT_VERIFIED} ({exc})") from exc
        # Used up now, whatever follows: a challenge is answered once.
        taken = await self._store.take_challenge(digest(challenge), self._clock.now())
        if taken is None or taken.kind != LOGIN_KIND:
            raise InvalidGrant("The sign-in's challenge is unknown, used or expired.")
        pending: PendingLogin | None = None
        if mfa_token is not None:
            pending = await self._factors.pending(mfa_token, jkt)
            if taken.user_id != pending.user.id:
                raise InvalidGrant("The challenge was not issued for this mfa_token.")
        elif taken.user_id is not None:
            raise InvalidGrant("This challenge is for a second step: send its mfa_token.")
        passkey = await self._store.passkey(credential_id)
        if passkey is None or (pending is not None and passkey.user_id != pending.user.id):
            raise InvalidGrant("This passkey is not registered here.")
        user = await self._user(passkey.user_id)
        await self._factors.before_attempt(user, client)
        response = credential.get("response")
        user_handle = response.get("userHandle") if isinstance(response, dict) else None
        try:
            if user_handle and _b64url(str(user_handle)) != user.id.bytes:
                raise InvalidGrant("The passkey answered for another account.")
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=_b64url(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError, binascii.Error) as exc:
            await self._factors.failed(user, client, f"webauthn: {exc}")
        now = self._clock.now()
        if not await self._store.passkey_used(
            passkey.id, passkey.sign_count, verified.new_sign_count, now
        ):
            raise InvalidGrant("This passkey was used at the same moment elsewhere.")
        await self._factors.succeeded(user, client)
        if pending is not None:
            pair = await self._factors.finish(pending, "pwd hwk", client)
        else:
            if user.disabled:
                raise AccountDisabled()
            # Issue 17: without a password the address rule still holds.
            if self._settings.require_verified_email and not user.email_verified:
                raise EmailNotVerified()
            pair = await self._grants.start_session(
                user, None, client, records=("login_succeeded",), jkt=jkt, amr="hwk"
            )
        await self._audit.record(
            Event(
                "mfa_used",
                now,
                user_id=user.id,
                username=user.username,
                session_id=pair.session_id,
                client=client,
                detail=f"webauthn {passkey.name}" + ("" if pending else " (passwordless)"),
            )
        )
        return pair

    async def _remember(self, challenge: bytes, kind: str, user_id: uuid.UUID | None) -> None:
        text = base64.urlsafe_b64encode(challenge).rstrip(b"=").decode("ascii")
        expires = self._clock.now() + timedelta(seconds=self._settings.mfa_token_ttl)
        await self._store.add_challenge(ChallengeRecord(digest(text), kind, user_id, "{}", expires))

    async def _user(self, user_id: uuid.UUID) -> UserRecord:
        user = await self._users.by_id(user_id)
        if user is None:
            raise InvalidGrant("No such user.")
        return user
