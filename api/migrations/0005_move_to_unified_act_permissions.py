"""Issue #20: one permission per act. Whoever could act through today's permissions keeps the act under
the unified one (compliance/acts.py):

- groups and users holding ``rtms.delete_meeting`` (the API's erase check) get ``compliance.erase_meeting``;
- those holding ``rtms.change_meeting`` (the API's start and stop check) get ``compliance.control_rtms``;
- the ``compliance-quarantine`` group (the admin re-routed for its members) gets
  ``compliance.reroute_quarantined``;
- API clients with the read-write role (which allowed every act) get erase and start/stop, and re-route
  when they have quarantine access.

Nothing is taken away; the old model permissions no longer grant an act. Reversing leaves the grants."""

from django.conf import settings
from django.db import migrations

_ERASE, _CONTROL, _REROUTE = "erase_meeting", "control_rtms", "reroute_quarantined"
QUARANTINE_GROUP = "compliance-quarantine"


def _ensure_permissions(apps, schema_editor):
    # Django creates permissions after the whole migrate (post_migrate); this migration needs them now.
    from django.contrib.auth.management import create_permissions

    for label in ("rtms", "compliance"):
        app_config = apps.get_app_config(label)
        before = getattr(app_config, "models_module", None)
        app_config.models_module = before or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        finally:
            app_config.models_module = before


def forward(apps, schema_editor):
    _ensure_permissions(apps, schema_editor)
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    ApiClient = apps.get_model("api", "ApiClient")

    def act(codename):
        return Permission.objects.get(content_type__app_label="compliance", codename=codename)

    def old(codename):
        return Permission.objects.filter(content_type__app_label="rtms", codename=codename).first()

    erase, control, reroute = act(_ERASE), act(_CONTROL), act(_REROUTE)
    for old_codename, new in (("delete_meeting", erase), ("change_meeting", control)):
        previous = old(old_codename)
        if previous is None:
            continue
        for group in Group.objects.filter(permissions=previous):
            group.permissions.add(new)
        for user in User.objects.filter(user_permissions=previous):
            user.user_permissions.add(new)
    for group in Group.objects.filter(name=QUARANTINE_GROUP):
        group.permissions.add(reroute)
    for client in ApiClient.objects.filter(role="read-write"):
        client.permissions.add(erase, control)
        if client.quarantine_access:
            client.permissions.add(reroute)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0004_unified_act_permissions"),
        ("compliance", "0002_unified_act_permissions"),
        ("rtms", "0012_credential_variable_prefix"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
