"""``manage.py celery_queues [--region CODE ...] [--no-central]``: the comma list for ``celery worker -Q``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from regions.models import Region
from regions.queues import worker_queues


class Command(BaseCommand):
    help = "Print the queue list a worker should consume (central queues and one per region)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--region", action="append", default=[], help="limit to these regions (repeatable)"
        )
        parser.add_argument("--no-central", action="store_true", help="leave out the central queues")

    def handle(self, *args: Any, **options: Any) -> None:
        known = set(Region.objects.filter(active=True).values_list("code", flat=True))
        wanted = options["region"] or sorted(known)
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise CommandError(f"unknown or inactive region(s): {', '.join(unknown)}")
        self.stdout.write(",".join(worker_queues(wanted, include_central=not options["no_central"])))
