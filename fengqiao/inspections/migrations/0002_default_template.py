"""The default checklist: a night fire-safety check of rental housing (出租房夜间消防安全检查).

Categories are referenced by code (from the default catalogue, fengqiao/cases/data/categories.csv)
and resolved when a failed item is reported, so the catalogue may be loaded later.
"""

from django.db import migrations

NAME_ZH = "出租房夜间消防安全检查"
ITEMS = [
    ("疏散通道畅通", "Escape routes are clear", "1102"),
    ("灭火器配备有效", "Extinguishers are present and in date", "1101"),
    ("电动车未在室内充电", "No e-bike is charged indoors", "1103"),
    ("电线线路安全", "Wiring is safe", "1101"),
]


def seed(apps, schema_editor):
    Template = apps.get_model("inspections", "InspectionTemplate")
    Item = apps.get_model("inspections", "InspectionItem")
    template, created = Template.objects.get_or_create(name_zh=NAME_ZH, defaults={
        "name_en": "Night fire-safety check of rental housing",
        "target": "grid", "every_days": 7, "time_of_day": "night", "default_category_code": "1107",
        "description": "Walk the rental housing of the grid after dark.",
    })
    if created:
        for order, (text_zh, text_en, code) in enumerate(ITEMS, start=1):
            Item.objects.create(template=template, order=order, text_zh=text_zh, text_en=text_en, category_code=code)


def unseed(apps, schema_editor):
    Template = apps.get_model("inspections", "InspectionTemplate")
    Template.objects.filter(name_zh=NAME_ZH, rounds__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("inspections", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
