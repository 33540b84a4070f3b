"""The RTMS server allowlist (rtms/zoom/server_urls.py): hosts by pattern, wss:// unless allowed."""

from __future__ import annotations

import pytest

from rtms.zoom.server_urls import server_urls_refusal

ZOOM = ["*.zoom.us"]


@pytest.mark.parametrize(
    "urls",
    [
        ["wss://sjc.rtms.zoom.us/signal"],
        ["wss://RTMS.ZOOM.US.example.zoom.us:443/x", "https://media.zoom.us/y"],
    ],
)
def test_zooms_hosts_over_wss_pass(urls: list[str]) -> None:
    assert server_urls_refusal(urls, ZOOM, allow_plain_ws=False) is None


@pytest.mark.parametrize(
    ("urls", "reason"),
    [
        (["wss://zoom.us.attacker.example/x"], "not in RTMS_SERVER_HOSTS"),
        (["wss://attackerzoom.us/x"], "not in RTMS_SERVER_HOSTS"),
        (["wss://x.zoom.us@attacker.example/x"], "not in RTMS_SERVER_HOSTS"),
        (["wss://sjc.zoom.us/x", "wss://attacker.example/y"], "not in RTMS_SERVER_HOSTS"),
        (["ws://sjc.zoom.us/x"], "ws://"),
        (["wss:///no-host"], "names no host"),
        ([], "no server URL"),
        (["wss://[::1/x"], "not a URL"),
    ],
)
def test_anything_else_is_refused_with_its_reason(urls: list[str], reason: str) -> None:
    refusal = server_urls_refusal(urls, ZOOM, allow_plain_ws=False)
    assert refusal is not None and reason in refusal


def test_the_tests_and_the_demo_widen_it_explicitly() -> None:
    urls = ["ws://127.0.0.1:9000/rtms"]
    assert server_urls_refusal(urls, ZOOM, allow_plain_ws=True) is not None
    assert server_urls_refusal(urls, ["*.zoom.us", "127.0.0.1"], allow_plain_ws=True) is None
