"""Second factors (issue 18): authenticator apps (RFC 6238 TOTP), recovery codes, and
the login step after the password.

The rules:
- A password login of an account with a confirmed factor gets no tokens: it gets
  `MfaRequired` with an `mfa_token` (TOLLGATE_MFA_TOKEN_TTL seconds, stored only as its
  SHA-256, bound to the user, the requested scope and the DPoP key of the password
  request's proof). The token pair comes from POST /login/mfa with a code or a recovery
  code (or from a passkey, services/passkeys.py); the token is used up by the success.
- An account the operator requires a factor of (TOLLGATE_REQUIRE_MFA, or
  `tollgate users require-mfa`) that has none gets `MfaEnrollmentRequired`: its
  mfa_token only sets up an authenticator app, and confirming it answers the pair.
- A TOTP code is accepted for the current 30-second step and one step either side
  (clock drift), and once: the (user, step) is remembered in the replay store every
  worker and replica shares, for as long as that step can be accepted.
- Recovery codes: ten, shown once at confirmation (or regeneration), stored as SHA-256
  (they carry 50 random bits, as refresh tokens carry theirs), each used once.
- Wrong codes are throttled as wrong passwords are (services/throttle.py), per account.
- Setting up, removing, regenerating codes: the password again ("recent
  authentication"). Every enrolment, removal and use is audited; enrolment and removal
  publish "mfa_enrolled" / "mfa_removed" (detail: the kind), which a mail notifier may
  hear.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn
from urllib.parse import urlsplit

import pyotp
import segno

from tollgate.clock import Clock, SystemClock
from tollgate.errors import (
    InvalidGrant,
    InvalidInput,
    InvalidRequest,
    MfaAlreadyEnrolled,
    MfaEnrollmentRequired,
    MfaRequired,
    NotFound,
)
from tollgate.events import ClientInfo, Event, EventBus
from tollgate.keys.sealing import seal, unseal
from tollgate.services.audit import AuditTrail
from tollgate.services.grants import Grants, TokenPair
from tollgate.services.passwords import PasswordHasher
from tollgate.services.scopes import narrow
from tollgate.services.throttle import Throttle
from tollgate.settings import Settings
from tollgate.store.interfaces import ProofReplayStore, SecondFactorStore, UserStore
from tollgate.store.records import ChallengeRecord, FactorSummary, TotpRecord, UserRecord

MFA_KIND = "mfa"
ENROL_KIND = "mfa_enrol"
STEP = 30  # seconds (RFC 6238 §4's default, what every authenticator app uses)
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
WRONG_CODE = "The code is not valid."
WRONG_PASSWORD = "The password is incorrect."  # noqa: S105
BAD_MFA_TOKEN = "The mfa_token is unknown, used or expired; log in again."  # noqa: S105


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalize_recovery_code(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def new_recovery_code() -> str:
    """Ten base32 characters (50 bits), shown as xxxxx-xxxxx."""
    text = base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:10].lower()
    return f"{text[:5]}-{text[5:]}"


def methods_of(factors: FactorSummary) -> list[str]:
    methods = ["totp"] if factors.totp_confirmed else []
    if factors.passkeys:
        methods.append("webauthn")
    if factors.recovery_codes_left:
        methods.append("recovery_code")
    return methods


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32, for typing into an app
    otpauth_uri: str
    qr_svg: str  # the otpauth URI as a QR code, inline SVG


@dataclass(frozen=True)
class PendingLogin:
    """What an mfa_token stands for: a user whose password was right."""

    user: UserRecord
    challenge: ChallengeRecord
    scope: str | None
    jkt: str | None


@dataclass(eq=False)
class SecondFactors:
    # What it uses, given by the composition root (services/container.py).
    _store: SecondFactorStore
    _replays: ProofReplayStore
    _users: UserStore
    _hasher: PasswordHasher
    _grants: Grants
    _throttle: Throttle
    _audit: AuditTrail
    _events: EventBus
    _settings: Settings
    _clock: Clock = field(default_factory=SystemClock)

    # -- the login step ------------------------------------------------------------------

    async def demand(
        self, user: UserRecord, scope: str | None, client: ClientInfo, jkt: str | None
    ) -> None:
        """After a right password: raise MfaRequired (or MfaEnrollmentRequired) when the
        account needs a second factor; return when it does not."""
        factors = await self._store.factors(user.id)
        if factors.enrolled:
            token = await self._new_token(MFA_KIND, user, scope, jkt)
            await self._audit.record(self._event("mfa_challenged", user, client))
            raise MfaRequired(token, methods_of(factors))
        if factors.required or self._settings.require_mfa:
            token = await self._new_token(ENROL_KIND, user, scope, jkt)
            await self._audit.record(self._event("mfa_enrolment_demanded", user, client))
            raise MfaEnrollmentRequired(token, ["totp"])

    async def pending(self, mfa_token: str, jkt: str | None, kind: str = MFA_KIND) -> PendingLogin:
        """The login an mfa_token stands for (not used up). The request must carry the
        same DPoP key's proof as the password request did (or none, as it did)."""
        now = self._clock.now()
        challenge = await self._store.challenge(digest(mfa_token), now)
        if challenge is None or challenge.kind != kind or challenge.user_id is None:
            raise InvalidGrant(BAD_MFA_TOKEN)
        data = json.loads(challenge.data)
        if data.get("jkt") != jkt:
            raise InvalidGrant("The mfa_token is bound to the DPoP key of the password request.")
        user = await self._users.by_id(challenge.user_id)
        if user is None or user.disabled:
            raise InvalidGrant(BAD_MFA_TOKEN)
        return PendingLogin(user, challenge, data.get("scope"), jkt)

    async def finish(self, pending: PendingLogin, amr: str, client: ClientInfo) -> TokenPair:
        """Use the mfa_token up (one of concurrent finishers wins) and start the session."""
        if await self._store.take_challenge(pending.challenge.id, self._clock.now()) is None:
            raise InvalidGrant(BAD_MFA_TOKEN)
        return await self._grants.start_session(
            pending.user,
            pending.scope,
            client,
            records=("login_succeeded",),
            jkt=pending.jkt,
            amr=amr,
        )

    async def with_code(
        self,
        mfa_token: str,
        code: str | None,
        recovery_code: str | None,
        client: ClientInfo,
        jkt: str | None = None,
    ) -> TokenPair:
        """POST /login/mfa: the second step, with a TOTP code or a recovery code."""
        if (code is None) == (recovery_code is None):
            raise InvalidInput({"code": "Send either code or recovery_code."})
        pending = await self.pending(mfa_token, jkt)
        user = pending.user
        await self.before_attempt(user, client)
        factors = await self._store.factors(user.id)
        if code is not None:
            ok = factors.totp_confirmed and await self._totp_ok(user, factors, code)
            used = "totp"
        else:
            ok = await self._store.use_recovery_code(
                user.id, digest(normalize_recovery_code(recovery_code or "")), self._clock.now()
            )
            used = "recovery_code"
        if not ok:
            await self.failed(user, client, used)
        await self.succeeded(user, client)
        pair = await self.finish(pending, "pwd otp", client)
        detail = used
        if used == "recovery_code":
            detail += f"; {factors.recovery_codes_left - 1} recovery codes left"
        event = self._event("mfa_used", user, client, detail)
        await self._audit.record(dataclasses.replace(event, session_id=pair.session_id))
        return pair

    # -- the authenticator app -----------------------------------------------------------

    async def start_totp(self, user_id: uuid.UUID, password: str) -> TotpEnrolment:
        """POST /mfa/totp (bearer and the password again)."""
        user = await self._reauthenticated(user_id, password)
        return await self._start_totp(user)

    async def start_totp_for_login(self, mfa_token: str, jkt: str | None) -> TotpEnrolment:
        """POST /mfa/totp with the mfa_token of MfaEnrollmentRequired."""
        pending = await self.pending(mfa_token, jkt, ENROL_KIND)
        return await self._start_totp(pending.user)

    async def _start_totp(self, user: UserRecord) -> TotpEnrolment:
        secret = pyotp.random_base32()
        now = self._clock.now()
        sealed = seal(secret.encode("ascii"), self._settings.secret_key, _aad(user.id))
        if not await self._store.start_totp(TotpRecord(user.id, sealed, now)):
            raise MfaAlreadyEnrolled()
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
            name=user.username, issuer_name=self._issuer_name()
        )
        # A whole SVG document (with its namespace): usable inline and as an <img>.
        out = io.BytesIO()
        segno.make(uri, error="m").save(
            out, kind="svg", scale=4, border=2, xmldecl=False, dark="#111", light="#fff"
        )
        return TotpEnrolment(secret, uri, out.getvalue().decode("utf-8"))

    async def confirm_totp(self, user_id: uuid.UUID, code: str, client: ClientInfo) -> list[str]:
        """POST /mfa/totp/confirm: the first code proves the app has the secret. Returns
        the ten recovery codes (shown once)."""
        user = await self._users.by_id(user_id)
        if user is None:
            raise NotFound("No such user.")
        return await self._confirm(user, code, client)

    async def confirm_totp_for_login(
        self, mfa_token: str, code: str, client: ClientInfo, jkt: str | None
    ) -> tuple[list[str], TokenPair]:
        """The enrolment demanded at login, confirmed: the codes and the token pair."""
        pending = await self.pending(mfa_token, jkt, ENROL_KIND)
        codes = await self._confirm(pending.user, code, client)
        return codes, await self.finish(pending, "pwd otp", client)

    async def _confirm(self, user: UserRecord, code: str, client: ClientInfo) -> list[str]:
        factors = await self._store.factors(user.id)
        if factors.totp is None or factors.totp_confirmed:
            raise InvalidRequest("No authenticator app is waiting to be confirmed.")
        await self.before_attempt(user, client)
        if not await self._totp_ok(user, factors, code):
            await self.failed(user, client, "totp confirmation")
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        hashes = [digest(normalize_recovery_code(c)) for c in codes]
        if not await self._store.confirm_totp(user.id, self._clock.now(), hashes):
            raise InvalidRequest("No authenticator app is waiting to be confirmed.")
        await self._enrolled(user, "totp", client)
        return codes

    async def remove_totp(self, user_id: uuid.UUID, password: str, client: ClientInfo) -> None:
        """DELETE /mfa/totp (the password again)."""
        user = await self._reauthenticated(user_id, password)
        if not await self._store.remove_totp(user.id):
            raise NotFound("No authenticator app is set up.")
        await self.removed(user, "totp", client)

    async def regenerate_recovery_codes(
        self, user_id: uuid.UUID, password: str, client: ClientInfo
    ) -> list[str]:
        """POST /mfa/recovery-codes (the password again): new codes; the old ones stop."""
        user = await self._reauthenticated(user_id, password)
        if not (await self._store.factors(user.id)).enrolled:
            raise InvalidRequest("Set up a second factor first.")
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        hashes = [digest(normalize_recovery_code(c)) for c in codes]
        await self._store.replace_recovery_codes(user.id, hashes, self._clock.now())
        await self._audit.record(self._event("mfa_recovery_codes_regenerated", user, client))
        return codes

    async def factors(self, user_id: uuid.UUID) -> FactorSummary:
        return await self._store.factors(user_id)

    async def set_required(self, user: UserRecord, required: bool) -> None:
        """`tollgate users require-mfa NAME` (and `--off`)."""
        await self._store.set_required(user.id, required, self._clock.now())
        name = "mfa_requirement_set" if required else "mfa_requirement_cleared"
        await self._audit.record(self._event(name, user, ClientInfo(user_agent="tollgate cli")))

    async def reset(self, user: UserRecord) -> int:
        """`tollgate users reset-mfa NAME`: the operator removes every factor and recovery
        code of a user who lost them all. Returns how many factors went."""
        factors = await self._store.factors(user.id)
        gone = int(await self._store.remove_totp(user.id))
        for passkey in factors.passkeys:
            gone += int(await self._store.remove_passkey(user.id, passkey.id))
        await self._store.replace_recovery_codes(user.id, [], self._clock.now())
        operator = ClientInfo(user_agent="tollgate cli")
        await self._audit.record(self._event("mfa_removed", user, operator, "all, by the operator"))
        return gone

    # -- shared with passkeys ------------------------------------------------------------

    async def reauthenticate(self, user_id: uuid.UUID, password: str) -> UserRecord:
        return await self._reauthenticated(user_id, password)

    async def enrolled(self, user: UserRecord, kind: str, client: ClientInfo) -> None:
        await self._enrolled(user, kind, client)

    async def removed(self, user: UserRecord, kind: str, client: ClientInfo) -> None:
        """A factor is gone; with none left, the recovery codes go too."""
        if not (await self._store.factors(user.id)).enrolled:
            await self._store.replace_recovery_codes(user.id, [], self._clock.now())
        await self._audit.record(self._event("mfa_removed", user, client, kind))

    # -- inside ---------------------------------------------------------------------------

    async def _enrolled(self, user: UserRecord, kind: str, client: ClientInfo) -> None:
        await self._audit.record(self._event("mfa_enrolled", user, client, kind))

    async def _reauthenticated(self, user_id: uuid.UUID, password: str) -> UserRecord:
        user = await self._users.by_id(user_id)
        if user is None:
            raise NotFound("No such user.")
        if not await self._hasher.verify(user.password_hash, password):
            raise InvalidGrant(WRONG_PASSWORD)
        return user

    async def _new_token(
        self, kind: str, user: UserRecord, scope: str | None, jkt: str | None
    ) -> str:
        token = secrets.token_urlsafe(32)
        expires = self._clock.now() + timedelta(seconds=self._settings.mfa_token_ttl)
        data = json.dumps({"scope": narrow(user.scope, scope), "jkt": jkt})
        await self._store.add_challenge(
            ChallengeRecord(digest(token), kind, user.id, data, expires)
        )
        return token

    async def _totp_ok(self, user: UserRecord, factors: FactorSummary, code: str) -> bool:
        """RFC 6238 §5.2: the current step, and one either side for drift; each (user,
        step) once, across every process of this database."""
        if factors.totp is None:
            return False
        code = "".join(code.split())
        if len(code) != DIGITS or not code.isdigit():
            return False
        secret = unseal(factors.totp.secret, self._settings.secret_key, _aad(user.id))
        totp = pyotp.TOTP(secret.decode("ascii"), digits=DIGITS, interval=STEP)
        now = self._clock.now()
        current = totp.timecode(now)
        for counter in (current, current - DRIFT_STEPS, current + DRIFT_STEPS):
            if hmac.compare_digest(totp.generate_otp(counter), code):
                # Remembered until the step can no longer be accepted at all.
                until = datetime.fromtimestamp((counter + DRIFT_STEPS + 1) * STEP, now.tzinfo)
                key = digest(f"totp:{user.id}:{counter}")
                return await self._replays.first_use(key, until, now)
        return False

    def _account(self, user: UserRecord) -> str:
        return f"mfa:{user.id}"

    async def before_attempt(self, user: UserRecord, client: ClientInfo) -> None:
        async def never() -> bool:
            return False

        await self._throttle.before_login(self._account(user), client.ip or "unknown", never)

    async def succeeded(self, user: UserRecord, client: ClientInfo) -> None:
        await self._throttle.login_succeeded(self._account(user), client.ip or "unknown")

    async def failed(self, user: UserRecord, client: ClientInfo, what: str) -> NoReturn:
        """Count a wrong code (as a wrong password) and refuse it."""
        await self._throttle.login_failed(self._account(user), client.ip or "unknown")
        await self._audit.record(self._event("mfa_failed", user, client, what))
        raise InvalidGrant(WRONG_CODE)

    def _issuer_name(self) -> str:
        return self._settings.webauthn_rp_name or urlsplit(self._settings.issuer).netloc

    def _event(
        self, name: str, user: UserRecord, client: ClientInfo, detail: str | None = None
    ) -> Event:
        return Event(
            name,
            self._clock.now(),
            user_id=user.id,
            username=user.username,
            client=client,
            detail=detail,
        )


def _aad(user_id: uuid.UUID) -> str:
    """The sealed secret's associated data: it cannot be moved onto another user's row."""
    return f"totp:{user_id}"
