"""The API's documentation pages (``/api/docs/`` Swagger UI, ``/api/redoc/`` Redoc), served from this
origin only: the UIs' files come from drf-spectacular-sidecar through the static files, never from a CDN,
and each page is for an API principal (a token, or a member of staff signed in to the admin), under a
Content-Security-Policy that runs no inline script (issue #20).

The schema itself (``/api/schema/``) stays open: it describes the API, holds no data, and clients generate
their code from it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.settings import api_settings

from api.permissions import IsApiPrincipal
from controlplane.csp import View, with_csp

# Swagger UI and Redoc set styles from script and in <style> elements of their own (Redoc compiles its
# styles at run time), so styles may be inline; scripts may not. Redoc renders in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

# The API's own authentication (a bearer token, or the admin's session) and its principal check.
_FOR_PRINCIPALS: dict[str, Any] = {
    "authentication_classes": api_settings.DEFAULT_AUTHENTICATION_CLASSES,
    "permission_classes": [IsApiPrincipal],
}


def swagger_ui_view() -> View:
    """Swagger UI with its start-up script fetched from the same URL (``?script``), not inlined."""
    return with_csp(DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api:schema", **_FOR_PRINCIPALS))


def redoc_view() -> View:
    return with_csp(DOCS_CSP)(
        SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html", **_FOR_PRINCIPALS)
    )
