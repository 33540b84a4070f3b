"""``manage.py retention_sweep [--dry-run] [--region CODE] [--json]``: apply the retention policies now."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.retention import retention_sweep
from regions.models import Region


class Command(BaseCommand):
    help = (
        "Delete what each region's retention policy says is too old (transcripts, audio, inbox payloads), "
        "or with --dry-run print what would be deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report only; change nothing")
        parser.add_argument(
            "--region", action="append", dest="regions", metavar="CODE", help="only this region (repeatable)"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable report")

    def handle(self, *args: Any, **options: Any) -> None:
        codes: list[str] | None = options["regions"]
        if codes:
            unknown = sorted(
                set(codes) - set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
            )
            if unknown:
                raise CommandError(f"unknown region(s): {', '.join(unknown)}")
        report = retention_sweep(dry_run=options["dry_run"], region_codes=codes or None)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        for line in report.lines():
            self.stdout.write(line)
