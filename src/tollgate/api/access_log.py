"""One JSON line per request on stderr, written in batches.

The logging module writes and flushes each record on its own, which costs more than the
whole cached token check; here lines collect in memory and go out when 256 have
gathered, or at the latest every second (and at shutdown).
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import suppress
from typing import TextIO

BATCH_LINES = 256
FLUSH_SECONDS = 1.0


class AccessLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lines: list[str] = []

    def write(
        self,
        request_id: str,
        method: str,
        path: str,
        route: str,
        status: int,
        elapsed: float,
        client: tuple[str, int] | None,
    ) -> None:
        self._lines.append(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "ip": client[0] if client else None,
                },
                ensure_ascii=False,
            )
        )
        if len(self._lines) >= BATCH_LINES:
            self.flush()

    def auth_hit(self, request_id: str, elapsed: float, client: tuple[str, int] | None) -> None:
        """The cached GET /auth answer: same line as write(), formatted without json.dumps
        (every part is known-safe: a validated request id, constants, an IP address)."""
        ip = f'"{client[0]}"' if client else "null"
        self._lines.append(
            f'{{"request_id": "{request_id}", "method": "GET", "path": "/auth", '
            f'"route": "/auth", "status": 200, "duration_ms": {round(elapsed * 1000, 2)}, '
            f'"ip": {ip}}}'
        )
        if len(self._lines) >= BATCH_LINES:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        stream = self._stream or sys.stderr
        stream.write("\n".join(self._lines) + "\n")
        stream.flush()
        self._lines.clear()

    async def run(self) -> None:
        """Flush every second until cancelled; then flush what is left."""
        try:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                self.flush()
        finally:
            with suppress(Exception):
                self.flush()
