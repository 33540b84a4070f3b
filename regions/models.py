"""Regions and the ordered residency rules that assign a meeting to the region that owns it."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

REGION_CODE_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,62}$", "Lowercase letters, digits and '-' only (e.g. eu-central)."
)


class Region(models.Model):
    code = models.CharField(
        max_length=63,
        unique=True,
        validators=[REGION_CODE_VALIDATOR],
        help_text="Stable code used in queue names, database routing and group names; never rename.",
    )
    name = models.CharField(max_length=100)
    jurisdiction = models.CharField(max_length=100, help_text="Legal regime, e.g. 'EU (GDPR)'.")
    zoom_data_centres = models.JSONField(
        default=list,
        blank=True,
        help_text='Zoom data-centre codes expected for this region (e.g. ["fra", "ams"]); a stream '
        "served from another data centre is flagged for compliance.",
    )
    capture_audio = models.BooleanField(
        default=False, help_text="Also keep meeting audio (WAV) in this region's media root."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def staff_group_name(self) -> str:
        return f"compliance-{self.code}"


class RuleField(models.TextChoices):
    ACCOUNT_ID = "account_id", "Zoom account id"
    HOST_ID = "host_id", "Host user id"
    HOST_EMAIL_DOMAIN = "host_email_domain", "Host e-mail domain"
    MEETING_ID = "meeting_id", "Meeting number"
    TRACKING_FIELD = "tracking_field", "Tracking field value"


class RuleTier(models.TextChoices):
    STAFF = "staff", "Staff (superusers; tried first, in position order)"
    CLIENT = "client", "API client (its regions only; after every staff rule, never over another region's)"


class ResidencyRule(models.Model):
    """Staff rules are tried in ascending ``position``; the first that matches decides the region. Rules
    API clients manage come after them (regions/residency.py); their positions are their region's own."""

    position = models.PositiveIntegerField()
    tier = models.CharField(max_length=8, choices=RuleTier.choices, default=RuleTier.STAFF)
    managed_by = models.CharField(
        max_length=110, blank=True, help_text="The API client that manages a client rule (api:<name>)."
    )
    field = models.CharField(max_length=32, choices=RuleField.choices)
    tracking_field_name = models.CharField(
        max_length=128, blank=True, help_text="Only for tracking-field rules: the field's name."
    )
    value = models.CharField(
        max_length=255, help_text="Exact value to match (e-mail domains and ids compare case-insensitively)."
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="rules")
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "position", "region"]
        constraints = [
            # A staff rule's position is unique among staff rules; a client rule's only within its region,
            # so a client choosing a position learns nothing of other regions' rules.
            models.UniqueConstraint(
                fields=["position"], condition=models.Q(tier="staff"), name="residency_rule_staff_position"
            ),
            models.UniqueConstraint(
                fields=["region", "position"],
                condition=models.Q(tier="client"),
                name="residency_rule_client_position",
            ),
            models.CheckConstraint(
                condition=~models.Q(field="tracking_field") | ~models.Q(tracking_field_name=""),
                name="residency_rule_tracking_field_named",
            ),
        ]

    def __str__(self) -> str:
        tier = "" if self.tier == RuleTier.STAFF else "client "
        return f"{tier}#{self.position} {self.field}={self.value} -> {self.region_id}"
