"""Checks of the SQLite store the shared contract suite (tests/store/) cannot make."""
