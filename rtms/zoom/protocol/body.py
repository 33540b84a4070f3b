"""An event body as bytes on the wire, before it is parsed or stored: decoded as strict JSON and checked to
be something PostgreSQL can store and a worker can read (zoom-protocol.md §4.1, §5).

``parse_event`` only validates the fields it reads; the rest of the body is stored as it came, in a
``jsonb`` column. So every part of it is checked here, whatever the event type: no NUL and no lone
surrogate anywhere (PostgreSQL refuses the one, UTF-8 cannot encode the other), no number JSON cannot
carry (NaN, Infinity, an integer Python will not read), no string longer than any Zoom field, no nesting
deeper than any Zoom body. A body that fails raises ``ProtocolError`` with its ``reason``; the caller
refuses it whole rather than store a part of it.
"""

from __future__ import annotations

import json
import math
from typing import Final

from rtms.zoom.protocol.fields import _UNSTORABLE, ProtocolError

__all__ = ["MAX_BODY_DEPTH", "MAX_FIELD_CHARS", "check_storable", "loads_body"]

# Zoom's bodies nest 4-5 levels (body > payload > object > participant > ...); 32 leaves room for any
# event type added later and keeps a hostile body from exhausting the stack of whoever reads it next.
MAX_BODY_DEPTH: Final = 32
# The longest field we know is server_urls (8192 is its parser limit); no Zoom string comes near this.
MAX_FIELD_CHARS: Final = 16384


def _refuse_constant(name: str) -> float:
    raise ProtocolError(f"body: {name} is not JSON", reason="invalid_json")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as inf, which PostgreSQL's jsonb refuses
        raise ProtocolError("body: a number out of range", reason="invalid_json")
    return value


def loads_body(raw: bytes | str, where: str = "body") -> object:
    """Strict JSON: what ``json.loads`` reads, less what ``jsonb`` cannot hold."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ProtocolError:
        raise
    # ValueError covers JSONDecodeError and an integer of more than 4300 digits; RecursionError a body
    # nested beyond the decoder's stack.
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise ProtocolError(f"{where}: invalid JSON", reason="invalid_json") from None


def _check_text(text: str, where: str) -> None:
    if len(text) > MAX_FIELD_CHARS:
        raise ProtocolError(f"{where}: a string too long", reason="field_too_long")
    if _UNSTORABLE.search(text):
        raise ProtocolError(f"{where}: NUL or a lone surrogate", reason="unstorable_text")


def check_storable(body: object, where: str = "body") -> None:
    """Walks the whole body without recursion; raises ``ProtocolError`` at the first part that fails."""
    pending: list[tuple[object, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list) and depth > MAX_BODY_DEPTH:
            raise ProtocolError(f"{where}: nested deeper than {MAX_BODY_DEPTH}", reason="too_deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ProtocolError(f"{where}: a key that is not a string")
                _check_text(key, where)
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(f"{where}: a number out of range", reason="invalid_json")
        elif value is not None and not isinstance(value, bool | int | float):
            raise ProtocolError(f"{where}: not a JSON value")
