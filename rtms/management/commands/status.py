"""``manage.py status [--json]``: meetings with region and state, and their streams (contract)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rtms.selectors import meeting_list_with_streams, segment_counts


class Command(BaseCommand):
    help = "Print meetings with their region, state and streams (id, state, stop reason, segment count)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output (a contract)")
        parser.add_argument("--region", help="only meetings owned by this region code")
        parser.add_argument("--state", choices=["live", "ended"], help="only meetings in this state")

    def handle(self, *args: Any, **options: Any) -> None:
        meetings = meeting_list_with_streams()
        if options["region"]:
            meetings = meetings.filter(region__code=options["region"])
        if options["state"]:
            meetings = meetings.filter(state=options["state"])
        meetings_list = list(meetings)
        streams = [s for m in meetings_list for s in m.streams.all()]
        counts = segment_counts(streams)
        report: list[dict[str, Any]] = [
            {
                "id": m.pk,
                "zoom_uuid": m.zoom_uuid,
                "zoom_meeting_id": m.zoom_meeting_id,
                "region": m.region.code if m.region else None,
                "routing_status": m.routing_status,
                "state": m.state,
                "started_at": m.started_at.isoformat() if m.started_at else None,
                "ended_at": m.ended_at.isoformat() if m.ended_at else None,
                "streams": [
                    {
                        "id": s.pk,
                        "rtms_stream_id": s.rtms_stream_id,
                        "state": s.state,
                        "stop_reason": s.stop_reason,
                        "segments": counts.get(s.pk, 0),
                    }
                    for s in sorted(m.streams.all(), key=lambda s: s.pk)
                ],
            }
            for m in meetings_list
        ]
        if options["json"]:
            self.stdout.write(json.dumps({"meetings": report}, indent=2))
            return
        if not report:
            self.stdout.write("no meetings")
            return
        for m in report:
            self.stdout.write(
                f"meeting {m['id']}  {m['zoom_meeting_id'] or '-'}  region={m['region'] or 'QUARANTINED'}  "
                f"state={m['state']}  started={m['started_at'] or '-'}"
            )
            for s in m["streams"]:
                reason = "" if s["stop_reason"] is None else f"  stop_reason={s['stop_reason']}"
                self.stdout.write(
                    f"    stream {s['rtms_stream_id']}  state={s['state']}{reason}  segments={s['segments']}"
                )
