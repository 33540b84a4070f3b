"""What every API view shares: the caller's scope applied to the queryset before any lookup."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from api.access import Principal, principal_of
from regions.access import scope_queryset
from rtms.quarantine import quarantined_meetings

ID_REGEX = r"[0-9]{1,18}"  # bigint-sized ids only; anything else is a 404, never a database error


class ScopedQuerysetMixin:
    """``region_code_path`` leads from the model to its region's code; ``quarantined_q`` matches the rows
    no residency rule matched (visible only with quarantine access; rtms/quarantine.py)."""

    request: Any
    region_code_path = "region__code"
    quarantined_q = quarantined_meetings()

    @property
    def principal(self) -> Principal:
        return principal_of(self.request)

    def base_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        # As the admin scopes its querysets: one definition of who sees which rows.
        return scope_queryset(
            self.base_queryset(), self.principal.scope, self.region_code_path, self.quarantined_q
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context: dict[str, Any] = super().get_serializer_context()  # type: ignore[misc]
        context["principal"] = self.principal
        return context


class PassThroughNegotiation(BaseContentNegotiation):
    """For downloads (WAV, VTT): the view picks the content type, whatever the Accept header says.
    Errors are still rendered as JSON by the first renderer."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, str(first.media_type)

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)
