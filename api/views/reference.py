"""Regions and residency rules. Rules are readable within the caller's regions; changing them needs
staff permissions or an API client granted rule management, and every change is audited."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from api.errors import Conflict
from api.filters import ResidencyRuleFilter
from api.pagination import CodeCursorPagination, PositionCursorPagination
from api.serializers import RegionSerializer, ResidencyRuleSerializer
from api.views.common import ID_REGEX, ScopedQuerysetMixin
from controlplane.client_ip import client_ip
from regions.access import NOTHING
from regions.models import Region, ResidencyRule, RuleTier
from rtms.services import audit_record

_RULE_FIELDS = ("position", "tier", "field", "tracking_field_name", "value", "region_id", "active", "note")


class RegionViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    serializer_class = RegionSerializer
    pagination_class = CodeCursorPagination
    lookup_field = "code"
    lookup_value_regex = r"[a-z0-9][a-z0-9-]{0,62}"  # regions.models.REGION_CODE_VALIDATOR
    region_code_path = "code"
    quarantined_q = NOTHING  # a region is never quarantined

    def base_queryset(self) -> QuerySet[Region]:
        return Region.objects.all()


class ResidencyRuleViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):  # type: ignore[type-arg]
    serializer_class = ResidencyRuleSerializer
    pagination_class = PositionCursorPagination
    filterset_class = ResidencyRuleFilter
    lookup_value_regex = ID_REGEX
    quarantined_q = NOTHING  # every rule names a region
    error_statuses = {"create": ("409",), "update": ("409",), "partial_update": ("409",)}

    def base_queryset(self) -> QuerySet[ResidencyRule]:
        return ResidencyRule.objects.select_related("region")

    def _audit(self, action: str, rule: ResidencyRule, changed: list[str]) -> None:
        audit_record(
            actor=self.principal.actor,
            action=action,
            object_type="residency_rule",
            object_id=rule.pk,
            region_code=rule.region.code,
            source_ip=client_ip(self.request),
            # Names of what changed, not values: a rule's value may be a host id.
            detail={"via": "api", "position": rule.position, "field": rule.field, "changed": changed},
        )

    # Permission before validation: a caller who may not write learns nothing from a validation error.
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.principal.require_rule_management()
        return super().create(request, *args, **kwargs)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._require_may_change(self.get_object())
        return super().update(request, *args, **kwargs)

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        if self.principal.client is not None:
            # A client's rule comes after every staff rule and never over another region's (issue #20).
            rule = _save(serializer, tier=RuleTier.CLIENT, managed_by=self.principal.actor)
        else:
            rule = _save(serializer, tier=RuleTier.STAFF)
        self._audit("rule.create", rule, list(_RULE_FIELDS))

    def _require_may_change(self, rule: ResidencyRule) -> None:
        self.principal.require_rule_management()
        if self.principal.client is not None and rule.tier != RuleTier.CLIENT:
            raise PermissionDenied("staff rules are changed by superusers only")

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        before = {name: getattr(serializer.instance, name) for name in _RULE_FIELDS}
        rule = _save(serializer)
        changed = [name for name in _RULE_FIELDS if getattr(rule, name) != before[name]]
        self._audit("rule.update", rule, changed)

    def perform_destroy(self, instance: ResidencyRule) -> None:
        self._require_may_change(instance)
        self._audit("rule.delete", instance, [])
        instance.delete()


def _save(serializer: BaseSerializer[Any], **fields: Any) -> ResidencyRule:
    """The serializer checked the position; a concurrent writer may still take it first (409, not 500)."""
    try:
        with transaction.atomic():
            rule: ResidencyRule = serializer.save(**fields)
    except IntegrityError:
        raise Conflict("another rule took this position meanwhile; choose another") from None
    return rule
