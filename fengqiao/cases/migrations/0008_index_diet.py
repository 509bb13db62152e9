"""Fewer indexes on the case table: unique constraints instead of unique fields, plain indexes
instead of db_index (no LIKE-pattern copies on PostgreSQL), no foreign-key index that a composite
index already leads with, and partial indexes for the mostly empty columns.

On SQLite, altering fields rebuilds the table, and the open-count triggers of 0007 go with the old
one: they are made again at the end (the rows were copied without them, so the counts still hold).
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _sqlite_triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    open_counts = importlib.import_module("fengqiao.cases.migrations.0007_open_counts")
    for statement in open_counts.SQLITE_DROP + open_counts.SQLITE:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0007_open_counts'),
        ('geo', '0002_initial'),
        ('org', '0004_alter_assignment_role'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='case',
            name='area_code',
            field=models.CharField(max_length=18, verbose_name='area code'),
        ),
        migrations.AlterField(
            model_name='case',
            name='asset',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='cases', to='geo.asset', verbose_name='asset'),
        ),
        migrations.AlterField(
            model_name='case',
            name='category',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='cases', to='cases.category', verbose_name='category'),
        ),
        migrations.AlterField(
            model_name='case',
            name='duplicate_of',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='duplicates', to='cases.case', verbose_name='duplicate of'),
        ),
        migrations.AlterField(
            model_name='case',
            name='lead_department',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='led_cases', to='org.department', verbose_name='lead department'),
        ),
        migrations.AlterField(
            model_name='case',
            name='number',
            field=models.CharField(max_length=40, verbose_name='number'),
        ),
        migrations.AlterField(
            model_name='case',
            name='reporter_phone_index',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name='case',
            name='reporter_user',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='reported_cases', to=settings.AUTH_USER_MODEL, verbose_name='reported by'),
        ),
        migrations.AlterField(
            model_name='case',
            name='tracking_code',
            field=models.CharField(blank=True, editable=False, max_length=12, null=True, verbose_name='tracking code'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['area_code'], name='case_area_prefix', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('reporter_phone_index', ''), _negated=True), fields=['reporter_phone_index'], name='case_reporter_phone'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('reporter_user__isnull', False)), fields=['reporter_user'], name='case_reporter_user'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('asset__isnull', False)), fields=['asset'], name='case_asset'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('duplicate_of__isnull', False)), fields=['duplicate_of'], name='case_duplicate_of'),
        ),
        migrations.AddConstraint(
            model_name='case',
            constraint=models.UniqueConstraint(fields=('number',), name='case_number_unique'),
        ),
        migrations.AddConstraint(
            model_name='case',
            constraint=models.UniqueConstraint(fields=('tracking_code',), name='case_tracking_code_unique'),
        ),
        migrations.RunPython(_sqlite_triggers_again, migrations.RunPython.noop),
    ]

