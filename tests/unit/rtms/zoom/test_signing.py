"""Known-answer and hostile-input tests for rtms.zoom.signing (zoom-protocol.md §3, §4.2, §4.3).

Every expected digest was computed outside Python with OpenSSL 3.0, with the command next to it, so
these tests do not check the code against itself.
"""

from __future__ import annotations

import pytest

from rtms.zoom.signing import (
    WebhookVerdict,
    rtms_handshake_signature,
    url_validation_response,
    verify_webhook,
    webhook_signature,
)

SECRET = "secret"
TS = "1739923528"
NOW = 1739923528.0
BODY = b'{"event":"x"}'
# printf 'v0:1739923528:{"event":"x"}' | openssl dgst -sha256 -hmac secret
SIG = "v0=35da3bc542ec0176a22a4501d7f729ec0304f01472bae5bff3801eb8a49c2673"

RTMS_BODY = (
    b'{"event":"meeting.rtms_started","event_ts":1739923528123,"payload":{'
    b'"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"609340fb2a7946909659956c8aa9250c",'
    b'"server_urls":"wss://rtms-sjc1.zoom.us/signaling"}}'
)
# printf 'v0:1739923528:<RTMS_BODY>' | openssl dgst -sha256 -hmac 'whsec_Test-Token'
RTMS_SIG = "v0=798d018d3b641e1561b13e99ee283b0ee7ae77e60fe96c530d478d71484c72bc"


def test_webhook_signature_matches_openssl_when_body_is_small() -> None:
    assert webhook_signature(SECRET, TS, BODY) == SIG


def test_webhook_signature_matches_openssl_when_body_is_a_real_rtms_event() -> None:
    assert webhook_signature("whsec_Test-Token", TS, RTMS_BODY) == RTMS_SIG


def test_webhook_signature_signs_raw_utf8_bytes_when_body_is_not_ascii() -> None:
    # printf 'v0:1739923528:{"event":"caf\xc3\xa9"}' | openssl dgst -sha256 -hmac secret
    body = '{"event":"café"}'.encode()
    assert (
        webhook_signature(SECRET, TS, body)
        == "v0=30f4c4c40229152f7cc973f4164494eeeceabb477d4ea4894bf8b3f4541f2a26"
    )


def test_webhook_signature_matches_openssl_when_body_is_empty() -> None:
    # printf 'v0:1739923528:' | openssl dgst -sha256 -hmac secret
    assert (
        webhook_signature(SECRET, TS, b"")
        == "v0=b22a0dd22d496167aa1f52dba234b6bed7b8def1043020e66539670a4edc6cb9"
    )


def test_verify_webhook_is_ok_when_everything_matches() -> None:
    assert verify_webhook(SECRET, TS, SIG, BODY, now=NOW) is WebhookVerdict.OK
    assert verify_webhook("whsec_Test-Token", TS, RTMS_SIG, RTMS_BODY, now=NOW + 12).ok


def test_verify_webhook_rejects_when_body_is_tampered() -> None:
    assert verify_webhook(SECRET, TS, SIG, b'{"event":"y"}', now=NOW) is WebhookVerdict.BAD_SIGNATURE
    # Re-serialising the JSON (a space) is a different body: only the raw bytes verify.
    assert verify_webhook(SECRET, TS, SIG, b'{"event": "x"}', now=NOW) is WebhookVerdict.BAD_SIGNATURE


def test_verify_webhook_rejects_when_secret_is_wrong() -> None:
    # printf 'v0:1739923528:{"event":"x"}' | openssl dgst -sha256 -hmac wrong
    signed_with_wrong = "v0=d5256a3f83694bf076876250622de9a665e1387ab25f07c403ea4825f980c103"
    assert verify_webhook(SECRET, TS, signed_with_wrong, BODY, now=NOW) is WebhookVerdict.BAD_SIGNATURE
    assert verify_webhook("wrong", TS, SIG, BODY, now=NOW) is WebhookVerdict.BAD_SIGNATURE


def test_verify_webhook_rejects_when_secret_is_empty() -> None:
    forged = webhook_signature("", TS, BODY)
    assert verify_webhook("", TS, forged, BODY, now=NOW) is WebhookVerdict.BAD_SIGNATURE


def test_verify_webhook_rejects_when_timestamp_was_changed_after_signing() -> None:
    assert verify_webhook(SECRET, "1739923529", SIG, BODY, now=NOW) is WebhookVerdict.BAD_SIGNATURE


@pytest.mark.parametrize("skew", [301, 3600, -301, -86400])
def test_verify_webhook_is_stale_when_timestamp_is_outside_tolerance(skew: int) -> None:
    # Negative skew: a timestamp from the future is just as suspicious as one from the past.
    assert verify_webhook(SECRET, TS, SIG, BODY, now=NOW + skew) is WebhookVerdict.STALE_TIMESTAMP


@pytest.mark.parametrize("skew", [0, 300, -300, 299.9])
def test_verify_webhook_accepts_when_timestamp_is_on_the_tolerance_edge(skew: float) -> None:
    assert verify_webhook(SECRET, TS, SIG, BODY, now=NOW + skew) is WebhookVerdict.OK


def test_verify_webhook_honours_custom_tolerance() -> None:
    assert (
        verify_webhook(SECRET, TS, SIG, BODY, now=NOW + 10, tolerance_s=5) is WebhookVerdict.STALE_TIMESTAMP
    )
    assert verify_webhook(SECRET, TS, SIG, BODY, now=NOW + 10, tolerance_s=10) is WebhookVerdict.OK


def test_verify_webhook_is_stale_when_clock_is_nan() -> None:
    assert verify_webhook(SECRET, TS, SIG, BODY, now=float("nan")) is WebhookVerdict.STALE_TIMESTAMP


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [(None, SIG), (TS, None), (None, None), ("", SIG), (TS, "")],
)
def test_verify_webhook_reports_missing_headers_when_one_is_absent(
    timestamp: str | None, signature: str | None
) -> None:
    assert verify_webhook(SECRET, timestamp, signature, BODY, now=NOW) is WebhookVerdict.MISSING_HEADERS


@pytest.mark.parametrize(
    "timestamp",
    [
        "abc",
        "1739923528.0",
        "-1739923528",
        "+1739923528",
        " 1739923528",
        "1739923528\n",
        "1e9",
        "0x67b5",
        "１７３９９２３５２８",  # full-width digits: str.isdigit() is True, but not ASCII
        "²",
        "9" * 5000,  # past Python's int-from-string limit
        "\udcff",  # a lone surrogate, as a badly decoded header can produce
    ],
)
def test_verify_webhook_reports_bad_timestamp_when_not_an_ascii_integer(timestamp: str) -> None:
    assert verify_webhook(SECRET, timestamp, SIG, BODY, now=NOW) is WebhookVerdict.BAD_TIMESTAMP


@pytest.mark.parametrize(
    "signature",
    [
        SIG.removeprefix("v0="),  # right digest, no scheme prefix
        "v1=" + SIG.removeprefix("v0="),
        SIG.upper(),
        SIG + "00",
        SIG[:-1],
        "v0=",
        "v0=é" + SIG[4:],
        "v0=\udcff",
        "\x00" * 1000,
        "v0=" + "a" * 100_000,
        "🙂",
    ],
)
def test_verify_webhook_reports_bad_signature_when_header_is_junk(signature: str) -> None:
    assert verify_webhook(SECRET, TS, signature, BODY, now=NOW) is WebhookVerdict.BAD_SIGNATURE


def test_verify_webhook_never_raises_when_headers_have_wrong_types() -> None:
    # Typed as str | None, but a framework bug could hand over bytes; that must not become a 500.
    assert verify_webhook(SECRET, TS.encode(), SIG, BODY, now=NOW) is WebhookVerdict.MISSING_HEADERS  # type: ignore[arg-type]
    assert verify_webhook(SECRET, TS, SIG.encode(), BODY, now=NOW) is WebhookVerdict.MISSING_HEADERS  # type: ignore[arg-type]


def test_url_validation_response_matches_openssl() -> None:
    # printf 'qgg8vlvZRS6UYooatFL8Aw' | openssl dgst -sha256 -hmac secret
    assert url_validation_response("secret", "qgg8vlvZRS6UYooatFL8Aw") == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": "72cef096bfd47c0b8664df30d07721641e4abd7e885ba432204260db477a9a3e",
    }


def test_url_validation_response_encodes_utf8_when_key_and_token_are_not_ascii() -> None:
    # printf 'pl\xc3\xa4in' | openssl dgst -sha256 -hmac "$(printf 's\xc3\xa9cret')"
    assert url_validation_response("sécret", "pläin")["encryptedToken"] == (
        "01edd65f881fa15b3b3aa5d77f5d3fea3ad4cee3c9f182f17e6fbc4b899a7745"
    )


def test_rtms_handshake_signature_matches_openssl() -> None:
    # printf 'client_abc,4444AAAiAAAAAiAiAiiAii==,609340fb2a7946909659956c8aa9250c' \
    #   | openssl dgst -sha256 -hmac client_secret_xyz
    signature = rtms_handshake_signature(
        "client_abc", "client_secret_xyz", "4444AAAiAAAAAiAiAiiAii==", "609340fb2a7946909659956c8aa9250c"
    )
    assert signature == "6294e8db6d1d6c816ebb8e70e40ba2ffa6cb5e37a0de8e8ad767108cd2c800d7"


def test_rtms_handshake_signature_depends_on_every_part() -> None:
    base = rtms_handshake_signature("c", "s", "m", "r")
    assert (
        len(
            {
                base,
                *(
                    rtms_handshake_signature(*args)
                    for args in [
                        ("x", "s", "m", "r"),
                        ("c", "x", "m", "r"),
                        ("c", "s", "x", "r"),
                        ("c", "s", "m", "x"),
                    ]
                ),
            }
        )
        == 5
    )
