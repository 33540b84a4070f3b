"""Settings for benchmarks: the production settings module, read from the environment the benchmark sets,
with one extra URLconf for the baseline view. Nothing here changes the product's behaviour."""

from __future__ import annotations

from controlplane.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
