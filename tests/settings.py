"""Settings for the test suite: the production settings module, fed a test environment.

It fills in variables a developer's shell would not have; the few settings it changes below say why. Two real
PostgreSQL databases are configured so the region router is tested across separate databases: EU content
goes to its own database, every other region falls back to the default one.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("PERSONAL_DATA_HASH_KEY", "test-personal-data-hash-key-" + "y" * 20)
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtms")
os.environ.setdefault(
    "REGION_DATABASES", '{"eu-central": "postgres://postgres@127.0.0.1:5432/rtms_eu", "*": "default"}'
)
# TEST_RUN_ID lets two test runs share one machine (say, two checkouts): each gets its own test databases,
# and the caller gives each its own REDIS_URL and E2E_REDIS_URL databases.
TEST_RUN_ID = os.environ.get("TEST_RUN_ID", "")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("ZOOM_ACCOUNT_ID", "test-account")
# Two separate Zoom apps, as in production; zoomsim in the tests is configured with the same values.
os.environ.setdefault("ZOOM_CLIENT_ID", "test-rtms-client-id")
os.environ.setdefault("ZOOM_CLIENT_SECRET", "test-rtms-client-secret")
os.environ.setdefault("ZOOM_WEBHOOK_SECRET_TOKEN", "test-webhook-secret-token")
os.environ.setdefault("ZOOM_S2S_CLIENT_ID", "test-s2s-client-id")
os.environ.setdefault("ZOOM_S2S_CLIENT_SECRET", "test-s2s-client-secret")
os.environ.setdefault("ZOOM_EVENT_SUBSCRIPTION_ID", "test-subscription")
# zoomsim serves RTMS on localhost (wss://, with its test CA) or 127.0.0.1 (ws://): the only place besides
# the demo that widens the RTMS server allowlist and allows ws:// (rtms/zoom/server_urls.py).
os.environ.setdefault("RTMS_SERVER_HOSTS", "*.zoom.us,localhost,127.0.0.1")
os.environ.setdefault("RTMS_ALLOW_PLAIN_WS", "true")
# Every scrape reads the database afresh, so a test sees the rows it made (the test of the interval sets
# its own).
os.environ.setdefault("METRICS_DATABASE_INTERVAL_SECONDS", "0")
os.environ.setdefault("DOTENV_PATH", "/nonexistent/.env")  # a developer's .env must not leak into tests

from controlplane.settings import *  # noqa: E402,F403

# Static files: the manifest storage needs collectstatic, which tests do not run.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (WhiteNoise warns about a missing root)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in admin tests
# Tests import the ASGI app while collecting, when pytest-django blocks the database; the processes the
# end-to-end tests start run controlplane.settings and check (tests/integration/test_region_storage.py).
REGION_STORAGE_CHECK_AT_STARTUP = False

if TEST_RUN_ID:
    for _conf in DATABASES.values():  # noqa: F405
        _conf["TEST"] = {**dict(_conf.get("TEST") or {}), "NAME": f"test_{_conf['NAME']}_{TEST_RUN_ID}"}  # type: ignore[call-overload]
