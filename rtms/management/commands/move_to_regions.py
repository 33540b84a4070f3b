"""``manage.py move_to_regions``: move personal data stored before issue #19 to the owning regions.

- the bodies of routed events (``rtms.RoutedPayload`` in each region's database; the control row keeps
  a stub);
- meetings' topics and host e-mails (``rtms.MeetingDetails``; the control row keeps the e-mail's keyed
  hash and domain; a quarantined meeting, which has no region, keeps only those).

Resumable: it works in batches, each row copied to its region before its control copy goes, so it can be
stopped and run again at any time. ``check --deploy`` warns (``rtms.W001``) until nothing is left. It writes
to every region's database: run it where they are all reachable. ``--rehash`` recomputes the e-mail hashes
under the current ``PERSONAL_DATA_HASH_KEY`` (a key rotation, docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from regions.models import Region
from regions.storage import regions_without_storage
from rtms.inbox.payloads import move_routed_bodies, routed_bodies_in_control
from rtms.personal import legacy_details_in_control, move_legacy_details, rehash_emails


class Command(BaseCommand):
    help = "Move personal data stored before issue #19 from the control database to the regions; resumable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="rows per batch (default 500)")
        parser.add_argument("--dry-run", action="store_true", help="only count what would move")
        parser.add_argument(
            "--rehash", action="store_true", help="recompute e-mail hashes under the current key"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch = max(1, options["batch"])
        steps: list[tuple[str, int, Callable[[], int]]] = [
            (
                "routed event bodies",
                routed_bodies_in_control().count(),
                lambda: move_routed_bodies(batch=batch),
            ),
            (
                "meetings' topics and host e-mails",
                legacy_details_in_control().count(),
                lambda: move_legacy_details(batch=batch),
            ),
        ]
        for what, left, step in steps:
            if options["dry_run"]:
                self.stdout.write(f"{left} {what} would move to their regions")
                continue
            moved = 0
            while done := step():
                moved += done
                self.stdout.write(f"{what}: moved {moved} of {left}")
            self.stdout.write(f"done: {moved} {what} moved to their regions, none left")
        if options["rehash"] and not options["dry_run"]:
            codes = list(Region.objects.values_list("code", flat=True))
            stored = [code for code in codes if code not in regions_without_storage(codes)]
            self.stdout.write(f"rehashed {rehash_emails(stored, batch=batch)} meetings' e-mail hashes")
