"""What every benchmark script shares: a production-like environment for product processes, and Redis."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import redis


def production_env(**overrides: str) -> dict[str, str]:
    """DEBUG off, no .env, nothing else inherited that settings read; ``overrides`` on top."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        {
            "DOTENV_PATH": "/nonexistent/.env",  # a developer's .env must not leak in
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-" + "x" * 20,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            # INFO logs one JSON line per event; WARNING keeps logging out of the measurement.
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def redis_flush(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
