"""Zoom accounts and where their credentials come from (the environment, by the names stored on the row)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from django.conf import settings

from controlplane.env import env_choice
from rtms.models import AccountMode, ZoomAccount
from rtms.models.accounts import CREDENTIAL_ENV_PREFIX, is_credential_env_name
from rtms.zoom.credentials import AccountApiCredentials, MissingCredentials, RtmsAppCredentials

logger = logging.getLogger(__name__)


def account_ensure_default() -> ZoomAccount | None:
    """The account named by ZOOM_ACCOUNT_ID exists, with the default variable names. Idempotent; an
    operator's later edits to the row are kept."""
    account_id = settings.ZOOM_ACCOUNT_ID
    if not account_id:
        return None
    mode = env_choice("ZOOM_ACCOUNT_RTMS_MODE", AccountMode.API_START, frozenset(AccountMode.values))
    account, created = ZoomAccount.objects.get_or_create(
        zoom_account_id=account_id, defaults={"name": "Default account", "mode": mode}
    )
    if created:
        logger.info("account.created", extra={"account_id": account.pk})
    return account


def _optional(environ: Mapping[str, str], name: str) -> str:
    """The credential variable's value ("" when unset). A name without the credential prefix is refused,
    whatever the row says: it is configuration, not a credential (rtms/models/accounts.py)."""
    if not is_credential_env_name(name):
        raise MissingCredentials(
            f"{name!r} is not a credential variable name: it must start with {CREDENTIAL_ENV_PREFIX}"
        )
    return environ.get(name, "").strip()


def _read(environ: Mapping[str, str], name: str) -> str:
    value = _optional(environ, name)
    if not value:
        raise MissingCredentials(f"environment variable {name} is not set")
    return value


def rtms_app_credentials(
    account: ZoomAccount, environ: Mapping[str, str] | None = None
) -> RtmsAppCredentials:
    env = os.environ if environ is None else environ
    return RtmsAppCredentials(
        client_id=_read(env, account.rtms_client_id_env),
        client_secret=_read(env, account.rtms_client_secret_env),
        webhook_secret_token=_read(env, account.webhook_secret_token_env),
    )


def account_api_credentials(
    account: ZoomAccount, environ: Mapping[str, str] | None = None
) -> AccountApiCredentials:
    """S2S credentials; when the S2S pair is unset, the RTMS app's pair does both jobs (one app, as in a
    test setup). A half-set pair is an error, not a fallback: it is almost certainly a typo."""
    env = os.environ if environ is None else environ
    s2s_id = _optional(env, account.s2s_client_id_env)
    s2s_secret = _optional(env, account.s2s_client_secret_env)
    if bool(s2s_id) != bool(s2s_secret):
        missing = account.s2s_client_secret_env if s2s_id else account.s2s_client_id_env
        raise MissingCredentials(f"environment variable {missing} is not set (its pair is)")
    if not s2s_id:
        s2s_id = _read(env, account.rtms_client_id_env)
        s2s_secret = _read(env, account.rtms_client_secret_env)
    return AccountApiCredentials(
        account_id=account.zoom_account_id,
        client_id=s2s_id,
        client_secret=s2s_secret,
        event_subscription_id=_optional(env, account.event_subscription_id_env),
    )
