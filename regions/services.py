"""Writes for regions: staff groups that grant a region's visibility."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from regions.access import QUARANTINE_GROUP, group_name_for
from regions.models import Region

# What a compliance group may view. Scoping to the region happens in the admin querysets.
_VIEWABLE = [
    ("regions", "region"),
    ("regions", "residencyrule"),
    ("rtms", "zoomaccount"),
    ("rtms", "meeting"),
    ("rtms", "meetingtransition"),
    ("rtms", "rtmsstream"),
    ("rtms", "streamtransition"),
    ("rtms", "inboundevent"),
    ("rtms", "transcriptsegment"),
    ("rtms", "auditlog"),
    ("reconciler", "reconcilerun"),
]


def _view_permissions() -> list[Permission]:
    perms = []
    for app_label, model in _VIEWABLE:
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=f"view_{model}").first()
        if perm is not None:
            perms.append(perm)
    return perms


def region_groups_sync() -> list[str]:
    """Every region has its ``compliance-<code>`` group (plus the quarantine group) with view rights.
    Idempotent; returns the group names."""
    perms = _view_permissions()
    names = [group_name_for(code) for code in Region.objects.values_list("code", flat=True)]
    names.append(QUARANTINE_GROUP)
    for name in names:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*perms)
    return names
