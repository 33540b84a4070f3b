from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from rtms.models import AppendOnlyError, AuditLog
from rtms.services import audit_record

pytestmark = pytest.mark.django_db


def test_audit_rows_cannot_be_changed_or_deleted_through_the_orm() -> None:
    row = audit_record(actor="alice", action="rule.changed", object_type="rule", object_id=3)
    row.action = "nothing.happened"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE rtms_auditlog SET actor = 'mallory'", "DELETE FROM rtms_auditlog"],
)
def test_the_database_itself_refuses_to_rewrite_audit_history(statement: str) -> None:
    audit_record(actor="alice", action="transcript.read")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditLog.objects.filter(actor="alice").count() == 1


def test_queryset_bulk_delete_is_refused_too() -> None:
    audit_record(actor="bob", action="transcript.read")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.all().delete()
