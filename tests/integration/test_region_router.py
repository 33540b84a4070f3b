"""Region content lands only in the owning region's database (two real PostgreSQL databases)."""

from __future__ import annotations

import pytest
from django.db import connections

from regions.db_router import ContentDatabaseNotNamed
from regions.models import Region
from rtms.models import TranscriptSegment
from tests.integration.conftest import EU_ALIAS, MakeMeeting, MakeStream

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


def _tables(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


def test_the_test_setup_really_uses_two_databases() -> None:
    assert connections["default"].settings_dict["NAME"] != connections[EU_ALIAS].settings_dict["NAME"]


def test_a_segment_of_an_eu_meeting_lands_only_in_the_eu_database(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    TranscriptSegment.objects.create(
        region_code="eu-central", meeting_id=stream.meeting_id, stream_id=stream.pk, seq=1, text="Guten Tag"
    )
    assert TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=stream.pk).count() == 1
    assert TranscriptSegment.objects.using("default").filter(stream_id=stream.pk).count() == 0


def test_a_segment_of_a_region_without_its_own_database_uses_the_fallback(
    us: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(us))
    TranscriptSegment.objects.create(
        region_code="us-east", meeting_id=stream.meeting_id, stream_id=stream.pk, seq=1, text="Hello"
    )
    assert TranscriptSegment.objects.using("default").filter(stream_id=stream.pk).count() == 1
    assert TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=stream.pk).count() == 0


def test_content_reads_that_name_no_database_are_refused() -> None:
    with pytest.raises(ContentDatabaseNotNamed, match="is region content"):
        list(TranscriptSegment.objects.all())


def test_content_tables_are_migrated_only_where_content_belongs() -> None:
    eu_tables = _tables(EU_ALIAS)
    assert "rtms_transcriptsegment" in eu_tables
    # Control tables never reach a region-only database: it can be a separate server in its region.
    assert not {"rtms_meeting", "rtms_rtmsstream", "rtms_inboundevent", "rtms_auditlog"} & eu_tables
    assert {"rtms_meeting", "rtms_transcriptsegment"} <= _tables("default")  # default is the '*' fallback


def test_the_segment_table_has_no_foreign_key_to_control_rows() -> None:
    with connections["default"].cursor() as cursor:
        constraints = connections["default"].introspection.get_constraints(cursor, "rtms_transcriptsegment")
    assert not [name for name, c in constraints.items() if c["foreign_key"]]


def test_the_same_stream_and_seq_cannot_be_stored_twice(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    from django.db import IntegrityError, transaction

    stream = make_stream(make_meeting(eu))
    fields = {"region_code": "eu-central", "meeting_id": stream.meeting_id, "stream_id": stream.pk, "seq": 7}
    TranscriptSegment.objects.create(text="once", **fields)
    with pytest.raises(IntegrityError), transaction.atomic(using=EU_ALIAS):
        TranscriptSegment.objects.create(text="twice", **fields)
