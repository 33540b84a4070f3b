"""Many group messages in one Redis round trip: how the gateway publishes a flush to the live pages.

The pipelining reaches into channels_redis's internals, so it lives with the other runtime patches
(controlplane/runtime/channels_redis_pubsub.py, docs/patches.md); this is the name the live side uses.
"""

from __future__ import annotations

from controlplane.runtime.channels_redis_pubsub import GroupMessage, group_send_many

__all__ = ["GroupMessage", "group_send_many"]
