"""What tells one deployment from another that shares its Redis server (settings.CHANNEL_LAYER_PREFIX)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def default_channel_layer_prefix(database: Mapping[str, object]) -> str:
    """``rtms-live.<database name>.<8 hex digits of host:port/name>``: the same in every process of a
    deployment (they share the control database), different for a deployment with another database,
    even one of the same name on another server. Only characters Redis channel names and Channels accept."""
    name = str(database.get("NAME") or "")
    where = f"{database.get('HOST') or ''}:{database.get('PORT') or ''}/{name}"
    digest = hashlib.sha256(where.encode()).hexdigest()[:8]
    readable = _UNSAFE.sub("-", name)[:40] or "db"
    return f"rtms-live.{readable}.{digest}"
