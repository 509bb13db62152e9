"""Open-case counts per area code, kept by triggers on the case table (see cases.models.OpenCount).

The SQL is written out here, not imported, so that this migration keeps doing what it did when
the states change later.
"""

from django.db import migrations, models

OPEN = "('accepted', 'dispatched', 'handled', 'in_progress', 'parked', 'reported', 'suspended')"
CHANGES = "cases_opencountchange (area_code, open, overdue, flagged)"
# an update matters when the case enters or leaves the open states, or moves, or turns red, or is flagged
MATTERS = (f"(OLD.state IN {OPEN}) <> (NEW.state IN {OPEN}) OR OLD.area_code <> NEW.area_code "
           "OR OLD.warning <> NEW.warning OR OLD.supervised <> NEW.supervised")

# A deleted open case subtracts only from an area that has a count or a pending change (an open case
# always has one). Django's flush empties tables with DELETE on SQLite, in no fixed order: a case
# deleted after the counts were emptied must not leave a −1 behind.
_COUNTED = ("(EXISTS (SELECT 1 FROM cases_opencount WHERE area_code = OLD.area_code) "
            "OR EXISTS (SELECT 1 FROM cases_opencountchange WHERE area_code = OLD.area_code))")
POSTGRESQL = [
    f"""CREATE FUNCTION cases_open_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.state IN {OPEN} AND (TG_OP = 'UPDATE' OR {_COUNTED}) THEN
            INSERT INTO {CHANGES}
            VALUES (OLD.area_code, -1, -(OLD.warning = 'red')::int, -(OLD.supervised)::int);
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.state IN {OPEN} THEN
            INSERT INTO {CHANGES}
            VALUES (NEW.area_code, 1, (NEW.warning = 'red')::int, (NEW.supervised)::int);
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER cases_open_count_insert_delete AFTER INSERT OR DELETE ON cases_case "
    "FOR EACH ROW EXECUTE FUNCTION cases_open_count_change()",
    "CREATE TRIGGER cases_open_count_update AFTER UPDATE OF state, area_code, warning, supervised ON cases_case "
    f"FOR EACH ROW WHEN ({MATTERS}) EXECUTE FUNCTION cases_open_count_change()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS cases_open_count_update ON cases_case",
    "DROP TRIGGER IF EXISTS cases_open_count_insert_delete ON cases_case",
    "DROP FUNCTION IF EXISTS cases_open_count_change()",
]
_OLD = f"SELECT OLD.area_code, -1, -(OLD.warning = 'red'), -OLD.supervised WHERE OLD.state IN {OPEN}"
_NEW = f"SELECT NEW.area_code, 1, NEW.warning = 'red', NEW.supervised WHERE NEW.state IN {OPEN}"
SQLITE = [
    f"CREATE TRIGGER cases_open_count_insert AFTER INSERT ON cases_case BEGIN INSERT INTO {CHANGES} {_NEW}; END",
    f"CREATE TRIGGER cases_open_count_delete AFTER DELETE ON cases_case WHEN {_COUNTED} "
    f"BEGIN INSERT INTO {CHANGES} {_OLD}; END",
    "CREATE TRIGGER cases_open_count_update AFTER UPDATE OF state, area_code, warning, supervised ON cases_case "
    f"WHEN {MATTERS} BEGIN INSERT INTO {CHANGES} {_OLD}; INSERT INTO {CHANGES} {_NEW}; END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS cases_open_count_{name}" for name in ("insert", "delete", "update")]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)
    return run


def count_existing(apps, schema_editor):
    """Counts for the cases already there (an existing installation)."""
    from django.db.models import Count, Q

    Case = apps.get_model("cases", "Case")
    OpenCount = apps.get_model("cases", "OpenCount")
    rows = (Case.objects.filter(state__in=["accepted", "dispatched", "handled", "in_progress", "parked", "reported",
                                           "suspended"])
            .values("area_code").annotate(open=Count("pk"), overdue=Count("pk", filter=Q(warning="red")),
                                          flagged=Count("pk", filter=Q(supervised=True))).order_by())
    OpenCount.objects.bulk_create([OpenCount(**row) for row in rows])


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0006_anonymous_idempotency_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='OpenCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('area_code', models.CharField(max_length=40, unique=True, verbose_name='area code')),
                ('open', models.IntegerField(default=0, verbose_name='open')),
                ('overdue', models.IntegerField(default=0, verbose_name='overdue')),
                ('flagged', models.IntegerField(default=0, verbose_name='flagged supervision')),
            ],
            options={
                'verbose_name': 'open-case count',
                'verbose_name_plural': 'open-case counts',
                'indexes': [models.Index(fields=['area_code'], name='open_count_prefix', opclasses=['varchar_pattern_ops'])],
            },
        ),
        migrations.CreateModel(
            name='OpenCountChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('area_code', models.CharField(max_length=40)),
                ('open', models.IntegerField()),
                ('overdue', models.IntegerField()),
                ('flagged', models.IntegerField()),
            ],
            options={
                'indexes': [models.Index(fields=['area_code'], name='open_count_change_prefix', opclasses=['varchar_pattern_ops'])],
            },
        ),
        migrations.RunPython(_run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP})),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
