"""Issue #20, item 8: /api/docs/ answered anyone, and loaded Swagger UI from a CDN (swagger-ui-dist@latest,
no subresource integrity) on the admin's origin. The documentation pages are now for API principals only,
served from this origin, under a Content-Security-Policy that runs no inline script."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.services import api_client_create

pytestmark = pytest.mark.django_db

PAGES = ["/api/docs/", "/api/redoc/"]


@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_visitor_gets_no_documentation_page(path: str) -> None:
    response = Client().get(path)
    assert response.status_code in (401, 403)
    assert b"swagger" not in response.content.lower() and b"redoc" not in response.content.lower()


def _staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("sam", password="pw-123456", is_staff=True))
    return client


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_load_everything_from_this_origin_under_a_strict_policy(path: str) -> None:
    response = _staff().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources  # no CDN, no other host
    assert "<script>" not in html  # no inline script: the start-up script is a file too
    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy)
    assert script_src is not None and script_src.group(1).strip() == "'self'"
    assert "frame-ancestors 'none'" in policy


def test_swagger_uis_start_up_script_and_assets_are_served_here() -> None:
    client = _staff()
    html = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="([^"]*script[^"]*)"', html)
    assert script is not None
    answer = client.get(script.group(1).replace("&amp;", "&"))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in answer.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html


def test_an_api_token_opens_the_documentation() -> None:
    _, token = api_client_create("docs-reader", region_codes=[], role="read")
    response = Client().get("/api/docs/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
