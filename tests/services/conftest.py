from collections.abc import AsyncIterator

import pytest

from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings


@pytest.fixture
async def services(settings: Settings, hasher: PasswordHasher) -> AsyncIterator[Services]:
    built = Services.build(settings, hasher)
    await built.start()
    yield built
    await built.close()
