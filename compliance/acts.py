"""One permission for one act, wherever it is done (issue #20).

The admin's actions, the API (a staff session or an API client) and the commands check the same Django
permission for the same act. Staff hold it through their user or groups; an API client holds it in its
``permissions`` (and needs the read-write role besides). Seeing the meeting's region is needed on top:
a permission never reaches a row the holder's scope does not show.

Residency rules are not in this set: their order decides for every region, so staff rules are a
superuser's, and an API client's rules (``manage_rules``) only ever come after them (regions/residency.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from regions.access import QUARANTINE_GROUP

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Act(StrEnum):
    ERASE = "compliance.erase_meeting"
    CONTROL_RTMS = "compliance.control_rtms"
    REROUTE = "compliance.reroute_quarantined"

    @property
    def codename(self) -> str:
        return self.value.partition(".")[2]


# (codename, name) as Django lists them: compliance.models.ErasureTombstone.Meta.permissions.
ACT_PERMISSIONS: list[tuple[str, str]] = [
    (Act.ERASE.codename, "Can erase a meeting's content and personal data"),
    (Act.CONTROL_RTMS.codename, "Can start and stop RTMS for a meeting by hand"),
    (Act.REROUTE.codename, "Can re-route quarantined events (with access to the quarantine)"),
]
ACT_CODENAMES = [codename for codename, _ in ACT_PERMISSIONS]


def user_may(user: AbstractBaseUser | AnonymousUser, act: Act) -> bool:
    return bool(user.is_active and user.has_perm(act.value))  # type: ignore[attr-defined]


def quarantine_group_may_reroute(using: str = "default", **kwargs: Any) -> None:
    """post_migrate (and after a test flush): the quarantine group is who re-routes the quarantine, as it
    always was in the admin, so it holds the permission; others get it only together with the group."""
    from django.contrib.auth.models import Group, Permission  # auth's models: not at import of models.py

    if using != "default":
        return
    permission = Permission.objects.filter(
        content_type__app_label="compliance", codename=Act.REROUTE.codename
    ).first()
    if permission is None:
        return
    group, _ = Group.objects.get_or_create(name=QUARANTINE_GROUP)
    group.permissions.add(permission)
