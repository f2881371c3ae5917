"""A real Apache (Debian's apache2) with mod_auth_openidc, on loopback, for one test.

Apache runs as its own process in the foreground (`apache2 -f CONF -DFOREGROUND`) with a
configuration written into a fresh folder: its own ServerRoot, PidFile, mutexes and logs,
modules loaded from Debian's /usr/lib/apache2/modules; nothing system-wide is read or
written. mod_auth_openidc is an OpenID Connect relying party we did not write: it reads
Tollgate's discovery document, sends the browser to the authorization endpoint (code flow,
PKCE S256), exchanges the code with client_secret_basic, checks the ID token against the
JWKS, calls /userinfo, and logs out through the end_session_endpoint.

The site it serves (all files in the folder's htdocs):
- `/index.html`: public.
- `/protected/claims.html`: behind `AuthType openid-connect`; server-side includes echo
  the claims mod_auth_openidc passes as environment variables (OIDC_CLAIM_*).
- `/protected/callback`: the OIDCRedirectURI (mod_auth_openidc answers it itself);
  `/protected/callback?logout=<url>` ends the local session and sends the browser to
  Tollgate's end_session_endpoint with id_token_hint and post_logout_redirect_uri=<url>.
- `/loggedout.html`: public, where the logout lands.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.server import free_port

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
# mpm_event: Debian's default MPM. authn_core, authz_core, authz_user: AuthType and
# Require (valid-user).
# mime: content types. include: the server-side includes that print the claims.
NEEDED_MODULES = [
    "mpm_event",
    "authn_core",
    "authz_core",
    "authz_user",
    "mime",
    "include",
    "auth_openidc",
]

# The claims the protected page shows, each in <dd id="NAME">.
SHOWN_CLAIMS = ["preferred_username", "sub", "email", "sid", "iss"]
CLAIMS_PAGE = (
    """<!doctype html>
<html><head><meta charset="utf-8"><title>Protected by Apache</title></head>
<body>
<h1>Signed in through Apache mod_auth_openidc</h1>
<dl>
"""
    + "".join(
        f'<dt>{name}</dt><dd id="{name}"><!--#echo var="OIDC_CLAIM_{name}" --></dd>\n'
        for name in SHOWN_CLAIMS
    )
    + """<dt>REMOTE_USER</dt><dd id="remote_user"><!--#echo var="REMOTE_USER" --></dd>
</dl>
<p><a id="logout" href="/protected/callback?logout=LOGOUT_TARGET">Log out</a></p>
</body></html>
"""
)


@dataclass
class Apache:
    """An Apache site: its port, base URL and pages, and while it runs its folder (logs
    in error.log). Made before it runs, so that the client can be registered with its
    redirect URI first."""

    port: int
    folder: Path | None = None

    @classmethod
    def on_free_port(cls) -> Apache:
        return cls(free_port())

    @property
    def base(self) -> str:
        # localhost, not 127.0.0.1: another site than Tollgate's for the browser's cookies.
        return f"http://localhost:{self.port}"

    @property
    def protected(self) -> str:
        return f"{self.base}/protected/claims.html"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base}/protected/callback"

    @property
    def logged_out(self) -> str:
        return f"{self.base}/loggedout.html"

    @property
    def logout(self) -> str:
        return f"{self.redirect_uri}?logout={quote(self.logged_out, safe='')}"

    def error_log(self) -> str:
        path = self.folder / "error.log" if self.folder else None
        return path.read_text() if path is not None and path.exists() else ""


def apache_binary() -> str:
    if not os.path.exists(APACHE) or not (MODULES / "mod_auth_openidc.so").exists():
        pytest.fail(
            "Apache with mod_auth_openidc is not installed; ./scripts/test installs"
            " Debian's apache2 and libapache2-mod-auth-openidc"
        )
    return APACHE


def openidc_config(
    *, provider: str, client_id: str, client_secret: str, redirect_uri: str, scope: str
) -> str:
    """mod_auth_openidc's part of the configuration: Tollgate as the provider (README
    "Sign in with Tollgate from another app" shows the same lines)."""
    return f"""
OIDCProviderMetadataURL {provider}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI {redirect_uri}
OIDCCryptoPassphrase {secrets.token_urlsafe(32)}
OIDCPKCEMethod S256
OIDCScope "{scope}"
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRemoteUserClaim preferred_username
OIDCPassClaimsAs environment
"""


def apache_config(folder: Path, port: int, openidc: str) -> str:
    modules = "\n".join(
        f"LoadModule {name}_module {MODULES / f'mod_{name}.so'}" for name in NEEDED_MODULES
    )
    htdocs = folder / "htdocs"
    # As root, Apache's children must run as someone else (it refuses to serve as root).
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    return f"""
ServerRoot {folder}
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {folder}/apache2.pid
DefaultRuntimeDir {folder}
Mutex file:{folder} default
ErrorLog {folder}/error.log
LogLevel warn auth_openidc:info
{user}{modules}
TypesConfig /etc/mime.types
AddType text/html .html
DocumentRoot {htdocs}
<Directory />
    Require all denied
</Directory>
<Directory {htdocs}>
    Require all granted
</Directory>
<Directory {htdocs}/protected>
    Options +Includes
    AddOutputFilter INCLUDES .html
</Directory>
{openidc}
<Location /protected/>
    AuthType openid-connect
    Require valid-user
</Location>
"""


@contextmanager
def running_apache(
    apache: Apache,
    *,
    provider: str,
    client_id: str,
    client_secret: str,
    keep_log: Path,
    scope: str = "openid profile email",
) -> Iterator[Apache]:
    """Run the site with mod_auth_openidc signing in at `provider` (Tollgate's base URL)
    as that client. Its error log is copied to `keep_log` when it stops."""
    binary = apache_binary()
    # Not under pytest's tmp folders: those are private to root, and Apache's children
    # run as www-data.
    folder = apache.folder = Path(tempfile.mkdtemp(prefix="tollgate-apache-"))
    folder.chmod(0o755)
    try:
        write_site(apache, folder, provider, client_id, client_secret, scope)
        with serving(binary, apache, folder):
            yield apache
    finally:
        keep_log.write_text(apache.error_log())
        shutil.rmtree(folder, ignore_errors=True)
        apache.folder = None


def write_site(
    apache: Apache, folder: Path, provider: str, client_id: str, client_secret: str, scope: str
) -> None:
    htdocs = folder / "htdocs"
    (htdocs / "protected").mkdir(parents=True)
    (htdocs / "index.html").write_text("<!doctype html><title>Public</title><h1>Public page</h1>")
    (htdocs / "loggedout.html").write_text(
        "<!doctype html><title>Logged out</title><h1>You are logged out</h1>"
    )
    (htdocs / "protected" / "claims.html").write_text(
        CLAIMS_PAGE.replace("LOGOUT_TARGET", quote(apache.logged_out, safe=""))
    )
    openidc = openidc_config(
        provider=provider,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=apache.redirect_uri,
        scope=scope,
    )
    (folder / "apache2.conf").write_text(apache_config(folder, apache.port, openidc))


@contextmanager
def serving(binary: str, apache: Apache, folder: Path) -> Iterator[None]:
    """apache2 in the foreground with the folder's configuration, until it answers."""
    # Debian's apache2ctl reads /etc/apache2/envvars; run directly, apache2 needs none.
    with (folder / "stdout.log").open("wb") as output:
        process = subprocess.Popen(
            [binary, "-f", str(folder / "apache2.conf"), "-DFOREGROUND"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"},
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{apache.port}/index.html", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = (folder / "stdout.log").read_text()
                    raise RuntimeError(
                        f"Apache did not start:\n{output}\n{apache.error_log()}"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        # SIGTERM is Apache's "stop now" (SIGINT is not one of its signals).
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
