"""Which channel layer carries a region's live transcript text (settings.REGION_CHANNEL_LAYERS).

Unset, every region's text goes through the deployment's shared Redis (``REDIS_URL``). With it, a region
listed (or the ``*`` fallback) has a Redis of its own, in its jurisdiction: the gateway publishes the
region's segments there and the live page listens there. State changes (ids and state names, no content)
and the list page stay on the shared layer.
"""

from __future__ import annotations

from django.conf import settings

DEFAULT_ALIAS = "default"


def layer_alias_for(region_code: str | None) -> str:
    """The channel layer alias of the region's live text."""
    configured = settings.REGION_CHANNEL_LAYERS
    if region_code and region_code in configured:
        return "region_" + region_code.replace("-", "_")
    if region_code and "*" in configured:
        return "region_fallback"
    return DEFAULT_ALIAS
