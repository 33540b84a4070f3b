from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from tests.support import sim_config
from zoomsim.testing import SimServer


@pytest.fixture
def sim(settings: Any, request: pytest.FixtureRequest) -> Iterator[SimServer]:
    """An in-process zoomsim sharing the product's test credentials; settings point at it.

    The shared cache is emptied first: it holds the OAuth tokens and call budgets of the previous test's
    zoomsim, whose tokens this one never issued (a stale token costs a refused call and a retry, which a
    test counting Zoom calls would see). A test may override zoomsim's settings with
    ``@pytest.mark.parametrize("sim", [{...}], indirect=True)``."""
    cache.clear()
    with SimServer(sim_config(**getattr(request, "param", {}))) as server:
        settings.ZOOM_API_BASE_URL = f"{server.base_url}/v2"
        settings.ZOOM_OAUTH_TOKEN_URL = f"{server.base_url}/oauth/token"
        settings.ZOOM_EVENTS_WS_URL = server.base_url.replace("http", "ws", 1) + "/ws"
        yield server
