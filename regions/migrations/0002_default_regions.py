"""A sensible starting set of regions; operators change them in the admin. Residency rules are left empty
on purpose: which hosts belong where is each organisation's decision, and an unmatched meeting is
quarantined rather than guessed."""

from __future__ import annotations

from django.db import migrations

DEFAULT_REGIONS = [
    ("eu-central", "EU Central (Frankfurt)", "EU (GDPR)", ["fra", "ams"]),
    ("us-east", "US East", "United States", ["iad", "nyj", "dfw"]),
    ("ap-southeast", "Asia Pacific South-East (Sydney)", "Australia (Privacy Act)", ["syd", "mel"]),
]


def load(apps, schema_editor):  # type: ignore[no-untyped-def]
    Region = apps.get_model("regions", "Region")
    for code, name, jurisdiction, data_centres in DEFAULT_REGIONS:
        Region.objects.get_or_create(
            code=code, defaults={"name": name, "jurisdiction": jurisdiction, "zoom_data_centres": data_centres}
        )


class Migration(migrations.Migration):
    dependencies = [("regions", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
