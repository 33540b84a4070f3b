"""Which regions a member of staff may see.

A Django group per region (``compliance-<code>``) grants that region; ``compliance-quarantine`` grants the
quarantine (rows no residency rule matched, which belong to no region yet). Superusers see everything.
Anonymous or inactive users see nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

GROUP_PREFIX = "compliance-"
QUARANTINE_GROUP = "compliance-quarantine"


def group_name_for(region_code: str) -> str:
    return f"{GROUP_PREFIX}{region_code}"


@dataclass(frozen=True)
class RegionScope:
    all_regions: bool
    region_codes: frozenset[str]
    quarantine: bool

    def allows(self, region_code: str | None) -> bool:
        if self.all_regions:
            return True
        if region_code is None or region_code == "":
            return self.quarantine
        return region_code in self.region_codes


NO_ACCESS = RegionScope(all_regions=False, region_codes=frozenset(), quarantine=False)
FULL_ACCESS = RegionScope(all_regions=True, region_codes=frozenset(), quarantine=True)


def scope_for(user: AbstractBaseUser | AnonymousUser) -> RegionScope:
    if not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    if getattr(user, "is_superuser", False):
        return FULL_ACCESS
    groups = getattr(user, "groups", None)
    if groups is None:  # a custom user model without groups grants nothing
        return NO_ACCESS
    names = set(groups.values_list("name", flat=True))
    codes = frozenset(
        name.removeprefix(GROUP_PREFIX)
        for name in names
        if name.startswith(GROUP_PREFIX) and name != QUARANTINE_GROUP
    )
    return RegionScope(all_regions=False, region_codes=codes, quarantine=QUARANTINE_GROUP in names)


def scope_queryset(qs: QuerySet[Any], scope: RegionScope, code_path: str, quarantined: Q) -> QuerySet[Any]:
    """The rows of ``qs`` that ``scope`` may see, for the admin, the API and the live pages alike.
    ``code_path`` leads to the region code (e.g. ``region__code``); ``quarantined`` matches the rows no
    residency rule matched, the only region-less rows the quarantine group may see (issue #20: pending,
    ignored and failed rows have no region either, and are not theirs). ``NOTHING`` where there are none."""
    if scope.all_regions:
        return qs
    condition = Q(**{f"{code_path}__in": sorted(scope.region_codes)})
    if scope.quarantine:
        condition |= quarantined
    return qs.filter(condition)


NOTHING = Q(pk__in=[])  # for scope_queryset: a model with no quarantined rows
