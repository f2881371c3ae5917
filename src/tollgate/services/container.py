"""Build every service once from the settings; the app and the CLI share this wiring.

Services receive the stores they use (`store/interfaces.py`), never a database handle.
What must hear of an event (the audit log, metrics, the token cache) subscribes to the
one event bus here; no service calls them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.clock import Clock, SystemClock
from tollgate.events import AccountChanged, EventBus, SessionsEnded
from tollgate.keys.keyring import Keyring
from tollgate.mail.smtp import SmtpSender
from tollgate.mail.templates import MailTemplates
from tollgate.metrics import Metrics
from tollgate.services.accounts import Accounts
from tollgate.services.audit import AuditLog, AuditTrail
from tollgate.services.auth_cache import AuthCache
from tollgate.services.authorization import Authorization
from tollgate.services.browser_session import BrowserSessions
from tollgate.services.client_credentials import ClientCredentialsGrant
from tollgate.services.clients import Clients
from tollgate.services.code_grant import CodeGrant
from tollgate.services.consents import Consents
from tollgate.services.dpop import ProofGate, nonce_key_source
from tollgate.services.end_session import EndSession
from tollgate.services.grants import Grants
from tollgate.services.login import Login
from tollgate.services.mail_delivery import MailDelivery
from tollgate.services.mailing import Mails, default_sender, site_name
from tollgate.services.mfa import SecondFactors
from tollgate.services.names import ReservedNames
from tollgate.services.notifier import Notifier, notice_rules
from tollgate.services.passkeys import Passkeys
from tollgate.services.password_policy import PasswordPolicy
from tollgate.services.passwords import PasswordHasher
from tollgate.services.push_delivery import PushDelivery
from tollgate.services.push_targets import PushTargets
from tollgate.services.recovery import Recovery
from tollgate.services.security_events import SetSigner
from tollgate.services.sessions import Sessions
from tollgate.services.shared_signals import SharedSignals
from tollgate.services.throttle import Throttle
from tollgate.services.token_control import TokenControl
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.interfaces import ProofReplayStore
from tollgate.store.memory import MemoryProofReplayStore
from tollgate.store.redis.proofs import RedisProofReplayStore
from tollgate.store.stores import Stores, open_stores
from tollgate.tokens.browser import BrowserTokens
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.id_tokens import IdTokenIssuer
from tollgate.tokens.issuing import TokenIssuer
from tollgate.verify.dpop import ProofChecker


@dataclass
class Services:
    settings: Settings
    stores: Stores
    clock: Clock
    events: EventBus
    keyring: Keyring
    checker: TokenChecker
    accounts: Accounts
    grants: Grants
    sessions: Sessions
    clients: Clients
    token_control: TokenControl
    throttle: Throttle
    audit: AuditTrail
    login: Login
    metrics: Metrics
    schema_head: str | None
    auth_cache: AuthCache
    # Other apps sign in with Tollgate (issue 14): the browser's side.
    browser: BrowserSessions
    browser_tokens: BrowserTokens
    authorization: Authorization
    consents: Consents
    end_session: EndSession
    code_grant: CodeGrant
    # DPoP proofs (RFC 9449), remembered once in the replay cache every replica shares.
    proofs: ProofGate
    client_credentials: ClientCredentialsGrant
    # Revocations reach other services (issue 16): the Shared Signals transmitter.
    shared_signals: SharedSignals
    push_delivery: PushDelivery
    # Account recovery by email (issue 17); the sender only with TOLLGATE_SMTP_URL.
    recovery: Recovery
    mail_delivery: MailDelivery | None
    # Second factors (issue 18): authenticator apps, recovery codes and passkeys.
    factors: SecondFactors
    passkeys: Passkeys

    @classmethod
    async def open(
        cls,
        settings: Settings,
        hasher: PasswordHasher | None = None,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        auth_cache: AuthCache | None = None,
        migrate_first: bool = False,
    ) -> Services:
        """Open the stores and build the services on them. With `migrate_first` (serve,
        migrate) the schema is brought to the newest revision before anything is read."""
        if migrate_first:
            await upgrade_schema(settings)
        stores = await open_stores(settings)
        clock = clock if clock is not None else SystemClock()
        metrics = metrics if metrics is not None else Metrics(settings.prometheus_multiproc_dir)
        # `is None`, not `or`: an empty cache is falsy (it has a length).
        cache = (
            auth_cache
            if auth_cache is not None
            else AuthCache(
                settings.auth_cache_seconds, settings.auth_cache_entries, wall=clock.timestamp
            )
        )
        events = EventBus()
        AuditLog(metrics.event).subscribe(events)
        # Revocations by this process apply to its cached token checks at once.
        events.subscribe(SessionsEnded, lambda _event: cache.revoked())
        events.subscribe(AccountChanged, lambda _event: cache.revoked())

        keyring = Keyring(
            stores.keys,
            settings.signing_alg,
            settings.secret_key,
            settings.key_reload_interval,
            settings.jwks_max_age,
            events,
            clock,
        )
        checker = TokenChecker(keyring, settings, clock.timestamp)
        signer, targets = SetSigner(keyring), PushTargets(settings.ssf_push_allowed_urls)
        shared_signals = SharedSignals(
            stores.security_events, stores.sessions, signer, targets, settings, metrics, clock
        )
        shared_signals.subscribe(events)
        audit = AuditTrail(stores.audit, events)
        throttle = Throttle(settings)
        hasher = hasher or PasswordHasher()
        accounts = Accounts(
            stores.users,
            hasher,
            PasswordPolicy(settings.password_min_length, settings.password_min_score),
            settings.default_scope,
            ReservedNames(settings.reserved_names),
            events,
            clock,
            require_verified_email=settings.require_verified_email,
        )
        issuer = TokenIssuer(keyring, settings)
        grants = Grants(stores.sessions, issuer, checker, settings, events, clock)
        code_grant = CodeGrant(
            stores.codes,
            stores.sessions,
            stores.users,
            issuer,
            IdTokenIssuer(keyring, settings.issuer, settings.access_ttl),
            audit,
            settings,
            events,
            clock,
        )
        replays = proof_replays(settings, stores)
        factors = SecondFactors(
            stores.factors,
            replays,
            stores.users,
            hasher,
            grants,
            throttle,
            audit,
            events,
            settings,
            clock,
        )
        login = Login(stores.sessions, accounts, grants, throttle, audit, events, clock, factors)
        passkeys = Passkeys(
            stores.factors, factors, stores.users, grants, throttle, audit, settings, clock
        )
        browser_tokens = BrowserTokens(keyring, settings.issuer, clock.timestamp)
        mails = Mails(MailTemplates(settings.mail_templates), settings)
        recovery = Recovery(
            stores.users, stores.mail_tokens, accounts, mails, throttle, settings, events, clock
        )
        mail_delivery = None
        if settings.smtp_url:
            sender = SmtpSender(
                settings.smtp_url,
                default_sender(settings),
                site_name(settings),
                settings.smtp_timeout,
                settings.smtp_ca_file,
            )
            mail_delivery = MailDelivery(stores.outbox, sender, settings, metrics, events, clock)
            Notifier(notice_rules(settings), stores.users, stores.outbox, mails, clock).subscribe(
                events
            )
        return cls(
            settings=settings,
            stores=stores,
            clock=clock,
            events=events,
            keyring=keyring,
            checker=checker,
            accounts=accounts,
            grants=grants,
            sessions=Sessions(stores.sessions, checker, cache, events, clock),
            clients=Clients(stores.clients, stores.sessions, keyring, events, clock),
            token_control=TokenControl(stores.sessions, checker, settings, events, clock),
            throttle=throttle,
            audit=audit,
            login=login,
            metrics=metrics,
            schema_head=migrate.head_revision(),
            auth_cache=cache,
            browser=BrowserSessions(
                login,
                stores.sessions,
                stores.users,
                browser_tokens,
                authorize_audience(settings),
                events,
                clock,
                factors,
                passkeys,
            ),
            browser_tokens=browser_tokens,
            authorization=Authorization(
                stores.clients, stores.codes, stores.consents, events, settings.issuer, clock
            ),
            consents=Consents(stores.consents, stores.clients, events, clock),
            end_session=EndSession(stores.clients, browser_tokens),
            code_grant=code_grant,
            client_credentials=ClientCredentialsGrant(issuer, audit, settings, clock),
            proofs=ProofGate(
                ProofChecker(
                    max_age=settings.dpop_proof_max_age,
                    leeway=settings.clock_leeway,
                    clock=clock.timestamp,
                ),
                replays,
                clock,
                nonce_key_source(keyring, settings.secret_key) if settings.dpop_nonce else None,
            ),
            shared_signals=shared_signals,
            push_delivery=PushDelivery(
                stores.security_events, signer, targets, settings, metrics, clock
            ),
            recovery=recovery,
            mail_delivery=mail_delivery,
            factors=factors,
            passkeys=passkeys,
        )

    async def start(self) -> None:
        """Make sure a signing key exists (the schema is current: see `open`)."""
        await self.keyring.ensure_signing_key()

    async def close(self) -> None:
        if isinstance(self.proofs.replays, RedisProofReplayStore):
            await self.proofs.replays.close()
        await self.stores.close()


def proof_replays(settings: Settings, stores: Stores) -> ProofReplayStore:
    """Where the DPoP proofs seen are kept (RFC 9449 §11.1), shared by every process that
    serves this database: Redis when configured; else this process's memory on SQLite
    when it is the only process, else the database (workers, replicas)."""
    if settings.redis_url:
        return RedisProofReplayStore.from_url(settings.redis_url)
    if settings.is_sqlite and settings.web_concurrency == 1:
        return MemoryProofReplayStore()
    return stores.proofs


def authorize_audience(settings: Settings) -> str:
    """The audience of the tokens only the authorization endpoint reads (issue 14)."""
    return settings.issuer.rstrip("/") + "/authorize"


async def upgrade_schema(settings: Settings) -> None:
    """Alembic stays the one migration path for both databases; its engine lives only
    for the upgrade."""
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
