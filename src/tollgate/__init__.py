"""Tollgate: a self-hostable JWT authentication server."""

from importlib.metadata import version

# The installed distribution's version: pyproject.toml is the one place it is written.
__version__ = version("tollgate")
