"""Which database alias holds a region's content (transcripts, media artifacts, speaker names)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings

from controlplane.region_databases import RegionDatabases

# (app_label, model_name) of every model whose rows are region content. Historical models in migrations
# carry no custom class attributes, so the router cannot ask the model itself.
CONTENT_MODELS: frozenset[tuple[str, str]] = frozenset(
    {
        ("rtms", "transcriptsegment"),
        ("rtms", "segmentwritefence"),
        ("rtms", "routedpayload"),
        ("rtms", "meetingdetails"),
    }
)


class RegionStorageNotConfigured(LookupError):
    """A region has no content database: REGION_DATABASES lists regions but neither it nor '*'."""


def _config() -> RegionDatabases:
    config: RegionDatabases = settings.REGION_DATABASES
    return config


def content_alias(region_code: str) -> str:
    alias = _config().alias_for(region_code)
    if alias is None:
        raise RegionStorageNotConfigured(
            f"region {region_code!r} has no content database; add it (or '*') to REGION_DATABASES"
        )
    return alias


def content_aliases() -> frozenset[str]:
    return _config().content_aliases


def regions_without_storage(region_codes: Iterable[str]) -> list[str]:
    """The regions among ``region_codes`` that have no content database."""
    config = _config()
    return sorted(code for code in region_codes if config.alias_for(code) is None)


def storage_missing_message(region_codes: Sequence[str]) -> str:
    """What an operator reads when regions have no content database: which, and the ways out."""
    example = '{"eu-central": "postgres://.../rtms_eu"}'
    return (
        f"active region(s) {', '.join(region_codes)} have no content database. Map each in "
        f"REGION_DATABASES (JSON: region code -> database URL, e.g. {example}), or deactivate the region "
        "in the admin. Keeping content in the control database is an explicit opt-in for a single-server "
        'setup: REGION_DATABASES={"*": "default"} (check --deploy warns).'
    )


def is_content_model(app_label: str, model_name: str) -> bool:
    return (app_label, model_name.lower()) in CONTENT_MODELS
