"""The ledger: an append-only record of everything zoomsim did."""

from __future__ import annotations

import threading
from typing import Any

from zoomsim.clock import iso_ms, utcnow


class Ledger:
    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._seq = 0
        self._lock = threading.Lock()

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry: dict[str, Any] = {"seq": self._seq, "at": iso_ms(utcnow()), "kind": kind}
            entry.update({k: v for k, v in fields.items() if v is not None})
            self._entries.append(entry)
            return entry

    def clear(self) -> None:
        """Drop all entries; `seq` keeps increasing so `since` stays meaningful across resets."""
        with self._lock:
            self._entries.clear()

    def query(
        self,
        kind: str | None = None,
        meeting_uuid: str | None = None,
        since: int | None = None,
        event: str | None = None,
    ) -> list[dict[str, Any]]:
        kinds = [k for k in (kind or "").split(",") if k]
        with self._lock:
            entries = list(self._entries)
        out = []
        for e in entries:
            if since is not None and e["seq"] <= since:
                continue
            if kinds and not any(_kind_match(k, e["kind"]) for k in kinds):
                continue
            if meeting_uuid is not None and e.get("meeting_uuid") != meeting_uuid:
                continue
            if event is not None and e.get("event") != event:
                continue
            out.append(e)
        return out


def _kind_match(pattern: str, kind: str) -> bool:
    if pattern.endswith("*"):
        return kind.startswith(pattern[:-1])
    return kind == pattern
