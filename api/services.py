"""Writes for API clients: creation and token rotation. The plain token leaves only as a return value."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q

from api.models import ApiClient, ApiRole
from api.tokens import token_matches, token_new, token_prefix_of
from compliance.acts import Act
from controlplane.clock import SYSTEM_CLOCK, Clock
from regions.models import Region
from rtms.services import audit_record

logger = logging.getLogger(__name__)

# last_used_at is for people ("is this token still in use?"): one write a minute per client is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnknownRegion(ValueError):
    pass


def api_client_create(
    name: str,
    *,
    region_codes: Iterable[str],
    role: str = ApiRole.READ,
    quarantine_access: bool = False,
    manage_rules: bool = False,
    acts: Iterable[Act] = (),
    actor: str = "system",
    source_ip: str | None = None,
) -> tuple[ApiClient, str]:
    """A new client and its token (returned once, never stored). Audited (``api_client.created``).
    ``acts`` are the permissions it holds (compliance/acts.py); they need the read-write role."""
    acts = sorted(set(acts))
    if acts and role != ApiRole.READ_WRITE:
        raise ValueError("a client's acts need the read-write role")
    codes = sorted(set(region_codes))
    regions = list(Region.objects.filter(code__in=codes))
    missing = set(codes) - {r.code for r in regions}
    if missing:
        raise UnknownRegion(f"unknown region(s): {', '.join(sorted(missing))}")
    token, token_fields = token_issue(SYSTEM_CLOCK.now())
    with transaction.atomic():
        client = ApiClient.objects.create(
            name=name,
            **token_fields,
            role=role,
            quarantine_access=quarantine_access,
            manage_rules=manage_rules,
        )
        client.regions.set(regions)
        client.permissions.set(act_permissions(acts))
        api_client_audit(client, "api_client.created", actor=actor, source_ip=source_ip)
    logger.info("api_client.created", extra={"api_client_id": client.pk})
    return client, token


def token_issue(now: datetime) -> tuple[str, dict[str, Any]]:
    """A new token and the fields that make it a client's current one: prefix, hash, expiry. The one place
    a token's lifetime is decided (creation here, rotation, the admin's add)."""
    new = token_new()
    fields = {
        "token_prefix": new.prefix,
        "token_hash": new.token_hash,
        "token_expires_at": now + timedelta(days=settings.API_TOKEN_LIFETIME_DAYS),
    }
    return new.token, fields


def api_client_token_rotate(
    client: ApiClient, *, actor: str = "system", source_ip: str | None = None, clock: Clock = SYSTEM_CLOCK
) -> str:
    """A new token for ``client``, valid for a full lifetime. The old one keeps working for
    ``API_TOKEN_ROTATION_OVERLAP_HOURS`` (0: it stops at once), so the client can switch over. Audited."""
    now = clock.now()
    token, token_fields = token_issue(now)
    overlap = timedelta(hours=settings.API_TOKEN_ROTATION_OVERLAP_HOURS)
    old_until = min(now + overlap, client.token_expires_at or now + overlap) if overlap else None
    fields = {
        **token_fields,
        "previous_token_prefix": client.token_prefix if old_until else "",
        "previous_token_hash": client.token_hash if old_until else "",
        "previous_token_expires_at": old_until,
    }
    with transaction.atomic():
        ApiClient.objects.filter(pk=client.pk).update(**fields)
        for name, value in fields.items():
            setattr(client, name, value)
        api_client_audit(client, "api_client.token_rotated", actor=actor, source_ip=source_ip)
    logger.info("api_client.token_rotated", extra={"api_client_id": client.pk})
    return token


def api_client_revoke(client: ApiClient, *, actor: str, source_ip: str | None) -> None:
    """The client's tokens, current and previous, stop working at once. Audited."""
    with transaction.atomic():
        ApiClient.objects.filter(pk=client.pk).update(
            active=False, previous_token_prefix="", previous_token_hash="", previous_token_expires_at=None
        )
        client.active = False
        api_client_audit(client, "api_client.revoked", actor=actor, source_ip=source_ip)
    logger.info("api_client.revoked", extra={"api_client_id": client.pk})


def api_client_audit(client: ApiClient, action: str, *, actor: str, source_ip: str | None) -> None:
    """Who issued, rotated or changed a client's access, and from where; never the token itself (its
    prefix names it)."""
    audit_record(
        actor=actor,
        action=action,
        object_type="api_client",
        object_id=client.pk,
        source_ip=source_ip,
        detail={
            "name": client.name,
            "token_prefix": client.token_prefix,
            "role": client.role,
            "permissions": sorted(
                f"compliance.{codename}" for codename in client.permissions.values_list("codename", flat=True)
            ),
        },
    )


def act_permissions(acts: Iterable[Act]) -> list[Permission]:
    codenames = [Act(act).codename for act in acts]
    return list(Permission.objects.filter(content_type__app_label="compliance", codename__in=codenames))


def _token_valid(client: ApiClient, token: str, prefix: str, now: datetime) -> bool:
    """The current token until it expires, or the one a rotation replaced until its overlap ends."""
    if client.token_prefix == prefix:
        unexpired = client.token_expires_at is None or now < client.token_expires_at
        return unexpired and token_matches(token, client.token_hash)
    return (
        client.previous_token_expires_at is not None
        and now < client.previous_token_expires_at
        and token_matches(token, client.previous_token_hash)
    )


def api_client_authenticate(token: str, *, clock: Clock = SYSTEM_CLOCK) -> ApiClient | None:
    """The active client owning ``token``, or None."""
    prefix = token_prefix_of(token)
    if prefix is None:
        return None
    now = clock.now()
    client = (
        ApiClient.objects.filter(Q(token_prefix=prefix) | Q(previous_token_prefix=prefix), active=True)
        .order_by("pk")
        .first()
    )
    if client is None or not _token_valid(client, token, prefix, now):
        return None
    ApiClient.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION), pk=client.pk
    ).update(last_used_at=now)
    return client
