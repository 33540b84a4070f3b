"""Structured (JSON-line) logging. Never pass secrets or tokens as fields."""

from __future__ import annotations

import json
import logging
from typing import Any

from zoomsim.clock import iso_ms, utcnow


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "at": iso_ms(utcnow()),
            "level": record.levelname,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for k, v in fields.items():
                out[k if k not in out else "field_" + k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("zoomsim")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def log_event(logger: logging.Logger, name: str, level: int = logging.INFO, /, **fields: Any) -> None:
    logger.log(level, name, extra={"fields": fields})
