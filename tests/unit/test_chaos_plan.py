"""bench/chaos.py's plan: the faults it asks zoomsim for are the ones the issue names, at its rates, and in
the order zoomsim needs to apply them copy by copy; its verdicts are the issue's targets."""

from __future__ import annotations

import random
from collections import Counter

from bench import chaos


def test_meetings_are_spread_over_the_day_and_the_regions() -> None:
    config = chaos.Config(meetings=300, minutes=15)
    planned, scenario = chaos.plan_meetings(config, random.Random(1))
    assert len(planned) == len(scenario["meetings"]) == 300
    assert Counter(m.region for m in planned) == {code: 100 for code in chaos.REGIONS}
    assert all(0 <= m.start_s < m.end_s <= config.duration_s for m in planned)
    modes = Counter(m.rtms for m in planned)
    assert 15 <= modes["none"] <= 50 and 60 <= modes["auto"] <= 120, modes
    domains = {spec["host_email"].split("@")[1] for spec in scenario["meetings"]}
    assert domains == {domain for _, domain in chaos.REGIONS.values()}


def test_a_shorter_run_has_fewer_meetings_at_once_not_shorter_ones() -> None:
    for minutes in (15.0, 5.0):
        config = chaos.Config(meetings=30, minutes=minutes)
        planned, _ = chaos.plan_meetings(config, random.Random(3))
        lengths = [m.end_s - m.start_s for m in planned]
        assert all(135.0 <= length <= 270.0 for length in lengths), (minutes, lengths)
        assert all(0 <= m.start_s and m.end_s <= config.duration_s for m in planned)
    tiny = chaos.Config(meetings=3, minutes=1)
    assert all(m.end_s - m.start_s == 60.0 for m in chaos.plan_meetings(tiny, random.Random(3))[0])


def test_each_copy_of_each_event_draws_its_fault_at_the_issues_rates() -> None:
    meetings = [chaos.PlannedMeeting(f"m{i}", "eu-central", "api", 0, 60) for i in range(2000)]
    rules = chaos.plan_event_faults(meetings, random.Random(2))
    # Rules of one meeting, event and channel: the last copy's first, since zoomsim takes the newest
    # matching rule, each once (times 1).
    assert all(rule["times"] == 1 for rule in rules)
    per_key: dict[tuple[str, str, str], list[str]] = {}
    for rule in rules:
        per_key.setdefault((rule["meeting_uuid"], rule["event"], rule["channel"]), []).append(rule["action"])
    assert all(len(actions) <= chaos.EMISSIONS for actions in per_key.values())
    # The first copy's action is the last rule added: its rates over every meeting and event.
    first: Counter[tuple[str, str]] = Counter()
    for (_uuid, _event, channel), actions in per_key.items():
        first[(channel, actions[-1])] += 1
    draws = len(meetings) * len(chaos.EVENTS)
    lost_webhook = first[("webhook", "drop")] / draws  # on the webhook alone (10 %) or on both (5 %)
    lost_ws = first[("ws", "drop")] / draws
    duplicated = first[("webhook", "duplicate")] / draws
    rates = (lost_webhook, lost_ws, duplicated)
    assert abs(lost_webhook - 0.15) < 0.02 and abs(lost_ws - 0.15) < 0.02 and abs(duplicated - 0.20) < 0.02, (
        rates
    )


def test_the_verdicts_are_the_issues_targets() -> None:
    perfect = chaos.Figures(capturable=10, captured=10, delivered=1000, delivered_stored=995,
                            spoken_with_stream=1000, spoken_stored=980, max_signaling=1)  # fmt: skip
    assert all(met for *_, met in perfect.checks())
    short = chaos.Figures(capturable=10, captured=9, delivered=1000, delivered_stored=994,
                          spoken_with_stream=1000, spoken_stored=979, duplicates=1, wrong_region=1,
                          max_signaling=2, left_live=1, events_pending=1, server_errors=1)  # fmt: skip
    assert not any(met for *_, met in short.checks())
