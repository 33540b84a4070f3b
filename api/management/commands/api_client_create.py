"""``manage.py api_client_create <name> --region eu-central --role read``: prints the token, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.models import ApiClient, ApiRole
from api.services import UnknownRegion, api_client_create
from compliance.acts import Act


class Command(BaseCommand):
    help = "Create an API client for another team and print its token (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="who the client is, e.g. 'analytics-eu'; shown in the audit log")
        parser.add_argument(
            "--region", action="append", default=[], dest="regions", help="region code; repeat for several"
        )
        parser.add_argument("--role", choices=ApiRole.values, default=ApiRole.READ)
        parser.add_argument(
            "--quarantine",
            action="store_true",
            help="also see (and with read-write, re-route) the quarantine",
        )
        parser.add_argument(
            "--permission",
            action="append",
            default=[],
            dest="acts",
            choices=[act.value for act in Act],
            help="an act the client may do in its regions (the same permission staff need in the admin); "
            "repeat for several; needs --role read-write",
        )
        parser.add_argument(
            "--manage-rules",
            action="store_true",
            help="may change residency rules of its regions (read-write)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("the name must be 1 to 100 characters")
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"an API client named {name!r} exists already")
        if not options["regions"] and not options["quarantine"]:
            raise CommandError(
                "give at least one --region (or --quarantine): a client with no region sees nothing"
            )
        if options["manage_rules"] and options["role"] != ApiRole.READ_WRITE:
            raise CommandError("--manage-rules needs --role read-write")
        if options["acts"] and options["role"] != ApiRole.READ_WRITE:
            raise CommandError("--permission needs --role read-write")
        try:
            client, token = api_client_create(
                name,
                region_codes=options["regions"],
                role=options["role"],
                quarantine_access=options["quarantine"],
                manage_rules=options["manage_rules"],
                acts=[Act(value) for value in options["acts"]],
                actor="manage.py api_client_create",
            )
        except UnknownRegion as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            f"API client {client.name!r} (id {client.pk}) created; regions: "
            f"{', '.join(sorted(options['regions'])) or '-'}; role: {client.role}; "
            f"permissions: {', '.join(sorted(options['acts'])) or '-'}. "
            "The token below is shown only now; store it in your secret manager."
        )
        self.stdout.write(token)
