"""The SMTP server the tests read mail from: aiosmtpd in its own process
(tests/support/smtp_sink.py), one file per mail received.

Tests read a mail as a person would: the text part, and the link in it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from tests.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https?://\S+#(reset|verify)=([A-Za-z0-9_\-]+)")


class SmtpSink:
    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        *,
        tls: str | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        auth: str | None = None,
    ) -> None:
        self.folder = folder
        self.port = port or free_port()
        self._tls = tls
        self._cert = cert
        self._key = key
        self._auth = auth
        self._process: subprocess.Popen[bytes] | None = None
        self._log = folder.with_suffix(".smtp.log")

    @property
    def url(self) -> str:
        scheme = {"starttls": "smtp+starttls", "implicit": "smtps"}.get(self._tls or "", "smtp")
        auth = f"{self._auth}@" if self._auth else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        command = [sys.executable, "-m", "tests.support.smtp_sink"]
        command += ["--port", str(self.port), "--folder", str(self.folder)]
        if self._tls:
            command += ["--tls", self._tls, "--cert", str(self._cert), "--key", str(self._key)]
        if self._auth:
            command += ["--auth", self._auth]
        with self._log.open("a") as log:
            self._process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the SMTP sink exited:\n{self._log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError as exc:
                if time.monotonic() > deadline:
                    log = self._log.read_text()
                    raise RuntimeError(f"the SMTP sink did not start:\n{log}") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def messages(self) -> list[EmailMessage]:
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found

    def _matching(self, to: str | None, count: int) -> list[EmailMessage] | None:
        found = [
            m for m in self.messages() if to is None or str(m["To"]).casefold() == to.casefold()
        ]
        return found if len(found) >= count else None

    def wait(
        self, to: str | None = None, count: int = 1, timeout: float = 20
    ) -> list[EmailMessage]:
        """The mails to `to` once there are `count` of them (blocking: e2e tests)."""
        deadline = time.monotonic() + timeout
        while (found := self._matching(to, count)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {count} mail(s) to {to} within {timeout} s: {self.messages()}"
                )
            time.sleep(0.05)
        return found

    async def arrived(
        self, to: str | None = None, count: int = 1, within: float = 20
    ) -> list[EmailMessage]:
        """`wait` for in-process tests: the app's sender runs on this event loop."""
        deadline = time.monotonic() + within
        timeout = within
        while (found := self._matching(to, count)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {count} mail(s) to {to} within {timeout} s: {self.messages()}"
                )
            await asyncio.sleep(0.05)
        return found


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("html",))
    assert part is not None
    content: str = part.get_content()
    return content


def link_in(mail: EmailMessage) -> tuple[str, str, str]:
    """The link a person would open: (the whole link, "reset" or "verify", the token)."""
    found = LINK.search(text_of(mail))
    assert found is not None, text_of(mail)
    return found.group(0), found.group(1), found.group(2)
