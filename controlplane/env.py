"""Typed readers for 12-factor settings.

Every reader names the variable in its error, so a bad deployment fails at start-up with a message
an operator can act on instead of a traceback deep inside a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from django.core.exceptions import ImproperlyConfigured

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    source = os.environ if environ is None else environ
    value = source.get(name)
    return None if value is None else value.strip()


def env_str(
    name: str, default: str | _Required = REQUIRED, *, environ: Mapping[str, str] | None = None
) -> str:
    value = _raw(name, environ)
    if value is None or value == "":
        if isinstance(default, _Required):
            raise ImproperlyConfigured(f"{name} is required but not set")
        return default
    return value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no), got {value!r}")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value == "":
        result = default
    else:
        try:
            result = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and result < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {result}")
    return result


def env_seconds(
    name: str,
    default: float,
    *,
    minimum: float = 0.0,
    environ: Mapping[str, str] | None = None,
) -> timedelta:
    """A duration given in (possibly fractional) seconds, returned as a timedelta."""
    value = _raw(name, environ)
    if value is None or value == "":
        seconds = default
    else:
        try:
            seconds = float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a number of seconds, got {value!r}") from None
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            raise ImproperlyConfigured(f"{name} must be a finite number of seconds, got {value!r}")
    if seconds < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum} seconds, got {seconds}")
    return timedelta(seconds=seconds)


def env_list(name: str, default: list[str], *, environ: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(
    name: str, default: str, choices: frozenset[str], *, environ: Mapping[str, str] | None = None
) -> str:
    value = env_str(name, default, environ=environ)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def env_json_object(
    name: str, default: dict[str, str], *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A JSON object of string to string, e.g. REGION_DATABASES."""
    value = _raw(name, environ)
    if value is None or value == "":
        return dict(default)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {exc.msg}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ImproperlyConfigured(f"{name} must be a JSON object mapping strings to strings")
    return parsed
