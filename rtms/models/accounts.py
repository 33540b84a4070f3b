from __future__ import annotations

import re

from django.core.validators import RegexValidator
from django.db import models

# Credentials are read only from variables with this prefix (issue #20): a row that names DEBUG or
# DATABASE_URL as a "secret" must not turn that variable into a webhook secret or an OAuth credential.
CREDENTIAL_ENV_PREFIX = "ZOOM_"
_CREDENTIAL_ENV_NAME = re.compile(r"ZOOM_[A-Z0-9_]{1,123}")

ENV_NAME_VALIDATOR = RegexValidator(
    rf"^{_CREDENTIAL_ENV_NAME.pattern}$",
    "The name of the environment variable that holds the credential: ZOOM_ then capitals, digits or _, "
    "e.g. ZOOM_S2S_CLIENT_ID. Other variables are never read as credentials.",
)


def is_credential_env_name(name: str) -> bool:
    return _CREDENTIAL_ENV_NAME.fullmatch(name) is not None


# ZoomAccount's fields that name a credential variable (the admin shows them together; checks read them).
CREDENTIAL_ENV_FIELDS = (
    "s2s_client_id_env",
    "s2s_client_secret_env",
    "event_subscription_id_env",
    "rtms_client_id_env",
    "rtms_client_secret_env",
    "webhook_secret_token_env",
)


class AccountMode(models.TextChoices):
    AUTO_START = "auto", "RTMS auto-starts (app setting)"
    API_START = "api", "Start RTMS through the REST API"


class ZoomAccount(models.Model):
    """A Zoom account whose meetings we capture.

    Secrets never live here: the row stores the *names* of the environment variables that hold them, so a
    database dump or the admin never shows a credential (rtms/zoom/credentials.py reads them).
    """

    zoom_account_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=8, choices=AccountMode.choices, default=AccountMode.API_START)
    default_region = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Informational; residency rules decide ownership. Unmatched meetings are quarantined.",
    )
    # Account API access (Server-to-Server OAuth): REST and the event-subscription WebSocket.
    s2s_client_id_env = models.CharField(
        max_length=128, default="ZOOM_S2S_CLIENT_ID", validators=[ENV_NAME_VALIDATOR]
    )
    s2s_client_secret_env = models.CharField(
        max_length=128, default="ZOOM_S2S_CLIENT_SECRET", validators=[ENV_NAME_VALIDATOR]
    )
    event_subscription_id_env = models.CharField(
        max_length=128, default="ZOOM_EVENT_SUBSCRIPTION_ID", validators=[ENV_NAME_VALIDATOR]
    )
    # The RTMS app (General app): handshake signatures and webhook signatures.
    rtms_client_id_env = models.CharField(
        max_length=128, default="ZOOM_CLIENT_ID", validators=[ENV_NAME_VALIDATOR]
    )
    rtms_client_secret_env = models.CharField(
        max_length=128, default="ZOOM_CLIENT_SECRET", validators=[ENV_NAME_VALIDATOR]
    )
    webhook_secret_token_env = models.CharField(
        max_length=128, default="ZOOM_WEBHOOK_SECRET_TOKEN", validators=[ENV_NAME_VALIDATOR]
    )
    capture_audio = models.BooleanField(
        default=False, help_text="Also keep this account's meeting audio (WAV), whatever the region says."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["zoom_account_id"]

    def __str__(self) -> str:
        return self.name or self.zoom_account_id
