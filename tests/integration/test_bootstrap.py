from __future__ import annotations

import pytest

from regions.models import Region
from rtms.accounts import account_ensure_default
from rtms.models import ZoomAccount

pytestmark = pytest.mark.django_db


def test_migrations_load_the_default_regions() -> None:
    assert {"eu-central", "us-east", "ap-southeast"} <= set(Region.objects.values_list("code", flat=True))


def test_the_account_from_zoom_account_id_exists_with_default_variable_names() -> None:
    account = ZoomAccount.objects.get(
        zoom_account_id="test-account"
    )  # tests/settings.py sets ZOOM_ACCOUNT_ID
    assert account.s2s_client_id_env == "ZOOM_S2S_CLIENT_ID"
    assert account.rtms_client_secret_env == "ZOOM_CLIENT_SECRET"
    assert account.mode == "api"


def test_ensuring_the_default_account_keeps_operator_edits() -> None:
    ZoomAccount.objects.filter(zoom_account_id="test-account").update(mode="auto", name="Edited")
    account = account_ensure_default()
    assert account is not None and (account.mode, account.name) == ("auto", "Edited")
    assert ZoomAccount.objects.filter(zoom_account_id="test-account").count() == 1


def test_celery_is_json_only_with_late_acks() -> None:
    from controlplane.celery import app

    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.task_default_queue == "control"
    options = conf.broker_transport_options
    assert options["visibility_timeout"] < 60
    # A lost task is swept back to its queue in time too, not at kombu's default 100 s.
    sweep_s = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert options["visibility_timeout"] + sweep_s < 60
