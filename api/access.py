"""Who is calling and what they may see: API clients by their regions, staff by their groups.

Everything a caller may not see is filtered out of querysets *before* any lookup, so an object of another
region is a 404, exactly like one that does not exist, and never appears in a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from api.models import ApiClient
from compliance.acts import Act, user_may
from regions.access import NO_ACCESS, RegionScope, scope_for


class ApiClientUser:
    """What ``request.user`` is for a token: authenticated, but never staff and never a Django user."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.pk = f"api-client:{client.pk}"

    def __str__(self) -> str:
        return f"api:{self.client.name}"


@dataclass(frozen=True)
class Principal:
    actor: str  # as written to the audit log
    scope: RegionScope
    client: ApiClient | None = None
    user: AbstractBaseUser | None = None

    def allows(self, region_code: str | None) -> bool:
        return self.scope.allows(region_code)

    def require(self, act: Act) -> None:
        """An act needs its one permission (compliance/acts.py), held by the staff user (or a group) or by
        the API client (which also needs the read-write role); the same check as the admin's."""
        if self.client is not None:
            if not self.client.can_write:
                raise PermissionDenied("this API client has the read role; the action needs read-write")
            if not self.client.may(act):
                raise PermissionDenied(f"this API client does not hold the {act} permission")
            return
        if self.user is None or not user_may(self.user, act):
            raise PermissionDenied(f"this action needs the {act} permission")

    def require_rule_management(self) -> None:
        """Staff rules decide for every region: a superuser's. A client's need ``manage_rules`` (and come
        after staff rules, into its regions only: regions/residency.py)."""
        if self.client is not None:
            if not (self.client.can_write and self.client.manage_rules):
                raise PermissionDenied("this API client may not change residency rules")
            return
        if self.user is None or not getattr(self.user, "is_superuser", False):
            raise PermissionDenied("residency rules decide for every region: only a superuser changes them")

    def require_reroute(self) -> None:
        """Re-routing needs its permission and access to the quarantine."""
        self.require(Act.REROUTE)
        if not self.scope.quarantine:
            raise PermissionDenied("re-routing needs access to the quarantine")


def scope_of_client(client: ApiClient) -> RegionScope:
    return RegionScope(
        all_regions=False,
        region_codes=frozenset(client.regions.values_list("code", flat=True)),
        quarantine=client.quarantine_access,
    )


def principal_of(request: Request) -> Principal:
    cached: Principal | None = getattr(request, "_api_principal", None)
    if cached is not None:
        return cached
    principal = _principal(request.user, request.auth)
    request._api_principal = principal  # type: ignore[attr-defined]
    return principal


def _principal(user: Any, auth: Any) -> Principal:
    if isinstance(auth, ApiClient):
        return Principal(actor=f"api:{auth.name}", scope=scope_of_client(auth), client=auth)
    if isinstance(user, AbstractBaseUser) and user.is_active and getattr(user, "is_staff", False):
        return Principal(actor=user.get_username(), scope=scope_for(user), user=user)
    if isinstance(user, AnonymousUser | AbstractBaseUser):
        return Principal(actor="anonymous", scope=NO_ACCESS)
    return Principal(actor="anonymous", scope=NO_ACCESS)
