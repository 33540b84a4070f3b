"""API clients: other teams' integrations, each scoped to a set of regions."""

from __future__ import annotations

from django.db import models

from compliance.acts import ACT_CODENAMES, Act


class ApiRole(models.TextChoices):
    READ = "read", "Read"
    READ_WRITE = "read-write", "Read and write (actions)"


class ApiClient(models.Model):
    """One integrating team or system. Its token is shown once at creation; only its hash is kept."""

    name = models.CharField(max_length=100, unique=True, help_text="Who this is; shown in the audit log.")
    token_prefix = models.CharField(
        max_length=16, unique=True, editable=False, help_text="Non-secret start of the token, for lookup."
    )
    token_hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the token.")
    regions = models.ManyToManyField(
        "regions.Region", blank=True, related_name="+", help_text="The only regions this client can see."
    )
    role = models.CharField(max_length=16, choices=ApiRole.choices, default=ApiRole.READ)
    quarantine_access = models.BooleanField(
        default=False,
        help_text="Also sees quarantined meetings and events (no region yet); with read-write, re-routes.",
    )
    manage_rules = models.BooleanField(
        default=False,
        help_text="May create, change and delete residency rules of its regions (needs read-write). Rules "
        "decide which region owns a meeting: grant it only to an administrator's automation.",
    )
    permissions = models.ManyToManyField(
        "auth.Permission",
        blank=True,
        related_name="+",
        limit_choices_to={"content_type__app_label": "compliance", "codename__in": ACT_CODENAMES},
        help_text="The acts this client may do in its regions (needs read-write): the same permissions "
        "staff need for the same act in the admin (erase a meeting, start and stop RTMS, re-route the "
        "quarantine with quarantine access).",
    )
    active = models.BooleanField(default=True, help_text="Untick to revoke the token at once.")
    token_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="After this the token no longer authenticates."
    )
    # The token a rotation replaced, still accepted until previous_token_expires_at (the overlap window in
    # which the client switches over); empty once it has passed or when no overlap was given.
    previous_token_prefix = models.CharField(max_length=16, blank=True, editable=False, db_index=True)
    previous_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    previous_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def can_write(self) -> bool:
        return self.role == ApiRole.READ_WRITE

    def may(self, act: Act) -> bool:
        """Whether the client may do ``act`` (in the regions it sees): read-write, holding its permission."""
        if not self.can_write:
            return False
        return self.permissions.filter(content_type__app_label="compliance", codename=act.codename).exists()
