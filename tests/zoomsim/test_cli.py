"""`python -m zoomsim` as a subprocess: flags and env, answers, clean SIGTERM shutdown, no secrets in logs."""

from __future__ import annotations

import base64

import requests

from zoomsim.testing import SimProcess


def test_subprocess_smoke() -> None:
    env = {
        "ZOOM_CLIENT_ID": "cliRtmsId",
        "ZOOM_CLIENT_SECRET": "cliRtmsSecretValue",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "cliWebhookSecretValue",
        "ZOOM_ACCOUNT_ID": "cliAccount",
        "ZOOM_S2S_CLIENT_ID": "cliS2sId",
        "ZOOM_S2S_CLIENT_SECRET": "cliS2sSecretValue",
        "ZOOM_EVENT_SUBSCRIPTION_ID": "cliSub",
        "ZOOMSIM_TIME_SCALE": "0.01",
    }
    proc = SimProcess(env=env).start()
    try:
        info = proc.client.info()
        assert info["base_url"] == proc.base_url and info["time_scale"] == 0.01
        assert info["rtms_client_id"] == "cliRtmsId" and info["s2s_is_rtms_app"] is False
        assert info["accounts"][0]["account_id"] == "cliAccount"
        assert info["accounts"][0]["s2s_client_id"] == "cliS2sId"
        assert info["accounts"][0]["subscription_id"] == "cliSub"
        auth = base64.b64encode(b"cliS2sId:cliS2sSecretValue").decode()
        resp = requests.post(
            proc.base_url + "/oauth/token",
            data={"grant_type": "account_credentials", "account_id": "cliAccount"},
            headers={"Authorization": "Basic " + auth},
            timeout=5,
        )
        assert resp.status_code == 200 and resp.json()["api_url"] == proc.base_url
        proc.client.create_meeting("smoke@example.com", rtms="auto")
        proc.client.wait_for("event.emitted", event="meeting.rtms_started")
    finally:
        rc = proc.stop()
    assert rc == 0  # SIGTERM -> clean shutdown


def test_subprocess_logs_have_no_secrets() -> None:
    env = {
        "ZOOM_CLIENT_SECRET": "topSecretValue123",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "hookSecretValue456",
        "ZOOMSIM_WEBHOOK_URL": "http://127.0.0.1:9/none",
    }
    proc = SimProcess(env=env).start()
    proc.client.create_meeting("log@example.com", rtms="none")
    proc.client.wait_for("webhook.attempt")
    assert proc.stop() == 0
    text = proc.read_log()
    assert '"event": "zoomsim.started"' in text and '"event": "zoomsim.stopped"' in text
    assert '"event": "zoomsim.webhook.attempt"' in text
    assert "topSecretValue123" not in text and "hookSecretValue456" not in text
