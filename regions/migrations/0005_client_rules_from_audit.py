"""Issue #20: rules an API client created are client rules from now on (after every staff rule, never over
another region's). Which ones those are, the audit log says: ``rule.create`` by an ``api:<name>`` actor.
Their positions were unique overall, so they stay unique within their regions."""

from django.db import migrations


def forward(apps, schema_editor):
    AuditLog = apps.get_model("rtms", "AuditLog")
    ResidencyRule = apps.get_model("regions", "ResidencyRule")
    created_by_clients = AuditLog.objects.filter(
        action="rule.create", object_type="residency_rule", actor__startswith="api:"
    ).values_list("object_id", "actor")
    for object_id, actor in created_by_clients:
        if object_id.isdigit():
            ResidencyRule.objects.filter(pk=int(object_id)).update(tier="client", managed_by=actor)


class Migration(migrations.Migration):
    dependencies = [
        ("regions", "0004_rule_tiers"),
        ("rtms", "0012_credential_variable_prefix"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
