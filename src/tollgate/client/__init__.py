"""A Python client that stays logged in: `httpx.Client(auth=TollgateAuth(...))`.

Needs only httpx; imports nothing of the server.
"""

from tollgate.client.auth import LoginFailed, SessionExpired, TollgateAuth

__all__ = ["LoginFailed", "SessionExpired", "TollgateAuth"]
