"""``manage.py transcript <meeting-uuid> [--json]``: a meeting's segments in order, from its region."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rtms.models import Meeting
from rtms.selectors import meeting_get_by_uuid, segment_as_dict, segment_list_for_meeting
from rtms.services import ContentAccess, content_access_record


class Command(BaseCommand):
    help = (
        "Print a meeting's transcript segments in order (seq, speaker, text, start ms), read from its region."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("meeting_uuid", help="Zoom meeting UUID (quote it: it may contain / + =)")
        parser.add_argument("--json", action="store_true", help="machine-readable output (a contract)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            meeting = meeting_get_by_uuid(options["meeting_uuid"])
        except Meeting.DoesNotExist:
            raise CommandError(f"no meeting with uuid {options['meeting_uuid']!r}") from None
        segments = segment_list_for_meeting(meeting)
        region = meeting.region.code if meeting.region else ""
        # Reading a transcript is a disclosure of personal data: it is audited whoever does it.
        content_access_record(
            ContentAccess.TRANSCRIPT_READ,
            actor="system:manage.py transcript",
            via="command",
            meeting_ids=[meeting.pk],
            region_code=region,
            detail={"segments": len(segments)},
        )
        if options["json"]:
            payload = {
                "meeting": {"id": meeting.pk, "zoom_uuid": meeting.zoom_uuid, "region": region or None},
                "segments": [segment_as_dict(s) for s in segments],
            }
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
            return
        for s in segments:
            start = "-" if s.start_ms is None else f"{s.start_ms}"
            self.stdout.write(f"{s.seq:>5}  [{start}]  {s.speaker_name or '?'}: {s.text}")
