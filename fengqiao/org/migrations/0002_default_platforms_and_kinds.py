"""The four platforms (四平台) and the usual kinds of department; both stay editable."""

from django.db import migrations

PLATFORMS = [
    ("public_safety", "综治工作", "Comprehensive governance and public safety", 1),
    ("market", "市场监管", "Market supervision", 2),
    ("enforcement", "综合执法", "Comprehensive law enforcement", 3),
    ("services", "便民服务", "Services for residents", 4),
]

KINDS = [
    ("governance_office", "综治办", "Comprehensive governance office"),
    ("command_centre", "综合信息指挥室", "Command centre"),
    ("justice", "司法所", "Justice office"),
    ("police", "派出所", "Police station"),
    ("letters_visits", "信访办", "Letters and visits office"),
    ("market_supervision", "市场监管所", "Market supervision office"),
    ("enforcement", "综合行政执法中队", "Comprehensive enforcement squad"),
    ("urban_management", "城管", "Urban management"),
    ("fire_safety", "消防安全办", "Fire safety office"),
    ("emergency", "应急管理办", "Emergency management office"),
    ("environment", "生态环境分局", "Ecology and environment bureau"),
    ("housing", "住建", "Housing and construction"),
    ("natural_resources", "自然资源所", "Natural resources office"),
    ("transport", "交通", "Transport"),
    ("water", "水利", "Water resources"),
    ("agriculture", "农业农村办", "Agriculture and rural affairs office"),
    ("civil_affairs", "民政", "Civil affairs"),
    ("social_security", "人社", "Human resources and social security"),
    ("health", "卫健", "Health"),
    ("labour", "劳动保障监察", "Labour inspection"),
    ("services_centre", "便民服务中心", "Service centre for residents"),
    ("utilities", "水电气公用事业", "Water, power and gas utilities"),
    ("village_committee", "村（居）委会", "Village or community committee"),
]


def seed(apps, schema_editor):
    Platform = apps.get_model("org", "Platform")
    DepartmentKind = apps.get_model("org", "DepartmentKind")
    for code, zh, en, order in PLATFORMS:
        Platform.objects.update_or_create(code=code, defaults={"name_zh": zh, "name_en": en, "order": order})
    for code, zh, en in KINDS:
        DepartmentKind.objects.update_or_create(code=code, defaults={"name_zh": zh, "name_en": en})


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
