"""A web app whose users sign in with Tollgate (OpenID Connect, authorization code + PKCE).

It asks for `openid profile email` and one optional scope, `notes:read`, which the user may
leave unchecked on Tollgate's consent page. After signing in it shows what it got: the ID
token's claims (checked by Authlib against Tollgate's JWKS, with the nonce), the scopes
granted, and the answer of a resource that needs `notes:read` (200, or 403 without it).
That resource, `GET /api/notes`, is part of this app for brevity and checks the access
token with `tollgate.verify` like any other service would.

Register it once, then run it beside Tollgate (see README.md in this folder):

    tollgate clients create notes-app \\
        --redirect-uri http://127.0.0.1:8002/callback \\
        --post-logout-redirect-uri http://127.0.0.1:8002/logged-out \\
        --scope "openid profile email notes:read"
    OIDC_APP_ISSUER=http://127.0.0.1:8000 OIDC_APP_CLIENT_ID=... OIDC_APP_CLIENT_SECRET=... \\
        flask --app examples.oidc_app.app run --port 8002
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, g, redirect, render_template_string, session, url_for
from werkzeug.wrappers import Response

from tollgate.verify import Verifier
from tollgate.verify.flask import require_token

SCOPE = "openid profile email notes:read"
OPTIONAL_SCOPE = "notes:read"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notes app</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Notes app</h1>
{% if signed_in %}
  <p id="greeting">Signed in as <strong>{{ claims.get("preferred_username") }}</strong>
    with Tollgate.</p>
  <h2>Claims of the ID token</h2>
  <dl id="claims">
  {% for name, value in claims.items() %}
    <dt>{{ name }}</dt><dd data-claim="{{ name }}">{{ value }}</dd>
  {% endfor %}
  </dl>
  <h2>Scopes granted</h2>
  <p id="scopes">{{ scopes }}</p>
  <h2>GET /api/notes (needs {{ optional }})</h2>
  <p>Answer: <span id="notes-status">{{ notes_status }}</span></p>
  <pre id="notes-body">{{ notes_body }}</pre>
  <p><a id="sign-out" href="{{ url_for('logout') }}">Sign out</a></p>
{% else %}
  {% if message %}<p id="message">{{ message }}</p>{% endif %}
  <p><a id="sign-in" href="{{ url_for('login') }}">Sign in with Tollgate</a></p>
{% endif %}
</body></html>
"""


def create_app() -> Flask:
    issuer = os.environ.get("OIDC_APP_ISSUER", "http://127.0.0.1:8000").rstrip("/")
    app = Flask(__name__)
    # Signs the cookie that carries the sign-in's state, nonce and PKCE verifier, and the
    # key of the signed-in user below.
    app.secret_key = os.environ.get("OIDC_APP_SECRET_KEY") or secrets.token_urlsafe(32)
    oauth = OAuth(app)
    oauth.register(
        "tollgate",
        client_id=os.environ["OIDC_APP_CLIENT_ID"],
        client_secret=os.environ["OIDC_APP_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
    )
    tollgate: Any = oauth.tollgate
    # Signed-in users' tokens, by a random key kept in the session cookie. In memory: the
    # example is about signing in, not storage (and tokens stay out of the cookie).
    signed_in: dict[str, dict[str, Any]] = {}
    verifier = Verifier(issuer)

    def current() -> dict[str, Any] | None:
        key = session.get("user")
        return signed_in.get(key) if isinstance(key, str) else None

    @app.get("/")
    def index() -> str:
        token = current()
        if token is None:
            return render_template_string(PAGE, signed_in=False, message=session.pop("msg", ""))
        notes = requests.get(
            url_for("notes", _external=True),
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
        return render_template_string(
            PAGE,
            signed_in=True,
            claims=token["userinfo"],
            scopes=token.get("scope", ""),
            optional=OPTIONAL_SCOPE,
            notes_status=notes.status_code,
            notes_body=notes.text,
        )

    @app.get("/login")
    def login() -> Response:
        response: Response = tollgate.authorize_redirect(url_for("callback", _external=True))
        return response

    @app.get("/callback")
    def callback() -> Response:
        try:
            # Exchanges the code (client_secret_basic, code_verifier) and validates the ID
            # token: signature against the JWKS, iss, aud, exp, nonce, at_hash.
            token = tollgate.authorize_access_token()
        except OAuthError as refused:  # e.g. "access_denied" when the user chose Deny
            session["msg"] = f"Not signed in: {refused.error}"
            return redirect(url_for("index"))
        key = secrets.token_urlsafe(16)
        signed_in[key] = dict(token)
        session["user"] = key
        return redirect(url_for("index"))

    @app.get("/logout")
    def logout() -> Response:
        token = signed_in.pop(session.pop("user", ""), None)
        if token is None:
            return redirect(url_for("index"))
        # RP-initiated logout: Tollgate ends its browser session too, then comes back.
        response: Response = tollgate.logout_redirect(
            post_logout_redirect_uri=url_for("logged_out", _external=True),
            id_token_hint=token.get("id_token"),
        )
        return response

    @app.get("/logged-out")
    def logged_out() -> Response:
        try:
            tollgate.validate_logout_response()  # the state we sent comes back
            session["msg"] = "Signed out of the app and of Tollgate."
        except OAuthError:
            session["msg"] = "Signed out of the app (Tollgate's answer did not match ours)."
        return redirect(url_for("index"))

    @app.get("/api/notes")
    @require_token(verifier, OPTIONAL_SCOPE)
    def notes() -> dict[str, Any]:
        claims = g.token_claims
        return {"owner": claims.sub, "notes": [f"A note of {claims.username or claims.sub}"]}

    return app
