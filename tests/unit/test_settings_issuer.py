"""The default issuer never puts a wildcard address into tokens."""

import socket

import pytest

from tollgate.settings import Settings


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])  # noqa: S104
def test_wildcard_host_gives_the_machines_name(host: str) -> None:
    settings = Settings(host=host, port=9000)
    assert settings.issuer == f"http://{socket.gethostname()}:9000"
    assert settings.issuer_is_guessed


def test_loopback_host_is_used_as_is() -> None:
    assert Settings(host="127.0.0.1", port=8000).issuer == "http://127.0.0.1:8000"
    assert Settings(host="::1", port=8000).issuer == "http://[::1]:8000"


def test_a_set_issuer_is_never_replaced() -> None:
    settings = Settings(host="0.0.0.0", issuer="https://auth.example.com")  # noqa: S104
    assert settings.issuer == "https://auth.example.com"
    assert not settings.issuer_is_guessed
