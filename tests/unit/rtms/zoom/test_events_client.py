"""Pure parts of the event-subscription client: backoff and the connection URL."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

from rtms.zoom.events import SubscriptionConfig, backoff_delay, subscription_url


def test_backoff_is_full_jitter_under_a_doubling_ceiling_when_attempts_grow() -> None:
    rng = random.Random(1234)
    for attempt in range(12):
        ceiling = min(60.0, 1.0 * 2**attempt)
        delays = [backoff_delay(attempt, 1.0, 60.0, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the whole range, not pinned to the bottom


def test_backoff_is_capped_when_attempts_are_huge() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(attempt, 0.5, 30.0, rng) for attempt in (20, 63, 64, 10_000)]
    assert all(0.0 <= d <= 30.0 for d in delays)


def test_backoff_is_reproducible_when_the_rng_is_seeded() -> None:
    a = [backoff_delay(n, 1.0, 60.0, random.Random(99)) for n in range(8)]
    b = [backoff_delay(n, 1.0, 60.0, random.Random(99)) for n in range(8)]
    assert a == b


def test_subscription_url_encodes_ids_and_keeps_other_query_when_present() -> None:
    url = subscription_url("wss://ws.example.com/ws?region=eu&access_token=old", "sub/1 +", "tok.en/+=&x")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "ws.example.com", "/ws")
    assert parse_qs(parts.query) == {
        "region": ["eu"],
        "subscriptionId": ["sub/1 +"],
        "access_token": ["tok.en/+=&x"],
    }
    assert "tok.en/+=&x" not in url


def test_idle_timeout_defaults_to_three_heartbeats_when_unset() -> None:
    cfg = SubscriptionConfig("ws://h/ws", "s", heartbeat_interval_s=30, connect_timeout_s=10)
    assert cfg.idle_s == 90
    assert SubscriptionConfig("ws://h/ws", "s", 30, 10, idle_timeout_s=5).idle_s == 5
