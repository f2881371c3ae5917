"""A real SMTP server (aiosmtpd) as its own process, writing each mail it accepts as one
file (`<time>-<n>.eml`, the message as received) into a folder: what the tests read mail from.

    python -m tests.support.smtp_sink --port 2525 --folder /tmp/mail [--tls starttls|implicit
        --cert cert.pem --key key.pem] [--auth user:password]

Started and stopped by tests/support/smtp.py.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import ssl
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


class Sink:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._numbers = itertools.count(1)

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # A mailbox that does not exist, for the tests of a permanent refusal.
        if address.startswith("refused"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        # Named by the time received: in order, and unique across restarts of the sink.
        name = f"{time.time_ns():020d}-{next(self._numbers):05d}"
        data = envelope.original_content or b""
        partial = self._folder / f".{name}.part"
        partial.write_bytes(data)
        partial.rename(self._folder / f"{name}.eml")  # whole, or not there at all
        return "250 Message accepted for delivery"


def authenticator(expected: str) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth: Any
    ) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (
            f"{auth.login.decode()}:{auth.password.decode()}" == expected
        )
        return AuthResult(success=ok)

    return check


async def serve(args: argparse.Namespace, folder: Path) -> None:
    handler = Sink(folder)
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    kwargs: dict[str, Any] = {"hostname": "sink.test", "ident": "tollgate test sink"}
    if args.tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        kwargs.update(
            authenticator=authenticator(args.auth),
            auth_required=True,
            # Implicit TLS: the whole connection is TLS, which aiosmtpd cannot tell.
            auth_require_tls=args.tls == "starttls",
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **kwargs),
        host="127.0.0.1",
        port=args.port,
        ssl=context if args.tls == "implicit" else None,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--tls", choices=["starttls", "implicit"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args, folder))


if __name__ == "__main__":
    main()
