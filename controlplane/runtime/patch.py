"""What a patch declares: the library versions it was written against, checked where it is installed.

A patch that reaches into a library's internals is only known to be right for the code it was read
against. On any other version the caller falls back to the library's own behaviour, so an upgrade costs
at most what the patch gained, and the fallback is logged (``runtime.patch_skipped``) so that someone reads
the patch again against the new version (docs/patches.md).
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Version = tuple[int, int]  # (major, minor): patch releases do not move internals on purpose

_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")


def installed_version(library: str) -> Version | None:
    """(major, minor) of the importable ``library`` (its ``__version__``), or of Python for ``"python"``
    (for patches of the standard library); None when it is not installed or states no version."""
    if library == "python":
        return (sys.version_info.major, sys.version_info.minor)
    try:
        module = importlib.import_module(library)
    except ImportError:
        return None
    match = _MAJOR_MINOR.match(str(getattr(module, "__version__", "")))
    return (int(match[1]), int(match[2])) if match else None


def _shown(version: Version | None) -> str:
    return "missing" if version is None else f"{version[0]}.{version[1]}"


@dataclass(frozen=True)
class Pin:
    """A library the patch reaches into, and the (major, minor) versions its internals were checked at."""

    library: str
    versions: tuple[Version, ...]


@dataclass(frozen=True)
class Patch:
    name: str  # the module's name in controlplane/runtime/, as docs/patches.md lists it
    pins: tuple[Pin, ...]

    def check(self) -> bool:
        """True when every pinned library is at a version the patch was written against. Otherwise one
        ``runtime.patch_skipped`` warning per library that differs, and False: the caller must then use
        the library's own behaviour."""
        applies = True
        for pin in self.pins:
            found = installed_version(pin.library)
            if found in pin.versions:
                continue
            applies = False
            logger.warning(
                "runtime.patch_skipped",
                extra={
                    "patch": self.name,
                    "library": pin.library,
                    "found": _shown(found),
                    "expected": ", ".join(_shown(v) for v in pin.versions),
                },
            )
        return applies
