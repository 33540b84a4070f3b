"""``manage.py demo_setup``: residency rules and sign-ins for the local demo. Refuses to run unless DEBUG."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from regions.models import Region, ResidencyRule, RuleField, RuleTier
from regions.services import region_groups_sync

DEMO_RULES = [
    (10, "eu.example.com", "eu-central"),
    (20, "us.example.com", "us-east"),
    (30, "ap.example.com", "ap-southeast"),
]


class Command(BaseCommand):
    help = "Create demo residency rules (by host e-mail domain) and demo sign-ins. Local demo only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="demo-password", help="password of the demo users")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup creates well-known passwords; it only runs with DEBUG=true")
        for position, domain, code in DEMO_RULES:
            region = Region.objects.get(code=code)
            ResidencyRule.objects.update_or_create(
                position=position,
                tier=RuleTier.STAFF,
                defaults={
                    "field": RuleField.HOST_EMAIL_DOMAIN,
                    "value": domain,
                    "region": region,
                    "note": "demo",
                },
            )
        region_groups_sync()
        password = options["password"]
        admin, _ = User.objects.get_or_create(
            username="demo", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password(password)
        admin.save()
        officer, _ = User.objects.get_or_create(username="eu-officer", defaults={"is_staff": True})
        officer.set_password(password)
        officer.save()
        officer.groups.add(Group.objects.get(name="compliance-eu-central"))
        self.stdout.write(f"demo sign-ins: demo / {password} (superuser), eu-officer / {password} (EU only)")
