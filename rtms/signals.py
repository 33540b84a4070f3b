"""post_migrate: make sure the default Zoom account and the per-region staff groups exist."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_migrate
from django.dispatch import receiver

from regions.services import region_groups_sync
from rtms.accounts import account_ensure_default


@receiver(post_migrate)
def _bootstrap(sender: Any, using: str = "default", **kwargs: Any) -> None:
    if getattr(sender, "name", "") != "rtms" or using != "default":
        return
    account_ensure_default()
    region_groups_sync()
