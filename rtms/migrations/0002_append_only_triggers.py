"""Append-only history at the database level: UPDATE and DELETE on the audit log and the transition
tables raise, whoever issues them. (TRUNCATE, used by test teardown, is not a row operation.)"""

from __future__ import annotations

from django.db import migrations

TABLES = ["rtms_auditlog", "rtms_meetingtransition", "rtms_streamtransition"]

FUNCTION = """
CREATE OR REPLACE FUNCTION rtms_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _triggers() -> list[migrations.RunSQL]:
    ops = [migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS rtms_refuse_change() CASCADE;")]
    for table in TABLES:
        ops.append(
            migrations.RunSQL(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION rtms_refuse_change();",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
            )
        )
    return ops


class Migration(migrations.Migration):
    dependencies = [("rtms", "0001_initial")]
    operations = _triggers()
