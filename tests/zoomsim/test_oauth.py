"""S2S OAuth: both grants, bad credentials, expiry and app separation."""

from __future__ import annotations

import time

import requests

from tests.eventually import eventually
from tests.zoomsim.conftest import (
    ACCOUNT_ID,
    RTMS_APP,
    S2S_APP,
    bearer,
    s2s_token,
    today,
    token_response,
)
from zoomsim.config import AppCreds
from zoomsim.testing import SimServer


def metrics(sim: SimServer, token: str) -> requests.Response:
    return requests.get(
        sim.base_url + "/v2/metrics/meetings",
        params={"from": today(), "to": today()},
        headers=bearer(token),
        timeout=5,
    )


def test_account_credentials_token_shape(sim: SimServer) -> None:
    resp = token_response(sim.base_url, S2S_APP)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "api_url"}
    assert body["token_type"] == "bearer"
    assert body["api_url"] == sim.base_url
    assert body["access_token"].startswith("eyJ") and body["access_token"].count(".") == 2
    assert body["expires_in"] == 36  # 3600 s x time scale 0.01: the real lifetime
    assert "dashboard_meetings:read:admin" in body["scope"]
    assert "x-zm-trackingid" in resp.headers
    assert metrics(sim, body["access_token"]).status_code == 200


def test_grant_in_query_string_also_works(sim: SimServer) -> None:
    assert token_response(sim.base_url, S2S_APP, as_query=True).status_code == 200


def test_client_credentials_token_is_app_level(sim: SimServer) -> None:
    resp = token_response(sim.base_url, S2S_APP, grant="client_credentials")
    assert resp.status_code == 200
    # app-level token: refused by account REST APIs (UNCONFIRMED choice, docs/zoomsim.md)
    refused = metrics(sim, resp.json()["access_token"])
    assert refused.status_code == 401
    assert refused.json() == {"code": 124, "message": "Invalid access token."}


def test_bad_client_credentials(sim: SimServer) -> None:
    for creds in (AppCreds(S2S_APP.client_id, "wrong"), AppCreds("nobody", "x")):
        resp = token_response(sim.base_url, creds)
        assert resp.status_code == 401
        assert resp.json() == {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    no_auth = requests.post(
        sim.base_url + "/oauth/token", data={"grant_type": "client_credentials"}, timeout=5
    )
    assert no_auth.status_code == 401


def test_grant_and_account_validation(sim: SimServer) -> None:
    assert token_response(sim.base_url, S2S_APP, grant="password").json()["error"] == "unsupported_grant_type"
    missing = token_response(sim.base_url, S2S_APP, account_id=None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = token_response(sim.base_url, S2S_APP, account_id="someoneElse")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    # The RTMS (General) app cannot use account_credentials when the S2S app is separate.
    general = token_response(sim.base_url, RTMS_APP)
    assert general.status_code == 400 and general.json()["error"] == "unsupported_grant_type"
    kinds = [e["status"] for e in sim.client.ledger(kind="oauth.token")]
    assert kinds == [400, 400, 400, 400]


def test_rtms_app_token_refused_by_rest(sim: SimServer) -> None:
    token = token_response(sim.base_url, RTMS_APP, grant="client_credentials").json()["access_token"]
    resp = metrics(sim, token)
    assert resp.status_code == 401
    assert resp.json() == {"code": 124, "message": "Invalid access token."}
    assert sim.client.ledger(kind="rest.call")[-1]["reason"] == "wrong_app_token"


def test_missing_or_garbage_token(sim: SimServer) -> None:
    assert requests.get(sim.base_url + "/v2/metrics/meetings", timeout=5).json()["code"] == 124
    assert metrics(sim, "garbage").json() == {"code": 124, "message": "Invalid access token."}


def test_token_expires_after_scaled_ttl(make_sim: object) -> None:
    sim = make_sim(token_ttl_s=20.0)  # type: ignore[operator]
    token = s2s_token(sim.base_url)  # lives 20 x 0.01 = 0.2 s
    assert metrics(sim, token).status_code == 200
    t0 = time.monotonic()

    def expired() -> list[requests.Response]:
        r = metrics(sim, token)
        return [r] if r.status_code == 401 else []  # a list: a Response is falsy when not ok

    (resp,) = eventually(expired, timeout=3, what="a 401 for the expired token")
    assert time.monotonic() - t0 < 3
    assert resp.json() == {"code": 124, "message": "Access token is expired."}


def test_expire_tokens_control(sim: SimServer) -> None:
    token = s2s_token(sim.base_url)
    assert sim.client.expire_tokens(client_id=S2S_APP.client_id) == 1
    assert metrics(sim, token).json() == {"code": 124, "message": "Access token is expired."}
    assert metrics(sim, s2s_token(sim.base_url)).status_code == 200  # a new token works


def test_one_app_mode_rtms_pair_is_the_s2s_app(make_sim: object) -> None:
    from zoomsim.config import AccountConfig

    sim = make_sim(account=AccountConfig(ACCOUNT_ID, RTMS_APP, "sub"))  # type: ignore[operator]
    token = s2s_token(sim.base_url, creds=RTMS_APP)
    assert metrics(sim, token).status_code == 200
