from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import sim_config
from zoomsim.testing import SimServer


@pytest.fixture
def sim(settings: Any) -> Iterator[SimServer]:
    """An in-process zoomsim sharing the product's test credentials; settings point at it."""
    with SimServer(sim_config()) as server:
        settings.ZOOM_API_BASE_URL = f"{server.base_url}/v2"
        settings.ZOOM_OAUTH_TOKEN_URL = f"{server.base_url}/oauth/token"
        settings.ZOOM_EVENTS_WS_URL = server.base_url.replace("http", "ws", 1) + "/ws"
        yield server
