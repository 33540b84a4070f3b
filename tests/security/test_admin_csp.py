"""Issue #20, item 8: the admin sent no Content-Security-Policy. It now does: scripts from this origin only,
no framing. (tests/e2e/test_live_browser.py signs in and browses the admin in Chromium with no violation.)"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/admin/login/", "/admin/", "/admin/rtms/meeting/", "/admin/rtms/auditlog/"]
)
def test_admin_pages_carry_a_policy_without_inline_script(path: str) -> None:
    client = Client()
    if path != "/admin/login/":  # the sign-in page as a visitor sees it
        client.force_login(User.objects.create_superuser("root", password="pw-123456"))
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy)
    assert script_src is not None and script_src.group(1).strip() == "'self'"
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_the_live_pages_keep_their_own_stricter_policy() -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-123456"))
    policy = client.get("/live/")["Content-Security-Policy"]
    assert "style-src 'self';" in policy  # not the admin's, which allows inline styles
