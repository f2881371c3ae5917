"""at_hash (OIDC Core §3.1.3.6) and the claims each scope releases (OIDC Core §5.4)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime

from tollgate.store.records import UserRecord
from tollgate.tokens.id_tokens import at_hash, scope_claims


def test_at_hash_matches_the_oidc_core_example() -> None:
    # OpenID Connect Core 1.0, Appendix A.4: this access token, this at_hash (RS256).
    assert at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "RS256") == (
        "77QmUPtjPfzWtF2AnpK9RQ"
    )


def test_at_hash_follows_the_algorithms_hash() -> None:
    token = "an.access.token"
    sha512_half = hashlib.sha512(token.encode()).digest()[:32]
    assert at_hash(token, "EdDSA") == base64.urlsafe_b64encode(sha512_half).rstrip(b"=").decode()
    assert at_hash(token, "ES256") == at_hash(token, "RS256")
    assert len(at_hash(token, "RS256")) == 22


def user(email: str | None) -> UserRecord:
    now = datetime.now(UTC)
    return UserRecord(
        id=uuid.uuid4(),
        username="Minsu",
        username_key="minsu",
        username_skeleton="minsu",
        email=email,
        password_hash="x",
        scope="profile",
        disabled=False,
        created_at=now,
        password_changed_at=now,
    )


def test_each_scope_releases_its_claims_only() -> None:
    someone = user("minsu@example.org")
    assert scope_claims(someone, "openid") == {}
    assert scope_claims(someone, "openid profile") == {"preferred_username": "Minsu"}
    assert scope_claims(someone, "email openid") == {
        "email": "minsu@example.org",
        "email_verified": False,
    }
    # No address on file: nothing to release.
    assert scope_claims(user(None), "email") == {}


def test_email_verified_says_whether_the_user_opened_a_link_mailed_to_it() -> None:
    proven = dataclasses.replace(user("minsu@example.org"), email_verified_at=datetime.now(UTC))
    assert scope_claims(proven, "openid email") == {
        "email": "minsu@example.org",
        "email_verified": True,
    }
