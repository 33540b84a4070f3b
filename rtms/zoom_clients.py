"""Builds Zoom clients from settings and the environment: the Django side of rtms/zoom/api.py."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from rtms.accounts import account_api_credentials
from rtms.models import ZoomAccount
from rtms.zoom.api import ZoomApi


class DjangoTokenCache:
    """Tokens in the shared cache (Redis), so every process of every host reuses one token per account."""

    def get(self, key: str) -> str | None:
        value = cache.get(key)
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        cache.set(key, value, timeout=ttl_seconds)

    def delete(self, key: str) -> None:
        cache.delete(key)


def zoom_api_for(account: ZoomAccount) -> ZoomApi:
    return ZoomApi(
        account_api_credentials(account),
        api_base_url=settings.ZOOM_API_BASE_URL,
        token_url=settings.ZOOM_OAUTH_TOKEN_URL,
        timeout_s=settings.ZOOM_HTTP_TIMEOUT.total_seconds(),
        refresh_margin_s=settings.ZOOM_TOKEN_REFRESH_MARGIN.total_seconds(),
        cache=DjangoTokenCache(),
    )
