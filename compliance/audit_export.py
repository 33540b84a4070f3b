"""The audit log as CSV: the changelist's filtered rows, streamed, and the download itself audited."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase, StreamingHttpResponse

from controlplane.client_ip import client_ip
from controlplane.streaming import download_slot_take, streamed, too_many_downloads
from rtms.models import AuditLog
from rtms.services import audit_record

COLUMNS: Final = [
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "region_code",
    "source_ip",
    "detail",
]
# A cell starting with one of these is a formula to a spreadsheet (CSV injection); a quote defuses it.
_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = (
        "" if value is None else json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    )
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def audit_csv_rows(rows: Iterable[AuditLog]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in rows:
        yield writer.writerow([_cell(getattr(row, name)) for name in COLUMNS])


def audit_csv_response(modeladmin: admin.ModelAdmin[Any], request: HttpRequest) -> HttpResponseBase:
    try:
        changelist = modeladmin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        return HttpResponseBadRequest("unknown filter in the query string")
    queryset = changelist.queryset
    slot = download_slot_take(request.user.get_username())
    if slot is None:
        return too_many_downloads()
    filters = {key: request.GET.getlist(key) for key in sorted(request.GET)}
    audit_record(
        actor=request.user.get_username(),
        action="audit.export",
        object_type="auditlog",
        source_ip=client_ip(request),
        detail={"via": "admin", "filters": filters, "rows": queryset.count()},
    )
    # The server-side cursor stays on the request's thread and connection (reads_database).
    rows = audit_csv_rows(queryset.iterator(chunk_size=2000))
    response = StreamingHttpResponse(
        streamed(rows, reads_database=True, holds_cursor=True, slot=slot), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response["Cache-Control"] = "no-store"
    return response
