"""The one configuration object. Nothing else in Tollgate reads the environment."""

from __future__ import annotations

import json
import socket
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SigningAlg = Literal["ES256", "EdDSA", "RS256", "HS256"]

# Addresses that mean "every interface": never a URL a client can use.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (compared, not bound)

# The contract caps request bodies at 64 KiB (API.md, Conventions).
MAX_BODY_BYTES = 64 * 1024

# Names a stranger could use to pass for the service or its operators.
DEFAULT_RESERVED_NAMES = (
    "admin",
    "administrator",
    "root",
    "superuser",
    "sysadmin",
    "system",
    "tollgate",
    "support",
    "help",
    "security",
    "abuse",
    "postmaster",
    "hostmaster",
    "webmaster",
    "noreply",
    "no-reply",
    "moderator",
    "staff",
    "anonymous",
)


def _split_list(value: object) -> object:
    """Comma-separated or a JSON list, as environment variables carry lists."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLGATE_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: str = "sqlite+aiosqlite:///./tollgate.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    issuer: str = ""
    audience: str = "tollgate"

    access_ttl: int = Field(default=600, gt=0)
    refresh_ttl: int = Field(default=1_209_600, gt=0)
    session_max_age: int = Field(default=7_776_000, gt=0)
    refresh_reuse_interval: int = Field(default=10, ge=0)
    # Tolerated clock skew between replicas for `nbf`/`iat`; `exp` is enforced strictly.
    clock_leeway: int = Field(default=5, ge=0, le=300)
    # The algorithm of new signing keys. Unset: the database's current key's algorithm
    # (ES256 for a new database). A change goes through rotation (published first).
    signing_alg: SigningAlg | None = None
    # How long verifiers may cache the JWKS. A rotated-in key waits this long before it
    # signs, so every cache holds it first.
    jwks_max_age: int = Field(default=300, ge=0, le=86_400)
    # How often each process re-reads keys, to see rotations and retirements by others.
    key_reload_interval: float = Field(default=10.0, gt=0, le=3600)

    password_min_length: int = Field(default=8, ge=8, le=1024)
    # zxcvbn score (0-4) a new password must reach; 3 = "safely unguessable" for online attacks.
    password_min_score: int = Field(default=3, ge=0, le=4)
    default_scope: str = "profile"
    # Sign-up refuses these and every name that looks like one (`tollgate users create`
    # may still take them); comma-separated or a JSON list, empty for none.
    reserved_names: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RESERVED_NAMES)
    )

    # Origins allowed to call Tollgate from a browser: comma-separated or a JSON list.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_url: str | None = None
    rate_limit_enabled: bool = True
    # Limits in the `limits` library's notation; "a;b" applies both.
    rate_limit_join: str = "20/minute;200/hour"  # sign-ups per client IP
    rate_limit_requests: str = "120/minute"  # /login, /auth, /refresh requests per client IP
    rate_limit_login_failures_ip: str = "30/minute;300/day"  # failed logins per client IP
    rate_limit_login_failures_account_ip: str = "5/minute;20/hour"  # per account and IP
    # NIST SP 800-63B §5.2.2: at most 100 failures per account; then only addresses the
    # account logged in from before may keep trying (so an attacker cannot lock it out).
    account_lockout_failures: int = Field(default=100, ge=1, le=100)
    cookie_mode: bool = False
    ui: bool = True
    secret_key: str | None = None

    # DPoP (RFC 9449): how old a proof's `iat` may be (plus 5 s of clock skew either way),
    # and whether proofs must carry a server nonce (§8; `use_dpop_nonce` hands it out).
    dpop_proof_max_age: int = Field(default=60, ge=5, le=600)
    dpop_nonce: bool = False
    # The proxies whose X-Forwarded-For/-Proto/-Host are believed: uvicorn's variable and
    # default, read here once (api/forwarded.py applies it).
    forwarded_allow_ips: str = Field(default="127.0.0.1", validation_alias="FORWARDED_ALLOW_IPS")
    # Worker processes of this server (`tollgate serve --workers N` sets uvicorn's name).
    web_concurrency: int = Field(default=1, ge=1, validation_alias="WEB_CONCURRENCY")

    # How long a verified access token (and its session being live) is trusted without
    # asking the database again. Revocations by this process apply at once; by other
    # processes within this many seconds. 0 turns the cache off.
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    auth_cache_entries: int = Field(default=50_000, ge=0)
    # One JSON line per request on stderr (the audit lines are always written).
    access_log: bool = True

    metrics_enabled: bool = True
    # Set by `tollgate serve --workers N` (prometheus-client's own variable name).
    prometheus_multiproc_dir: str | None = Field(
        default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR"
    )

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

    # Shared Signals feed (issue 16): how long an unacknowledged event is kept, how long a
    # long poll waits at most and how often it looks for other processes' events; push:
    # the allowed receiver URLs (exact, or a prefix ending in "/"), how often each process
    # looks for due events, its timeout, and the backoff between tries.
    ssf_retention: int = Field(default=604_800, gt=0)
    ssf_long_poll_seconds: float = Field(default=25.0, ge=0, le=300)
    ssf_poll_check_interval: float = Field(default=0.5, gt=0, le=60)
    ssf_push_allowed_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    ssf_push_interval: float = Field(default=1.0, gt=0, le=60)
    ssf_push_timeout: float = Field(default=5.0, gt=0, le=60)
    ssf_push_first_retry: float = Field(default=2.0, gt=0)
    ssf_push_max_backoff: float = Field(default=300.0, gt=0)

    # Email: verification and password reset (issue 17). The SMTP server (smtp://,
    # smtp+starttls://, smtps://; unset: no mail, and the routes that only send mail
    # answer 503), the From address, a CA file for a private SMTP server's certificate,
    # and a folder of templates overriding the packaged ones (tollgate/mail/templates).
    smtp_url: str | None = None
    mail_from: str | None = None  # unset: "Tollgate <no-reply@the issuer's host>"
    smtp_ca_file: str | None = None
    smtp_timeout: float = Field(default=10.0, gt=0, le=120)
    mail_templates: str | None = None
    # Where mailed links point: the account page (`<issuer>/`) unless set; links add
    # `#reset=<token>` or `#verify=<token>` (a fragment: never sent to any server).
    account_url: str | None = None
    reset_ttl: int = Field(default=1800, ge=60, le=86_400)
    verify_ttl: int = Field(default=86_400, ge=60, le=2_592_000)
    require_verified_email: bool = False
    notify_new_sign_in: bool = False
    notify_password_changed: bool = True
    notify_refresh_reuse: bool = True
    # Issue 18: an authenticator app or a passkey added or removed.
    notify_factor_changed: bool = True
    # The outbox: how often each process looks for due mail, and the backoff between tries.
    mail_interval: float = Field(default=1.0, gt=0, le=60)
    mail_first_retry: float = Field(default=5.0, gt=0)
    mail_max_backoff: float = Field(default=600.0, gt=0)
    # Reset requests per address or name tried and per account (over it: the same 202,
    # no mail), and per client IP (over it: 429).
    rate_limit_mail: str = "5/hour;20/day"
    rate_limit_mail_ip: str = "10/minute;100/hour"
    # Second factors (issue 18): how long an mfa_token (and a WebAuthn challenge) lives,
    # whether every account must have one, and the WebAuthn relying party (id: the
    # issuer's host unless set; origin: the issuer's origin unless set).
    mfa_token_ttl: int = Field(default=300, ge=30, le=3600)
    require_mfa: bool = False
    webauthn_rp_id: str | None = None
    webauthn_origin: str | None = None
    webauthn_rp_name: str = "Tollgate"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
        return value

    @field_validator("ssf_push_allowed_urls", mode="before")
    @classmethod
    def _split_push_urls(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("reserved_names", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if value and value.partition("://")[0] not in ("smtp", "smtp+starttls", "smtps"):
            raise ValueError("TOLLGATE_SMTP_URL must start smtp://, smtp+starttls:// or smtps://")
        return value or None

    @model_validator(mode="after")
    def _default_issuer(self) -> Settings:
        if not self.issuer:
            # frozen model: the computed default is set once, here. A wildcard address
            # would put "0.0.0.0" into every token, which no client can reach: the
            # machine's name stands in (`tollgate serve` warns; set TOLLGATE_ISSUER).
            host = socket.gethostname() if self.host in WILDCARD_HOSTS else self.host
            if ":" in host:
                host = f"[{host}]"  # RFC 3986 §3.2.2: an IPv6 literal in brackets
            object.__setattr__(self, "issuer", f"http://{host}:{self.port}")
        return self

    @property
    def issuer_is_guessed(self) -> bool:
        """True when TOLLGATE_ISSUER was not set and the default stands in."""
        return "issuer" not in self.model_fields_set

    @property
    def refresh_audience(self) -> str:
        """Refresh tokens are addressed to the issuer itself, never to resource servers."""
        return self.issuer

    @property
    def longest_token_lifetime(self) -> int:
        """How long a token signed now may stay valid: a key retires only after this."""
        return max(self.access_ttl, self.refresh_ttl) + self.jwks_max_age

    @property
    def mail_enabled(self) -> bool:
        return self.smtp_url is not None

    @property
    def account_page_url(self) -> str:
        return self.account_url or self.issuer.rstrip("/") + "/"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
