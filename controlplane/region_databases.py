"""REGION_DATABASES: which database alias holds each region's content.

The variable is a JSON object from region code to a database URL (or the word ``default``). The key ``*``
is the fallback for regions not listed. A region with neither has *no* content storage: writing its content
fails loudly, and the processes refuse to start while such a region is active (regions/startup.py).
Unset, no region has storage (issue #19: residency fails closed). Keeping content in the control database
is an explicit opt-in, ``{"*": "default"}`` (the single-server setup), which ``check --deploy`` reports:
silently storing an EU meeting in a central database is the failure this setting exists to prevent.

Regions that share a URL share one alias, so one physical database is never migrated twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_ALIAS = "default"
FALLBACK_KEY = "*"
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class RegionDatabasesError(ValueError):
    pass


@dataclass(frozen=True)
class RegionDatabases:
    # alias -> database URL, for aliases other than "default"
    extra_aliases: dict[str, str] = field(default_factory=dict)
    # region code -> alias
    by_region: dict[str, str] = field(default_factory=dict)
    fallback_alias: str | None = None

    @property
    def content_aliases(self) -> frozenset[str]:
        aliases = set(self.by_region.values())
        if self.fallback_alias is not None:
            aliases.add(self.fallback_alias)
        return frozenset(aliases)

    def alias_for(self, region_code: str) -> str | None:
        return self.by_region.get(region_code, self.fallback_alias)

    @property
    def in_control_database(self) -> list[str]:
        """The keys (region codes, or "*") whose content the mapping puts in the control database."""
        keys = [code for code, alias in sorted(self.by_region.items()) if alias == DEFAULT_ALIAS]
        return keys + ([FALLBACK_KEY] if self.fallback_alias == DEFAULT_ALIAS else [])


def alias_name(region_code: str) -> str:
    return "region_" + region_code.replace("-", "_")


def parse_region_databases(mapping: dict[str, str], default_url: str) -> RegionDatabases:
    if not mapping:
        return RegionDatabases()
    url_to_alias: dict[str, str] = {default_url: DEFAULT_ALIAS}
    extra: dict[str, str] = {}
    by_region: dict[str, str] = {}
    fallback: str | None = None
    for code, target in sorted(mapping.items()):
        if code != FALLBACK_KEY and not _CODE.match(code):
            raise RegionDatabasesError(
                f"REGION_DATABASES: {code!r} is not a region code (lowercase, digits, -)"
            )
        url = default_url if target.strip() == DEFAULT_ALIAS else target.strip()
        if not url:
            raise RegionDatabasesError(f"REGION_DATABASES: region {code!r} has an empty database URL")
        alias = url_to_alias.get(url)
        if alias is None:
            alias = alias_name("fallback" if code == FALLBACK_KEY else code)
            url_to_alias[url] = alias
            extra[alias] = url
        if code == FALLBACK_KEY:
            fallback = alias
        else:
            by_region[code] = alias
    return RegionDatabases(extra_aliases=extra, by_region=by_region, fallback_alias=fallback)
