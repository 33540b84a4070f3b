"""Writes for API clients: creation and token rotation. The plain token leaves only as a return value."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from api.models import ApiClient, ApiRole
from api.tokens import token_matches, token_new, token_prefix_of
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
    actor: str = "system",
    source_ip: str | None = None,
) -> tuple[ApiClient, str]:
    """A new client and its token (returned once, never stored). Audited (``api_client.created``)."""
    codes = sorted(set(region_codes))
    regions = list(Region.objects.filter(code__in=codes))
    missing = set(codes) - {r.code for r in regions}
    if missing:
        raise UnknownRegion(f"unknown region(s): {', '.join(sorted(missing))}")
    new = token_new()
    with transaction.atomic():
        client = ApiClient.objects.create(
            name=name,
            token_prefix=new.prefix,
            token_hash=new.token_hash,
            role=role,
            quarantine_access=quarantine_access,
            manage_rules=manage_rules,
        )
        client.regions.set(regions)
        api_client_audit(client, "api_client.created", actor=actor, source_ip=source_ip)
    logger.info("api_client.created", extra={"api_client_id": client.pk})
    return client, new.token


def api_client_token_rotate(client: ApiClient, *, actor: str = "system", source_ip: str | None = None) -> str:
    """A new token for ``client``; the old one stops working at once. Audited."""
    new = token_new()
    with transaction.atomic():
        ApiClient.objects.filter(pk=client.pk).update(token_prefix=new.prefix, token_hash=new.token_hash)
        api_client_audit(client, "api_client.token_rotated", actor=actor, source_ip=source_ip)
    client.token_prefix, client.token_hash = new.prefix, new.token_hash
    logger.info("api_client.token_rotated", extra={"api_client_id": client.pk})
    return new.token


def api_client_audit(client: ApiClient, action: str, *, actor: str, source_ip: str | None) -> None:
    """Who issued, rotated or changed a client's access, and from where; never the token itself (its
    prefix names it)."""
    audit_record(
        actor=actor,
        action=action,
        object_type="api_client",
        object_id=client.pk,
        source_ip=source_ip,
        detail={"name": client.name, "token_prefix": client.token_prefix, "role": client.role},
    )


def api_client_authenticate(token: str, *, clock: Clock = SYSTEM_CLOCK) -> ApiClient | None:
    """The active client owning ``token``, or None."""
    prefix = token_prefix_of(token)
    if prefix is None:
        return None
    client = ApiClient.objects.filter(token_prefix=prefix, active=True).first()
    if client is None or not token_matches(token, client.token_hash):
        return None
    now = clock.now()
    ApiClient.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION), pk=client.pk
    ).update(last_used_at=now)
    return client
