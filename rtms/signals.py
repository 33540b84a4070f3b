"""post_migrate: make sure the default Zoom account and the per-region staff groups exist. A saved or
deleted account: this process reads the accounts' webhook secrets afresh at the next delivery."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from regions.services import region_groups_sync
from rtms.accounts import account_ensure_default
from rtms.inbox.webhook import webhook_keys_forget
from rtms.models import ZoomAccount


@receiver(post_migrate)
def _bootstrap(sender: Any, using: str = "default", **kwargs: Any) -> None:
    if getattr(sender, "name", "") != "rtms" or using != "default":
        return
    account_ensure_default()
    region_groups_sync()


post_save.connect(webhook_keys_forget, sender=ZoomAccount, dispatch_uid="rtms.webhook_keys_saved")
post_delete.connect(webhook_keys_forget, sender=ZoomAccount, dispatch_uid="rtms.webhook_keys_deleted")
