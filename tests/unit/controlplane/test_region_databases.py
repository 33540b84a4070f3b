from __future__ import annotations

import pytest

from controlplane.region_databases import RegionDatabasesError, parse_region_databases

DEFAULT = "postgres://h/main"


def test_unset_means_no_region_has_storage() -> None:
    # Issue #19: residency fails closed; the control database holds content only by explicit opt-in.
    config = parse_region_databases({}, DEFAULT)
    assert config.alias_for("eu-central") is None
    assert config.extra_aliases == {}
    assert config.content_aliases == frozenset()
    assert config.in_control_database == []


def test_the_opt_in_to_the_control_database_is_explicit_and_named() -> None:
    config = parse_region_databases({"*": "default"}, DEFAULT)
    assert config.alias_for("eu-central") == "default"
    assert config.in_control_database == ["*"]
    mixed = parse_region_databases({"eu-central": "postgres://h/eu", "us-east": "default"}, DEFAULT)
    assert mixed.in_control_database == ["us-east"]


def test_listed_regions_get_their_own_alias_and_shared_urls_share_one() -> None:
    config = parse_region_databases(
        {"eu-central": "postgres://h/eu", "eu-west": "postgres://h/eu", "us-east": "default"}, DEFAULT
    )
    assert config.alias_for("eu-central") == config.alias_for("eu-west") == "region_eu_central"
    assert config.alias_for("us-east") == "default"
    assert config.extra_aliases == {"region_eu_central": "postgres://h/eu"}


def test_a_region_not_listed_has_no_storage_without_a_fallback() -> None:
    config = parse_region_databases({"eu-central": "postgres://h/eu"}, DEFAULT)
    assert config.alias_for("us-east") is None
    assert config.content_aliases == {"region_eu_central"}


def test_the_star_key_is_the_fallback() -> None:
    config = parse_region_databases({"eu-central": "postgres://h/eu", "*": "default"}, DEFAULT)
    assert config.alias_for("us-east") == "default"
    assert config.content_aliases == {"default", "region_eu_central"}


@pytest.mark.parametrize("mapping", [{"EU": "x"}, {"eu central": "x"}, {"eu-central": " "}])
def test_bad_entries_are_refused_with_the_variable_named(mapping: dict[str, str]) -> None:
    with pytest.raises(RegionDatabasesError, match="REGION_DATABASES"):
        parse_region_databases(mapping, DEFAULT)
