"""The default dispute types, risk rules, thresholds and deadlines (fengqiao/mediation/data)."""

from django.db import migrations


def load(apps, schema_editor):
    from fengqiao.mediation.catalogue import load_defaults

    load_defaults(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("mediation", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
