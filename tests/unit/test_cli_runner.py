"""Admin commands name the services they use; the runner hands over exactly those."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tollgate.cli.runner import provide
from tollgate.services.container import Services


async def test_an_action_gets_the_services_and_stores_it_names(app: FastAPI) -> None:
    services: Services = app.state.services
    assert provide(services, "accounts") is services.accounts
    assert provide(services, "settings") is services.settings
    assert provide(services, "key_store") is services.stores.keys
    assert provide(services, "session_store") is services.stores.sessions
    assert provide(services, "database") is services.stores.database
    with pytest.raises(TypeError, match="no service named 'services'"):
        provide(services, "services")
