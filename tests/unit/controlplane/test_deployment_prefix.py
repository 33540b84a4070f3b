"""Issue #19: two deployments on one Redis server never share a live channel (Redis pub/sub ignores the
database number). The default prefix names the deployment by its control database."""

from __future__ import annotations

import re

from controlplane.deployment import default_channel_layer_prefix


def _db(name: str, host: str = "db.internal", port: int = 5432) -> dict[str, object]:
    return {"NAME": name, "HOST": host, "PORT": port}


def test_processes_of_one_deployment_agree_on_the_prefix() -> None:
    assert default_channel_layer_prefix(_db("rtms")) == default_channel_layer_prefix(_db("rtms"))


def test_another_database_is_another_prefix_even_of_the_same_name_elsewhere() -> None:
    prefixes = {
        default_channel_layer_prefix(_db("rtms")),
        default_channel_layer_prefix(_db("rtms_staging")),
        default_channel_layer_prefix(_db("rtms", host="other.internal")),
        default_channel_layer_prefix(_db("rtms", port=5433)),
    }
    assert len(prefixes) == 4


def test_the_prefix_is_a_safe_channel_name_whatever_the_database_is_called() -> None:
    for name in ("rtms", "weird name/with:chars", "", "x" * 200):
        prefix = default_channel_layer_prefix(_db(name))
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,80}", prefix), prefix
        assert prefix.startswith("rtms-live.")
