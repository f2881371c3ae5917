"""Tollgate: a self-hostable JWT authentication server."""

__version__ = "0.1.0"
