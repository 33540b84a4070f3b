"""Issue #20, item 10: a Zoom account's credential variable names accepted any environment variable, so a
row naming DEBUG (or DATABASE_URL) turned that variable's value into a webhook secret or a credential.
Names must now start with ZOOM_, at validation and again at every read."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from rtms.accounts import account_api_credentials, rtms_app_credentials
from rtms.inbox import webhook
from rtms.models import InboundEvent, ZoomAccount
from rtms.zoom.credentials import MissingCredentials
from tests.support import as_bytes, event_body, meeting_payload, sign_webhook

pytestmark = pytest.mark.django_db

ENVIRON = {"DEBUG": "true", "ZOOM_CLIENT_ID": "id", "ZOOM_CLIENT_SECRET": "secret", "ZOOM_X": "x"}


def test_the_admin_form_refuses_a_name_without_the_prefix() -> None:
    account = ZoomAccount(zoom_account_id="acct-names", webhook_secret_token_env="DEBUG")
    with pytest.raises(ValidationError) as raised:
        account.full_clean()
    assert "webhook_secret_token_env" in raised.value.message_dict
    ZoomAccount(zoom_account_id="acct-ok", webhook_secret_token_env="ZOOM_TEAM_A_WEBHOOK_SECRET").full_clean()


@pytest.mark.parametrize(
    "field", ["rtms_client_secret_env", "s2s_client_id_env", "event_subscription_id_env"]
)
def test_a_row_written_around_validation_still_never_reads_another_variable(field: str) -> None:
    account = ZoomAccount.objects.create(zoom_account_id=f"acct-{field}")
    ZoomAccount.objects.filter(pk=account.pk).update(**{field: "DEBUG"})
    account.refresh_from_db()
    with pytest.raises(MissingCredentials, match="must start with ZOOM_"):
        if field == "rtms_client_secret_env":
            rtms_app_credentials(account, ENVIRON)
        else:
            account_api_credentials(account, ENVIRON)


def test_a_variable_without_the_prefix_is_never_a_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "true")
    account = ZoomAccount.objects.create(zoom_account_id="acct-webhook")
    ZoomAccount.objects.filter(pk=account.pk).update(webhook_secret_token_env="DEBUG")
    webhook.webhook_keys_forget()  # read the rows now
    body = as_bytes(event_body("meeting.started", meeting_payload("forged==", 81234567001)))
    signed: dict[str, Any] = sign_webhook(body, secret="true")
    response = Client().post("/zoom/webhook", data=body, content_type="application/json", **signed)
    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_check_deploy_names_an_account_with_such_a_variable(settings: Any) -> None:
    account = ZoomAccount.objects.create(zoom_account_id="acct-check")
    ZoomAccount.objects.filter(pk=account.pk).update(s2s_client_secret_env="DATABASE_URL")
    with pytest.raises(
        SystemCheckError, match=r"rtms\.E002.*acct-check\.s2s_client_secret_env='DATABASE_URL'"
    ):
        call_command("check", "--deploy", "--fail-level", "ERROR", tags=["security"])
