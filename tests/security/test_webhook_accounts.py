"""Issue #20, finding 3: accounts are bound to their secrets, and server_urls to Zoom's hosts.

On the main of 2026-12-07 any active account's secret verified an event claiming any ``account_id``; an RTMS
event without ``account_id`` was taken as the default account's; ``server_urls`` naming any host, over
plain ``ws://`` with DEBUG off, were connected to."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from regions.models import Region, ResidencyRule
from rtms.inbox.apply import event_apply
from rtms.inbox.route import event_route
from rtms.inbox.webhook import webhook_keys_forget
from rtms.models import InboundEvent, Meeting, RtmsStream, StreamTransition, ZoomAccount
from tests.integration.conftest import EU_ALIAS
from tests.support import as_bytes, event_body, meeting_payload, sign_webhook

pytestmark = pytest.mark.django_db(databases="__all__")

SECRET_A, SECRET_B = "secret-of-account-a-" + "a" * 12, "secret-of-account-b-" + "b" * 12


@pytest.fixture
def accounts(monkeypatch: pytest.MonkeyPatch) -> dict[str, ZoomAccount]:
    monkeypatch.setenv("ZOOM_A_WEBHOOK_SECRET", SECRET_A)
    monkeypatch.setenv("ZOOM_B_WEBHOOK_SECRET", SECRET_B)
    made = {
        "a": ZoomAccount.objects.create(
            zoom_account_id="acct-a", webhook_secret_token_env="ZOOM_A_WEBHOOK_SECRET", mode="auto"
        ),
        "b": ZoomAccount.objects.create(
            zoom_account_id="acct-b", webhook_secret_token_env="ZOOM_B_WEBHOOK_SECRET", mode="auto"
        ),
    }
    webhook_keys_forget()
    return made


def _post(body: dict[str, Any], secret: str | None = None) -> Any:
    raw = as_bytes(body)
    signed: dict[str, Any] = sign_webhook(raw, secret=secret)
    return Client().post("/zoom/webhook", data=raw, content_type="application/json", **signed)


def _failures(reason: str) -> float:
    return REGISTRY.get_sample_value("rtms_webhook_rejected_total", {"reason": reason}) or 0.0


def _started(uuid: str, account_id: str) -> dict[str, Any]:
    return event_body("meeting.started", {**meeting_payload(uuid, 81_234_567_001), "account_id": account_id})


def _rtms_started_unnamed(uuid: str) -> dict[str, Any]:
    """An RTMS start as Zoom sent them before May 2026: no account_id."""
    payload = {
        "meeting_uuid": uuid,
        "operator_id": "op",
        "rtms_stream_id": "e" * 32,
        "server_urls": "wss://sjc.rtms.zoom.us/signal",
    }
    return event_body("meeting.rtms_started", payload)


def test_an_event_verifies_only_with_the_secret_of_the_account_it_names(
    accounts: dict[str, ZoomAccount],
) -> None:
    before = _failures("account_mismatch")
    forged = _post(_started("forged==", "acct-a"), SECRET_B)  # B's secret, claiming to be A
    assert forged.status_code == 401
    assert _failures("account_mismatch") == before + 1
    assert not InboundEvent.objects.exists()
    assert _post(_started("real==", "acct-a"), SECRET_A).status_code == 200


def test_an_event_naming_an_account_that_is_not_ours_is_refused(accounts: dict[str, ZoomAccount]) -> None:
    assert _post(_started("other==", "acct-somebody-else"), SECRET_A).status_code == 401
    assert not InboundEvent.objects.exists()


def test_an_event_without_account_id_is_routed_by_the_account_whose_secret_verified_it(
    accounts: dict[str, ZoomAccount], eu: Region, us: Region
) -> None:
    ResidencyRule.objects.create(position=1, field="account_id", value="acct-b", region=us)
    ResidencyRule.objects.create(position=2, field="account_id", value="test-account", region=eu)
    assert _post(_rtms_started_unnamed("unnamed=="), SECRET_B).status_code == 200
    row = InboundEvent.objects.get()
    assert row.source_account_id == accounts["b"].pk
    assert event_route(row.pk).status == "routed"
    meeting = Meeting.objects.get(zoom_uuid="unnamed==")
    # Account B's rule, never the default account's (test-account -> eu-central).
    assert meeting.account_id == accounts["b"].pk and meeting.region_id == us.pk


def test_a_secret_two_accounts_share_vouches_for_neither_and_nothing_defaults(
    accounts: dict[str, ZoomAccount], monkeypatch: pytest.MonkeyPatch, eu: Region
) -> None:
    monkeypatch.setenv("ZOOM_B_WEBHOOK_SECRET", SECRET_A)
    ResidencyRule.objects.create(position=1, field="account_id", value="test-account", region=eu)
    assert _post(_rtms_started_unnamed("shared=="), SECRET_A).status_code == 200
    row = InboundEvent.objects.get()
    assert row.source_account_id is None
    assert event_route(row.pk).status == "quarantined"
    assert Meeting.objects.get(zoom_uuid="shared==").account_id is None


@pytest.mark.parametrize(
    ("urls", "why"),
    [
        ("wss://rtms.attacker.example/signal", "not in RTMS_SERVER_HOSTS"),
        ("ws://sjc.rtms.zoom.us/signal", "ws://"),
        ("wss://zoom.us@attacker.example/signal", "not in RTMS_SERVER_HOSTS"),
    ],
)
def test_server_urls_outside_the_allowlist_fail_the_stream_with_a_clear_reason(
    settings: Any, eu: Region, urls: str, why: str
) -> None:
    settings.RTMS_SERVER_HOSTS = ["*.zoom.us"]
    settings.RTMS_ALLOW_PLAIN_WS = False
    ResidencyRule.objects.create(position=1, field="account_id", value="test-account", region=eu)
    ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "auto"})
    webhook_keys_forget()
    body = event_body(
        "meeting.rtms_started",
        {
            "account_id": "test-account",
            "meeting_uuid": "srv==",
            "operator_id": "op",
            "rtms_stream_id": "f" * 32,
            "server_urls": urls,
        },
    )
    response = _post(body)
    assert response.status_code == 200
    row = InboundEvent.objects.get()
    assert event_route(row.pk).status == "routed"
    assert event_apply(row.pk) == "refused_server_urls"
    stream = RtmsStream.objects.get(rtms_stream_id="f" * 32)
    assert stream.state == "failed"
    transition = StreamTransition.objects.filter(stream=stream).latest("id")
    assert transition.cause == "refused.server_urls" and why in transition.detail["reason"]


__all__ = ["EU_ALIAS"]
