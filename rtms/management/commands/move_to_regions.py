"""``manage.py move_to_regions``: move personal data stored before issue #19 to the owning regions.

Today that is the bodies of routed events (``rtms.RoutedPayload`` in each region's database; the control
row keeps a stub). Resumable: it works in batches, each row copied to its region before its control copy
goes, so it can be stopped and run again at any time. ``check --deploy`` warns until nothing is left.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rtms.inbox.payloads import move_routed_bodies, routed_bodies_in_control


class Command(BaseCommand):
    help = "Move routed event bodies (personal data) from the control database to their regions; resumable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="rows per batch (default 500)")
        parser.add_argument("--dry-run", action="store_true", help="only count what would move")

    def handle(self, *args: Any, **options: Any) -> None:
        left = routed_bodies_in_control().count()
        if options["dry_run"]:
            self.stdout.write(f"{left} routed event bodies would move to their regions")
            return
        moved = 0
        while True:
            done = move_routed_bodies(batch=max(1, options["batch"]))
            if not done:
                break
            moved += done
            self.stdout.write(f"moved {moved} of {left}")
        self.stdout.write(f"done: {moved} routed event bodies moved to their regions, none left")
