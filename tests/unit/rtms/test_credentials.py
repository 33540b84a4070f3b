from __future__ import annotations

import json
import logging

import pytest

from controlplane.logformat import JsonFormatter
from rtms.accounts import account_api_credentials, rtms_app_credentials
from rtms.models import ZoomAccount
from rtms.zoom.credentials import MissingCredentials

RTMS_ENV = {
    "ZOOM_CLIENT_ID": "rtms-id",
    "ZOOM_CLIENT_SECRET": "rtms-secret",
    "ZOOM_WEBHOOK_SECRET_TOKEN": "whsecret-xyz",
}


def _account() -> ZoomAccount:
    return ZoomAccount(zoom_account_id="acc-1")  # unsaved: default env-var names, no database needed


def test_s2s_credentials_fall_back_to_the_rtms_app_pair_when_unset() -> None:
    creds = account_api_credentials(_account(), environ=RTMS_ENV)
    assert (creds.client_id, creds.client_secret) == ("rtms-id", "rtms-secret")


def test_s2s_credentials_are_kept_apart_when_both_sets_exist() -> None:
    env = {**RTMS_ENV, "ZOOM_S2S_CLIENT_ID": "s2s-id", "ZOOM_S2S_CLIENT_SECRET": "s2s-secret"}
    api = account_api_credentials(_account(), environ=env)
    app = rtms_app_credentials(_account(), environ=env)
    assert (api.client_id, api.client_secret) == ("s2s-id", "s2s-secret")
    assert (app.client_id, app.client_secret) == ("rtms-id", "rtms-secret")


def test_half_a_s2s_pair_is_an_error_naming_the_missing_variable() -> None:
    with pytest.raises(MissingCredentials, match="ZOOM_S2S_CLIENT_SECRET"):
        account_api_credentials(_account(), environ={**RTMS_ENV, "ZOOM_S2S_CLIENT_ID": "s2s-id"})


def test_secrets_never_appear_in_repr_or_logs() -> None:
    app = rtms_app_credentials(_account(), environ=RTMS_ENV)
    assert "rtms-secret" not in repr(app) and "whsecret-xyz" not in repr(app)
    record = logging.LogRecord("x", logging.INFO, "f", 1, "account.loaded", None, None)
    record.credentials = app
    line = JsonFormatter().format(record)
    assert "rtms-secret" not in line
    assert json.loads(line)["event"] == "account.loaded"
