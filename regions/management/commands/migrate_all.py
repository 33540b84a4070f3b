"""``manage.py migrate_all``: migrate the control database and every region content database."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run migrations on 'default' and on every REGION_DATABASES alias."

    def handle(self, *args: Any, **options: Any) -> None:
        for alias in settings.DATABASES:
            self.stdout.write(f"migrating database alias {alias!r}")
            call_command("migrate", database=alias, interactive=False, verbosity=options["verbosity"])
