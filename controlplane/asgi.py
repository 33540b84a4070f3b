"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels routes of the live pages."""

from __future__ import annotations

import gc
import os

import django

from controlplane.health import serve_metrics_on_internal_port
from controlplane.runtime.daphne_backpressure import pace_daphne_replies
from controlplane.runtime.django_asgi import handler_class

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
# Django must be set up before anything imports models (the consumers do). What get_asgi_application()
# does, with this project's HTTP handler (controlplane/runtime/django_asgi.py).
django.setup(set_prefix=False)
django_asgi_app = handler_class()()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from live.routing import websocket_urlpatterns  # noqa: E402
from regions.startup import refuse_unstorable_regions  # noqa: E402

# A streamed download waits for its client instead of piling up in daphne's send buffer.
pace_daphne_replies()
# /metrics without the token, on a port of its own, when METRICS_PORT is set.
serve_metrics_on_internal_port()

# Residency fails closed: no web process serves while an active region has no content database.
refuse_unstorable_regions("web")

# Everything loaded so far lives as long as the process. Moving it out of the collector's reach keeps
# full collections short; without this they paused request handling for tens of milliseconds under load.
gc.freeze()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
