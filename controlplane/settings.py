"""Settings, read from the environment (12-factor). docs/configuration.md lists every variable.

A bad value stops the process at start-up with an ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from controlplane import timing
from controlplane.client_ip import trusted_networks
from controlplane.deployment import default_channel_layer_prefix
from controlplane.env import (
    env_bool,
    env_choice,
    env_int,
    env_json_object,
    env_list,
    env_seconds,
    env_str,
)
from controlplane.region_databases import RegionDatabasesError, parse_region_databases

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file fills in what the real environment does not set; the real environment always wins.
load_dotenv(os.environ.get("DOTENV_PATH", BASE_DIR / ".env"), override=False)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-only-for-debug" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is required unless DEBUG is on")
# The key of the keyed hash the control database keeps instead of a host's e-mail (rtms/personal.py), its
# own secret so that rotating SECRET_KEY (sessions, signing) leaves the hashes alone, and the reverse.
# During a rotation the previous key is still searched (docs/configuration.md).
PERSONAL_DATA_HASH_KEY = env_str(
    "PERSONAL_DATA_HASH_KEY", "insecure-development-hash-key-only-for-debug" if DEBUG else ""
)
if not PERSONAL_DATA_HASH_KEY:
    raise ImproperlyConfigured("PERSONAL_DATA_HASH_KEY is required unless DEBUG is on")
PERSONAL_DATA_HASH_KEY_PREVIOUS = env_str("PERSONAL_DATA_HASH_KEY_PREVIOUS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed for the client's address in
# audit rows (controlplane/client_ip.py); empty: the peer address, and the header is ignored.
TRUSTED_PROXIES = trusted_networks(env_list("TRUSTED_PROXIES", []))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

TIMING_PROFILE = env_choice("TIMING_PROFILE", "production", timing.PROFILES)


def _duration(name: str):  # type: ignore[no-untyped-def]
    return env_seconds(name, timing.default_seconds(name, TIMING_PROFILE))


# --- Durations (controlplane/timing.py has the table and the reasons) -------------------------------
STREAM_LEASE_TTL = _duration("STREAM_LEASE_TTL_SECONDS")
STREAM_LEASE_RENEW = _duration("STREAM_LEASE_RENEW_SECONDS")
EVENTS_LEASE_TTL = _duration("EVENTS_LEASE_TTL_SECONDS")
RECONCILE_LEASE_TTL = _duration("RECONCILE_LEASE_TTL_SECONDS")
RECONCILE_LEASE_HEARTBEAT = _duration("RECONCILE_LEASE_HEARTBEAT_SECONDS")
RECONCILE_INTERVAL = _duration("RECONCILE_INTERVAL_SECONDS")
RECONCILE_BUDGET_WINDOW = _duration("RECONCILE_BUDGET_WINDOW_SECONDS")
RECONCILE_RESTART_BACKOFF = _duration("RECONCILE_RESTART_BACKOFF_SECONDS")
RECONCILE_ERROR_BACKOFF = _duration("RECONCILE_ERROR_BACKOFF_SECONDS")
RTMS_START_REPLACES_WINDOW = _duration("RTMS_START_REPLACES_WINDOW_SECONDS")
RTMS_START_GRACE = _duration("RTMS_START_GRACE_SECONDS")
RTMS_STOP_SETTLE = _duration("RTMS_STOP_SETTLE_SECONDS")
RTMS_START_EVENT_WINDOW = _duration("RTMS_START_EVENT_WINDOW_SECONDS")
RTMS_RECONNECT_BACKOFF_INITIAL = _duration("RTMS_RECONNECT_BACKOFF_INITIAL_SECONDS")
RTMS_RECONNECT_BACKOFF_CAP = _duration("RTMS_RECONNECT_BACKOFF_CAP_SECONDS")
RTMS_SIGNALING_RECONNECT_WINDOW = _duration("RTMS_SIGNALING_RECONNECT_WINDOW_SECONDS")
RTMS_MEDIA_RECONNECT_WINDOW = _duration("RTMS_MEDIA_RECONNECT_WINDOW_SECONDS")
RTMS_KEEPALIVE_TIMEOUT = _duration("RTMS_KEEPALIVE_TIMEOUT_SECONDS")
RTMS_CONNECT_TIMEOUT = _duration("RTMS_CONNECT_TIMEOUT_SECONDS")
EVENTS_HEARTBEAT = _duration("EVENTS_HEARTBEAT_SECONDS")
EVENTS_BACKOFF_CAP = _duration("EVENTS_BACKOFF_CAP_SECONDS")
ZOOM_HTTP_TIMEOUT = _duration("ZOOM_HTTP_TIMEOUT_SECONDS")
ZOOM_TOKEN_REFRESH_MARGIN = _duration("ZOOM_TOKEN_REFRESH_MARGIN_SECONDS")
WEBHOOK_TIMESTAMP_TOLERANCE = _duration("WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS")
INBOX_SWEEP_INTERVAL = _duration("INBOX_SWEEP_INTERVAL_SECONDS")
INBOX_SWEEP_AFTER = _duration("INBOX_SWEEP_AFTER_SECONDS")
WORKER_STALL_AFTER = _duration("WORKER_STALL_AFTER_SECONDS")
CELERY_VISIBILITY_TIMEOUT = _duration("CELERY_VISIBILITY_TIMEOUT_SECONDS")
TRANSCRIPT_FLUSH_INTERVAL = _duration("TRANSCRIPT_FLUSH_INTERVAL_SECONDS")
RETENTION_INTERVAL = _duration("RETENTION_INTERVAL_SECONDS")
READINESS_TIMEOUT = _duration("READINESS_TIMEOUT_SECONDS")
LIVE_REAUTHORIZE = _duration("LIVE_REAUTHORIZE_SECONDS")
if CELERY_VISIBILITY_TIMEOUT.total_seconds() >= 60:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT_SECONDS must be under 60: a lost task must be redelivered inside "
        "Zoom's RTMS connect window"
    )
if RTMS_START_GRACE >= CELERY_VISIBILITY_TIMEOUT:
    # A delayed task waits unacknowledged in its worker: past the visibility timeout it would be redelivered.
    raise ImproperlyConfigured(
        "RTMS_START_GRACE_SECONDS must be shorter than CELERY_VISIBILITY_TIMEOUT_SECONDS"
    )
if STREAM_LEASE_TTL >= RTMS_MEDIA_RECONNECT_WINDOW:
    raise ImproperlyConfigured(
        "STREAM_LEASE_TTL_SECONDS must be shorter than RTMS_MEDIA_RECONNECT_WINDOW_SECONDS, or a dead "
        "gateway's streams could not be taken over in time"
    )

WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
TRANSCRIPT_FLUSH_MAX_ROWS = env_int("TRANSCRIPT_FLUSH_MAX_ROWS", 200, minimum=1)
# Transcript segments a gateway keeps in memory while its region database cannot be written (an outage
# shorter than the stream lease); beyond it the oldest are discarded and counted. ~1 KB each.
GATEWAY_BUFFER_MAX_SEGMENTS = env_int("GATEWAY_BUFFER_MAX_SEGMENTS", 100_000, minimum=1)
RECONCILE_METRICS_CALLS_PER_MINUTE = env_int("RECONCILE_METRICS_CALLS_PER_MINUTE", 10, minimum=1)
RECONCILE_MAX_RESTARTS = env_int("RECONCILE_MAX_RESTARTS", 5, minimum=1)
# Tries (route and apply each count one) before an inbox event is failed and shown instead of retried.
INBOX_MAX_ATTEMPTS = env_int("INBOX_MAX_ATTEMPTS", 10, minimum=2)
# Inbox rows never routed (quarantined, unknown event types, failed before routing) belong to no region's
# retention policy: their payloads go after this many days, or the shortest policy's period if shorter.
INBOX_UNROUTED_PAYLOAD_DAYS = env_int("INBOX_UNROUTED_PAYLOAD_DAYS", 14, minimum=1)
# rtms_app/status calls per second per account, spaced evenly across every process (rtms/zoom_pacing.py);
# below Zoom's limit of about 60/s, which other callers of the account may share.
ZOOM_RTMS_STATUS_CALLS_PER_SECOND = env_int("ZOOM_RTMS_STATUS_CALLS_PER_SECOND", 50, minimum=1)
# Threads one reconcile run applies its repairs on (create, route, start): start calls are paced above, so
# these only hide the database and HTTP round trips of each repair. Each holds a pooled connection.
RECONCILE_REPAIR_THREADS = env_int("RECONCILE_REPAIR_THREADS", 6, minimum=1)

# --- Zoom (two credential sets; rtms/zoom/credentials.py keeps them apart) ---------------------------
ZOOM_API_BASE_URL = env_str("ZOOM_API_BASE_URL", "https://api.zoom.us/v2").rstrip("/")
ZOOM_OAUTH_TOKEN_URL = env_str("ZOOM_OAUTH_TOKEN_URL", "https://zoom.us/oauth/token")
ZOOM_EVENTS_WS_URL = env_str("ZOOM_EVENTS_WS_URL", "wss://ws.zoom.us/ws")
# The secrets themselves are read from the environment at use time, never copied into settings,
# so that they cannot leak through a settings dump (Django's debug page, diffsettings).
ZOOM_ACCOUNT_ID = env_str("ZOOM_ACCOUNT_ID", "")
# CA bundle for the RTMS media servers' wss:// certificates; empty = the system trust store. Certificate
# verification is never switched off (tests point this at the simulator's test CA).
RTMS_CA_FILE = env_str("RTMS_CA_FILE", "")
# The hosts an event's server_urls may name (shell patterns), and whether ws:// (unencrypted) is allowed:
# anything else fails the stream (rtms/zoom/server_urls.py). Only the tests and the demo widen them.
RTMS_SERVER_HOSTS = env_list("RTMS_SERVER_HOSTS", ["*.zoom.us"])
RTMS_ALLOW_PLAIN_WS = env_bool("RTMS_ALLOW_PLAIN_WS", False)

# --- Storage ---------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtms")
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Under ASGI every request's sync code may run on a fresh thread, so persistent connections
# (CONN_MAX_AGE > 0) pile up until PostgreSQL refuses more (Django ticket #33497). The default is a
# per-process psycopg pool instead; DB_POOL_MAX_SIZE=0 turns it off (then DB_CONN_MAX_AGE applies).
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 10, minimum=0)
DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
if DB_POOL_MAX_SIZE and DB_CONN_MAX_AGE:
    raise ImproperlyConfigured("DB_CONN_MAX_AGE must be 0 while DB_POOL_MAX_SIZE is set (pooled connections)")
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT_SECONDS", 5, minimum=1)
# How long a request waits for a pooled connection. Every request thread has one to itself (below), so
# this is only ever reached while the database cannot be connected to: a webhook then gets its 503 well
# within Zoom's 3 s, instead of waiting out DB_CONNECT_TIMEOUT_SECONDS and timing out
# (tests/e2e/test_database_outage.py).
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT_SECONDS", 2, minimum=1)
# The web process serves HTTP requests on this many threads (controlplane/runtime/django_asgi.py); each uses
# at most one connection per database while it serves a request, so a pool smaller than this would keep
# requests waiting for connections.
WEB_REQUEST_THREADS = env_int("WEB_REQUEST_THREADS", 8, minimum=1)
# Blocks of streamed downloads the web process makes at once, however many downloads run: more threads at
# work only take the interpreter from the webhooks (controlplane/streaming.py).
DOWNLOAD_THREADS = env_int("DOWNLOAD_THREADS", 2, minimum=1)
# All downloads of one web process together send at most this many bytes a second (0: unbounded), so that
# the webhooks it also answers keep their latency (bench/downloads.py).
DOWNLOAD_BYTES_PER_SECOND = env_int("DOWNLOAD_BYTES_PER_SECOND", 64 * 1024 * 1024, minimum=0)
# ... and their reading threads use at most this share of one core (0: unbounded).
DOWNLOAD_CPU_PERCENT = env_int("DOWNLOAD_CPU_PERCENT", 20, minimum=0)
if DB_POOL_MAX_SIZE and DB_POOL_MAX_SIZE < WEB_REQUEST_THREADS + DOWNLOAD_THREADS:
    raise ImproperlyConfigured(
        f"DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE}) must be at least WEB_REQUEST_THREADS + DOWNLOAD_THREADS "
        f"({WEB_REQUEST_THREADS} + {DOWNLOAD_THREADS}): each request thread of the web process, and each "
        "download block being made, may hold a pooled connection"
    )


if DB_POOL_MAX_SIZE and DB_POOL_MAX_SIZE <= RECONCILE_REPAIR_THREADS:
    raise ImproperlyConfigured(
        f"DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE}) must be larger than RECONCILE_REPAIR_THREADS "
        f"({RECONCILE_REPAIR_THREADS}): each repair thread holds a pooled connection, and the run its own"
    )


def _database(url: str, variable: str) -> dict[str, object]:
    try:
        config = dict(
            # Health checks on: a pooled connection is checked as it is taken from the pool, so after a
            # database restart or pg_terminate_backend the dead ones are replaced instead of each failing
            # one request, renewal or flush (tests/e2e/test_database_outage.py).
            dj_database_url.parse(url, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"{variable}: {exc}") from None
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{variable} must be a PostgreSQL URL (postgres://...)")
    options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
    options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
    if DB_POOL_MAX_SIZE:
        options["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX_SIZE, "timeout": DB_POOL_TIMEOUT}
    config["OPTIONS"] = options
    return config


DATABASES: dict[str, dict[str, object]] = {"default": _database(DATABASE_URL, "DATABASE_URL")}
try:
    REGION_DATABASES = parse_region_databases(env_json_object("REGION_DATABASES", {}), DATABASE_URL)
except RegionDatabasesError as exc:
    raise ImproperlyConfigured(str(exc)) from None
for _alias, _url in REGION_DATABASES.extra_aliases.items():
    DATABASES[_alias] = _database(_url, "REGION_DATABASES")
DATABASE_ROUTERS = ["regions.db_router.RegionContentRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATIC_URL = "static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "rtms",
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}
# Redis pub/sub: a group message is published once and each web process hands it to its own consumers in
# memory, instead of one Redis list entry per watching client (bench/fanout.py: 200 clients on one meeting).
# Delivery is at most once, which the live page allows for: a consumer that sees a gap in seq reads the
# missing lines from the region's database (live/consumers.py).
#
# Redis pub/sub ignores the database number in REDIS_URL: two deployments on one Redis server (staging beside
# production, two regional stacks) share every channel whose prefix they share, and a live page would show
# the other deployment's transcript lines (issue #19). So the prefix names the deployment: by default its
# control database (host, port and name, which all its processes share). Set CHANNEL_LAYER_PREFIX where
# the processes of one deployment spell DATABASE_URL differently.
CHANNEL_LAYER_PREFIX = env_str("CHANNEL_LAYER_PREFIX", "") or default_channel_layer_prefix(
    DATABASES["default"]
)
if not re.fullmatch(r"[A-Za-z0-9._-]{1,80}", CHANNEL_LAYER_PREFIX):
    raise ImproperlyConfigured("CHANNEL_LAYER_PREFIX: 1-80 letters, digits, '.', '_' or '-'")
CHANNEL_LAYERS: dict[str, dict[str, object]] = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
    }
}
# The live pages' transcript text can travel through a Redis of the meeting's region instead of the
# deployment's shared one: region code (or "*") -> Redis URL. Unset, every region's text goes through
# REDIS_URL (docs/deploy.md, "Live transcripts and Redis"). live/layers.py picks the layer.
REGION_CHANNEL_LAYERS = env_json_object("REGION_CHANNEL_LAYERS", {})
for _code, _url in REGION_CHANNEL_LAYERS.items():
    if _code != "*" and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", str(_code)):
        raise ImproperlyConfigured(f"REGION_CHANNEL_LAYERS: {_code!r} is not a region code (or '*')")
    if not isinstance(_url, str) or not _url.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured(f"REGION_CHANNEL_LAYERS: region {_code!r} needs a redis:// URL")
    CHANNEL_LAYERS["region_fallback" if _code == "*" else "region_" + str(_code).replace("-", "_")] = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [_url], "prefix": CHANNEL_LAYER_PREFIX},
    }

# --- Django ----------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files, not a CDN
    "channels",
    "regions",
    "rtms",
    "reconciler",
    "live",
    "compliance",
    "api",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "controlplane.csp.AdminContentSecurityPolicy",
]
ROOT_URLCONF = "controlplane.urls"
ASGI_APPLICATION = "controlplane.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- Security (manage.py check --deploy is clean with DEBUG off) -----------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = WEBHOOK_MAX_BODY_BYTES

# --- REST framework --------------------------------------------------------------------------------
# API clients send a bearer token (api/authentication.py); staff use their admin session. The bearer
# scheme comes first so an unauthenticated request gets 401 with a challenge, not 403.
_THROTTLE_RATE = r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$"
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/minute")
API_STAFF_THROTTLE_RATE = env_str("API_STAFF_THROTTLE_RATE", "600/minute")
# API tokens expire this long after they are issued (created or rotated); a rotation keeps the old token
# working for the overlap, so a client can switch without downtime (0: the old one stops at once).
API_TOKEN_LIFETIME_DAYS = env_int("API_TOKEN_LIFETIME_DAYS", 90, minimum=1)
API_TOKEN_ROTATION_OVERLAP_HOURS = env_int("API_TOKEN_ROTATION_OVERLAP_HOURS", 24, minimum=0)
# Failed bearer authentications per source address per minute; beyond it, 429 until the minute ends.
API_AUTH_FAILURES_PER_MINUTE = env_int("API_AUTH_FAILURES_PER_MINUTE", 20, minimum=1)
# Heavy downloads (WAV, transcript exports, the audit CSV) one API client or member of staff runs at once;
# one more is answered 429 (controlplane/streaming.py).
DOWNLOADS_PER_CLIENT = env_int("DOWNLOADS_PER_CLIENT", 2, minimum=1)
# The web process's /metrics figures read from the database are read at most this often; and, instead of
# the OPERATIONS_TOKEN, a port of its own for an internal scraper (0: none), bound to METRICS_ADDRESS.
METRICS_DATABASE_INTERVAL_SECONDS = env_int("METRICS_DATABASE_INTERVAL_SECONDS", 15, minimum=0)
METRICS_PORT = env_int("METRICS_PORT", 0, minimum=0)
METRICS_ADDRESS = env_str("METRICS_ADDRESS", "127.0.0.1")
for _name, _rate in (
    ("API_THROTTLE_RATE", API_THROTTLE_RATE),
    ("API_STAFF_THROTTLE_RATE", API_STAFF_THROTTLE_RATE),
):
    if not re.match(_THROTTLE_RATE, _rate):
        raise ImproperlyConfigured(f"{_name} must look like 600/minute (per second/minute/hour/day): {_rate}")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsApiPrincipal"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiClientThrottle", "api.throttling.StaffThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.IdCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    # ?format= names an export format (api/views/meetings.py), not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RTMS control plane API",
    "DESCRIPTION": "Meetings, streams, transcripts and audio of the regions your API client may see; "
    "how to get a token and examples: docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The documentation UIs' files from drf-spectacular-sidecar (static files), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SECURITY": [{"bearerAuth": []}],
    "ENUM_NAME_OVERRIDES": {
        "MeetingStateEnum": "rtms.models.meetings.MEETING_STATE_CHOICES",
        "StreamStateEnum": "rtms.models.meetings.STREAM_STATE_CHOICES",
        "RoutingStatusEnum": "rtms.models.meetings.ROUTING_STATUS_CHOICES",
        "InboxStatusEnum": "rtms.models.inbox.InboxStatus",
        "ReconcileRunStatusEnum": "reconciler.models.RunStatus",
    },
}

# --- Celery (JSON only, late acks; docs/deploy.md explains the queues) -----------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# kombu's Redis transport with one fix: a busy worker must survive losing Redis
# (controlplane/runtime/kombu_redis.py; kombu's own transport on a kombu it was not written against).
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "controlplane.runtime.kombu_redis:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Celery keeps a result backend per thread unless told it is thread-safe, and Django's ASGI handler runs
# every request on a new thread: each webhook built the (disabled) backend again (docs/benchmarks.md,
# "Figures behind the code"). The disabled backend holds no state, so one for the process is safe.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "control"
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 90, minimum=1)
# kombu sweeps unacknowledged messages back to their queues only every unacked_restore_interval x
# unacked_restore_throttle seconds (10 x 10 by default): a task whose worker was killed came back after up to
# 100 s, past Zoom's 60 s window, whatever the visibility timeout (tests/e2e/test_worker_faults.py). Every
# fifth of the visibility timeout, each sweep scanning, redelivers it within 1.2 visibility timeouts.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT.total_seconds(),
    "unacked_restore_interval": max(1, int(CELERY_VISIBILITY_TIMEOUT.total_seconds() / 5)),
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Keep our JSON log lines in workers too (Celery would otherwise replace the root logger's format).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic tasks expire at their period, so a stalled beat or worker never piles them up.
CELERY_BEAT_SCHEDULE = {
    "reconcile": {
        "task": "reconciler.fan_out",
        "schedule": RECONCILE_INTERVAL.total_seconds(),
        # On the reconcile queue with the runs it fans out: repairs must not wait behind a burst of events.
        "options": {"queue": "reconcile", "expires": RECONCILE_INTERVAL.total_seconds()},
    },
    "sweep-inbox": {
        "task": "rtms.sweep_inbox",
        "schedule": INBOX_SWEEP_INTERVAL.total_seconds(),
        "options": {"queue": "control", "expires": INBOX_SWEEP_INTERVAL.total_seconds()},
    },
    "retention": {
        "task": "compliance.retention_sweep",
        "schedule": RETENTION_INTERVAL.total_seconds(),
        "options": {"queue": "control", "expires": RETENTION_INTERVAL.total_seconds()},
    },
}
CELERY_ENABLE_UTC = True

# --- Logging: structured event names with ids as fields, one JSON object per line ------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", frozenset({"DEBUG", "INFO", "WARNING", "ERROR"}))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "controlplane.logformat.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
