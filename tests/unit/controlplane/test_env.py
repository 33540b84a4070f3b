from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from controlplane.env import env_bool, env_choice, env_int, env_json_object, env_list, env_seconds, env_str


def test_env_str_names_the_variable_when_required_and_missing() -> None:
    with pytest.raises(ImproperlyConfigured, match="SOME_VAR is required"):
        env_str("SOME_VAR", environ={})


def test_env_str_uses_default_when_empty() -> None:
    assert env_str("X", "d", environ={"X": "  "}) == "d"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("no", False), ("off", False)])
def test_env_bool_accepts_common_spellings(raw: str, expected: bool) -> None:
    assert env_bool("FLAG", not expected, environ={"FLAG": raw}) is expected


def test_env_bool_rejects_garbage_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_env_int_enforces_bounds() -> None:
    assert env_int("N", 5, environ={}) == 5
    with pytest.raises(ImproperlyConfigured, match="N must be at least 1"):
        env_int("N", 5, minimum=1, environ={"N": "0"})
    with pytest.raises(ImproperlyConfigured, match="N must be an integer"):
        env_int("N", 5, environ={"N": "5.5"})


def test_env_seconds_returns_timedelta_and_rejects_non_finite() -> None:
    assert env_seconds("T", 3, environ={}) == timedelta(seconds=3)
    assert env_seconds("T", 3, environ={"T": "0.25"}) == timedelta(milliseconds=250)
    for bad in ("nan", "inf", "-1", "soon"):
        with pytest.raises(ImproperlyConfigured, match="^T must"):
            env_seconds("T", 3, environ={"T": bad})


def test_env_list_splits_and_strips() -> None:
    assert env_list("L", [], environ={"L": " a, b ,,c "}) == ["a", "b", "c"]


def test_env_choice_lists_the_choices() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"P must be one of \['fast', 'production'\]"):
        env_choice("P", "production", frozenset({"fast", "production"}), environ={"P": "slow"})


def test_env_json_object_rejects_non_string_maps() -> None:
    assert env_json_object("J", {}, environ={"J": '{"a": "b"}'}) == {"a": "b"}
    with pytest.raises(ImproperlyConfigured, match="J must be a JSON object"):
        env_json_object("J", {}, environ={"J": "[1]"})
    with pytest.raises(ImproperlyConfigured, match="J must be a JSON object"):
        env_json_object("J", {}, environ={"J": "{oops"})
