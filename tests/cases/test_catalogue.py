"""The category catalogue: the default catalogue, CSV import/export, inheritance, command and admin."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from fengqiao.cases.catalogue import (
    ALL_COLUMNS,
    DEFAULTS_PATH,
    catalogue_export,
    catalogue_import,
    catalogue_load_defaults,
    format_time_limit,
    parse_time_limit,
)
from fengqiao.cases.models import Category, Stage, TimeLimit, Urgency
from fengqiao.cases.selectors import (
    category_choices,
    category_tree,
    iter_tree,
    time_limit_for,
    time_limits_for,
)
from fengqiao.core.calendar import TimeUnit
from fengqiao.core.errors import InvalidInput
from fengqiao.org.models import Platform

HEADER = ["code", "parent_code", "name_zh", "name_en", "platform", "department_kind",
          "handle_normal", "handle_urgent", "handle_critical"]


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def snapshot():
    return (
        sorted(Category.objects.values_list("code", "parent__code", "name_zh", "name_en", "platform__code",
                                            "department_kind__code", "is_active", "order", "description")),
        sorted(TimeLimit.objects.values_list("category__code", "stage", "urgency", "value", "unit")),
    )


def export_text(**kwargs) -> str:
    buffer = io.StringIO()
    catalogue_export(stream=buffer, **kwargs)
    return buffer.getvalue()


def by_name(name_zh: str) -> Category:
    return Category.objects.get(name_zh=name_zh)


# -- short forms ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("30m", (30, TimeUnit.MINUTES)), ("4wh", (4, TimeUnit.WORKING_HOURS)), ("3wd", (3, TimeUnit.WORKING_DAYS)),
    ("7d", (7, TimeUnit.NATURAL_DAYS)), (" 10 WD ", (10, TimeUnit.WORKING_DAYS)), ("0wd", (0, TimeUnit.WORKING_DAYS)),
])
def test_short_forms_parse_and_format(text, expected):
    assert parse_time_limit(text) == expected
    assert parse_time_limit(format_time_limit(*expected)) == expected


@pytest.mark.parametrize("text", ["", "3", "wd", "3 days", "3w", "-1d", "1.5wd", "0m", "0d", "123456m", "3wd3"])
def test_bad_short_forms_are_refused(text):
    with pytest.raises(ValueError, match=text.strip() or "time limit"):
        parse_time_limit(text)


# -- the default catalogue --------------------------------------------------------------------
def test_the_default_catalogue_loads_and_loading_it_again_changes_nothing(db):
    first = catalogue_load_defaults()
    assert first.created == first.rows == Category.objects.count()
    assert first.time_limits == TimeLimit.objects.count()
    before = snapshot()
    second = catalogue_load_defaults()
    assert (second.created, second.updated, second.unchanged) == (0, 0, first.rows)
    assert snapshot() == before


def test_the_default_catalogue_has_the_expected_shape(db):
    catalogue_load_defaults()
    tops = list(Category.objects.filter(parent=None))
    leaves = list(Category.objects.filter(children=None))
    assert 15 <= len(tops) <= 20
    assert 100 <= len(leaves) <= 150
    assert {c.name_zh for c in tops} >= {"市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序", "公用设施",
                                         "道路交通", "园林绿化", "房屋土地", "矛盾纠纷"}
    for platform in Platform.objects.all():
        assert Category.objects.filter(platform=platform, parent__isnull=False).count() >= 10, platform.code
    for category in Category.objects.select_related("parent"):
        assert category.name_en and category.department_kind_id, category.code
        if category.parent:  # the code scheme: a child's code extends its parent's by two digits
            assert category.code[:-2] == category.parent.code and category.code[-2:].isdigit()
        else:
            assert len(category.code) == 2 and category.code.isdigit()
    names = {c.name_zh for c in leaves}
    for name in ("邻里纠纷", "婚姻家庭纠纷", "劳资纠纷", "土地承包纠纷", "物业纠纷", "消费纠纷", "食品安全问题",
                 "无照经营", "价格违法", "假冒伪劣商品", "违法建设", "违法占用道路", "噪声扰民", "机动车违法停放",
                 "证明事项咨询", "养老保险", "居家养老服务", "停水", "停电"):
        assert name in names


def _natural_minutes_at_least(value: int, unit: TimeUnit) -> float:
    """A lower bound of the natural time a limit gives, whenever the clock starts."""
    return {TimeUnit.MINUTES: value, TimeUnit.NATURAL_DAYS: value * 1440, TimeUnit.WORKING_HOURS: value * 60,
            # the end of office hours of the N-th working day after receipt: at least (N-1) days + 17.5 h
            TimeUnit.WORKING_DAYS: (value - 1) * 1440 + 1050 if value else 0}[unit]


def _surely_not_longer(faster: tuple[int, TimeUnit], slower: tuple[int, TimeUnit]) -> bool:
    (a, ua), (b, ub) = faster, slower
    if ua == ub:
        return a <= b
    if ua in (TimeUnit.MINUTES, TimeUnit.NATURAL_DAYS):
        return _natural_minutes_at_least(a, ua) <= _natural_minutes_at_least(b, ub)
    if ua is TimeUnit.WORKING_HOURS and ub is TimeUnit.WORKING_DAYS:
        return a * 60 <= b * 7.5 * 60  # N working days hold at least N full days of office time
    return False


def test_every_category_resolves_every_limit_and_more_urgent_is_never_slower(db):
    catalogue_load_defaults()
    for category in Category.objects.all():
        limits = time_limits_for(category=category)
        for stage in Stage:
            normal, urgent, critical = (limits[(stage.value, u.value)] for u in Urgency)
            assert normal and urgent and critical, (category.code, stage)
            assert _surely_not_longer(urgent, normal), (category.code, stage, urgent, normal)
            assert _surely_not_longer(critical, urgent), (category.code, stage, critical, urgent)
            assert critical[1] in (TimeUnit.MINUTES, TimeUnit.NATURAL_DAYS), "an emergency does not wait for office hours"


def test_the_default_limits_follow_practice(db):
    catalogue_load_defaults()
    manhole = by_name("权属不明井盖")
    assert time_limit_for(category=manhole, stage=Stage.HANDLE, urgency=Urgency.CRITICAL) == (120, TimeUnit.MINUTES)
    assert time_limit_for(category=manhole, stage=Stage.HANDLE, urgency=Urgency.URGENT) == (4, TimeUnit.WORKING_HOURS)
    assert time_limit_for(category=by_name("劳资纠纷"), stage="handle", urgency="normal") == (5, TimeUnit.WORKING_DAYS)
    assert time_limit_for(category=by_name("证明事项咨询"), stage="handle", urgency="normal") == (3, TimeUnit.WORKING_DAYS)
    assert time_limit_for(category=by_name("违法建设"), stage="handle", urgency="normal") == (10, TimeUnit.WORKING_DAYS)
    assert by_name("劳资纠纷").department_kind.code == "labour"
    assert by_name("违法建设").platform.code == Platform.ENFORCEMENT


def test_the_demo_command_path_loads_the_defaults(db):
    # the demo builder calls catalogue_load_defaults() with no arguments
    assert catalogue_load_defaults().rows == len(DEFAULTS_PATH.read_text(encoding="utf-8").splitlines()) - 1


# -- import semantics -------------------------------------------------------------------------
def test_children_may_come_before_their_parents_and_inherit_platform_and_kind(db):
    catalogue_import(rows=[
        HEADER,
        ["T0101", "T01", "子项", "Child", "", "", "2wd", "", ""],
        ["T01", "", "大类", "Class", "market", "market_supervision", "5wd", "1wd", "240m"],
        ["T0102", "T01", "另一子项", "Other child", "services", "civil_affairs", "", "", ""],
    ])
    child, other = Category.objects.get(code="T0101"), Category.objects.get(code="T0102")
    assert child.parent.code == "T01" and child.platform.code == "market"
    assert child.department_kind.code == "market_supervision"
    assert other.platform.code == "services" and other.department_kind.code == "civil_affairs"
    assert not other.time_limits.exists()


def test_a_present_limit_column_replaces_and_an_absent_one_leaves_alone(db):
    catalogue_import(rows=[HEADER + ["verify_normal"], ["T01", "", "大类", "Class", "market", "", "5wd", "1wd", "240m", "1wd"]])
    result = catalogue_import(rows=[HEADER, ["T01", "", "大类", "Class", "market", "", "3wd", "", "240m"]])
    assert result.updated == 1
    limits = {(t.stage, t.urgency): (t.value, t.unit) for t in TimeLimit.objects.filter(category__code="T01")}
    assert limits == {("handle", "normal"): (3, "working_days"), ("handle", "critical"): (240, "minutes"),
                      ("verify", "normal"): (1, "working_days")}


def test_time_limits_are_inherited_urgency_first_then_normal(db, django_assert_max_num_queries):
    catalogue_import(rows=[
        HEADER + ["verify_normal"],
        ["A", "", "甲", "A", "enforcement", "", "5wd", "1wd", "", "1wd"],
        ["A1", "A", "甲一", "A1", "", "", "2wd", "", "", ""],
        ["A1a", "A1", "甲一子", "A1a", "", "", "", "", "", ""],
        ["B", "", "乙", "B", "services", "", "", "", "", ""],
    ])
    a1a = Category.objects.get(code="A1a")
    with django_assert_max_num_queries(2):
        assert time_limit_for(category=a1a, stage=Stage.HANDLE, urgency=Urgency.URGENT) == (1, TimeUnit.WORKING_DAYS)
    assert time_limit_for(category=a1a, stage=Stage.HANDLE, urgency=Urgency.NORMAL) == (2, TimeUnit.WORKING_DAYS)
    # nobody sets critical: the normal limit, looked up the same way
    assert time_limit_for(category=a1a, stage=Stage.HANDLE, urgency=Urgency.CRITICAL) == (2, TimeUnit.WORKING_DAYS)
    assert time_limit_for(category=a1a, stage=Stage.VERIFY, urgency=Urgency.URGENT) == (1, TimeUnit.WORKING_DAYS)
    assert time_limit_for(category=a1a, stage=Stage.ACCEPT, urgency=Urgency.NORMAL) is None
    assert time_limit_for(category=Category.objects.get(code="B"), stage="handle", urgency="normal") is None


def test_ancestors_deeper_than_one_query_are_still_found(db):
    rows = [HEADER, ["L0", "", "根", "Root", "services", "", "4wd", "", ""]]
    rows += [[f"L{i}", f"L{i - 1}", f"层{i}", f"Level {i}", "", "", "", "", ""] for i in range(1, 15)]
    catalogue_import(rows=rows)
    deepest = Category.objects.get(code="L14")
    assert time_limit_for(category=deepest, stage="handle", urgency="urgent") == (4, TimeUnit.WORKING_DAYS)


def test_the_category_tree_is_ordered_active_only_and_one_query(db, django_assert_num_queries):
    catalogue_import(rows=[
        HEADER + ["order", "is_active"],
        ["Z", "", "后", "Last", "market", "", "", "", "", "1", "1"],
        ["Y", "", "先", "First", "services", "", "", "", "", "0", "1"],
        ["Y2", "Y", "子二", "Child 2", "", "", "", "", "", "0", "yes"],
        ["Y1", "Y", "子一", "Child 1", "", "", "", "", "", "0", ""],
        ["X", "", "停用", "Inactive", "services", "", "", "", "", "0", "0"],
        ["X1", "X", "停用之下", "Under inactive", "", "", "", "", "", "0", "1"],
        ["Z1", "Z", "市场子项", "Market child", "", "", "", "", "", "0", "1"],
    ])
    with django_assert_num_queries(1):
        tree = category_tree()
    assert [n.code for n in tree] == ["Y", "Z"]
    assert [n.code for n in iter_tree(tree)] == ["Y", "Y1", "Y2", "Z", "Z1"]
    assert [n.depth for n in iter_tree(tree)] == [0, 1, 1, 0, 1]
    assert [n.code for n in iter_tree(category_tree(platform="market"))] == ["Z", "Z1"]
    from django.utils import translation

    assert category_choices(platform="services")[1][1].endswith("Y1 Child 1")
    with translation.override("zh-hans"):
        assert category_choices(platform="services")[1][1].endswith("Y1 子一")


def test_an_import_that_repeats_a_loop_of_parents_is_refused(db):
    catalogue_import(rows=[HEADER, ["P", "", "甲", "P", "market", "", "", "", ""],
                           ["Q", "P", "乙", "Q", "", "", "", "", ""]])
    with pytest.raises(InvalidInput) as caught:
        catalogue_import(rows=[HEADER, ["P", "Q", "甲", "P", "market", "", "", "", ""]])
    assert caught.value.errors[0].code == "parent_cycle"
    assert Category.objects.get(code="P").parent is None


# -- round trip -------------------------------------------------------------------------------
def test_export_then_import_round_trips(db):
    catalogue_load_defaults()
    original = export_text()
    assert original.splitlines()[0] == ",".join(ALL_COLUMNS)
    before = snapshot()

    # damage the catalogue, then import the export: everything comes back
    category = by_name("违法建设")
    category.name_en = "changed"
    category.is_active = False
    category.save()
    category.time_limits.all().delete()
    TimeLimit.objects.create(category=by_name("停电"), stage=Stage.VERIFY, urgency=Urgency.NORMAL, value=9,
                             unit=TimeUnit.NATURAL_DAYS)
    result = catalogue_import(file=io.BytesIO(original.encode("utf-8")))
    assert (result.created, result.updated) == (0, 2)
    assert snapshot() == before
    assert export_text() == original

    # and into an empty catalogue
    TimeLimit.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    catalogue_import(file=io.StringIO(original))
    assert snapshot() == before
    assert export_text() == original


def test_exporting_a_selection_writes_parents_first(db):
    catalogue_load_defaults()
    chosen = Category.objects.filter(code__in=["0102", "01", "1003"])
    lines = export_text(categories=chosen, bom=True).splitlines()
    assert lines[0].startswith("\ufeffcode,")
    assert [line.split(",")[0] for line in lines[1:]] == ["01", "0102", "1003"]


def test_bom_and_gb18030_files_are_read(db):
    rows = [HEADER, ["G1", "", "广告", "Adverts", "enforcement", "urban_management", "2wd", "", ""]]
    catalogue_import(file=io.BytesIO(b"\xef\xbb\xbf" + csv_bytes(rows)))
    rows[1][2] = "户外广告"
    catalogue_import(file=io.BytesIO(csv_bytes(rows, encoding="gb18030")))
    assert Category.objects.get(code="G1").name_zh == "户外广告"


def test_a_dry_run_writes_nothing(db):
    result = catalogue_import(file=DEFAULTS_PATH, dry_run=True)
    assert result.created > 100 and result.dry_run
    assert not Category.objects.exists()


# -- bad input --------------------------------------------------------------------------------
GOOD = ["N1", "", "新大类", "New class", "market", "market_supervision", "5wd", "", ""]
BAD_FILES = {
    "missing column": (
        [[c for c in HEADER if c != "platform"], ["N2", "", "甲", "A", "", "3wd", "", ""]],
        [(1, "platform", "missing_column")],
    ),
    "unknown column": (
        [HEADER + ["handle_norml"], GOOD + ["3wd"]],
        [(1, "handle_norml", "unknown_column")],
    ),
    "unknown platform": (
        [HEADER, GOOD, ["N2", "", "甲", "A", "nowhere", "", "", "", ""]],
        [(3, "platform", "unknown_platform")],
    ),
    "unknown department kind": (
        [HEADER, GOOD, ["N2", "N1", "甲", "A", "", "chief_of_everything", "", "", ""]],
        [(3, "department_kind", "unknown_department_kind")],
    ),
    "unknown parent": (
        [HEADER, GOOD, ["N2", "N9", "甲", "A", "market", "", "", "", ""]],
        [(3, "parent_code", "unknown_parent")],
    ),
    "bad limit text": (
        [HEADER, GOOD, ["N2", "N1", "甲", "A", "", "", "3 days", "", ""]],
        [(3, "handle_normal", "invalid_time_limit")],
    ),
    "duplicate code": (
        [HEADER, GOOD, ["N2", "N1", "甲", "A", "", "", "", "", ""], ["N1", "", "乙", "B", "market", "", "", "", ""]],
        [(4, "code", "duplicate_code")],
    ),
    "missing cell": (
        [HEADER, GOOD, ["N2", "N1", "甲", "A", "", "", ""]],
        [(3, None, "wrong_column_count")],
    ),
    "no platform at the top": (
        [HEADER, GOOD, ["N2", "", "甲", "A", "", "", "", "", ""]],
        [(3, "platform", "required")],
    ),
    "several problems": (
        [HEADER, ["N2", "N1", "", "A", "", "", "1x", "", ""], GOOD, ["bad code!", "", "乙", "B", "space", "", "", "", ""]],
        [(2, "name_zh", "required"), (2, "handle_normal", "invalid_time_limit"), (4, "code", "invalid_code"),
         (4, "platform", "unknown_platform")],
    ),
    "empty file": ([], [(1, None, "empty_file")]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_name_every_row_and_change_nothing(db, case):
    catalogue_load_defaults()
    before = snapshot()
    rows, expected = BAD_FILES[case]
    with pytest.raises(InvalidInput) as caught:
        catalogue_import(file=io.BytesIO(csv_bytes(rows)))
    found = [(e.params["row"], e.field, e.code) for e in caught.value.errors]
    assert found == expected
    for error in caught.value.errors:
        assert str(error.params["row"]) in str(error.message)
        if error.field:
            assert error.field in str(error.message)
    assert snapshot() == before
    assert not Category.objects.filter(code="N1").exists()  # the good row was not written either


def test_only_those_who_manage_categories_may_import(db):
    User = get_user_model()
    clerk = User.objects.create_user("clerk", password="x-pass-word-1")
    with pytest.raises(PermissionDenied):
        catalogue_import(rows=[HEADER, GOOD], actor=clerk)
    boss = User.objects.create_superuser("boss", password="x-pass-word-1")
    assert catalogue_import(rows=[HEADER, GOOD], actor=boss).created == 1


# -- command ----------------------------------------------------------------------------------
def test_the_command_imports_exports_and_exits_non_zero_on_bad_input(db, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command("categories", "import", "--defaults", stdout=out, stderr=err)
    assert str(Category.objects.count()) in out.getvalue()
    count = Category.objects.count()

    exported = tmp_path / "catalogue.csv"
    call_command("categories", "export", "-o", str(exported), stdout=out, stderr=err)
    assert exported.read_text(encoding="utf-8") == export_text()
    stdout = io.StringIO()
    call_command("categories", "export", stdout=stdout)
    assert stdout.getvalue() == export_text()

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(BAD_FILES["unknown platform"][0]))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("categories", "import", str(bad), stdout=io.StringIO(), stderr=err)
    assert "3" in err.getvalue() and "nowhere" in err.getvalue()
    assert Category.objects.count() == count

    with pytest.raises(CommandError):
        call_command("categories", "import", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("categories", "import", str(tmp_path / "absent.csv"), stdout=io.StringIO())


# -- admin ------------------------------------------------------------------------------------
@pytest.fixture
def plain_http(settings):
    # plain HTTP and static files from the apps (the defaults expect HTTPS and collected, hashed files)
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def test_the_admin_imports_a_file_and_reports_row_errors(admin_client, plain_http):
    changelist = reverse("admin:cases_category_changelist")
    import_url = reverse("admin:cases_category_import_csv")
    page = admin_client.get(changelist)
    assert import_url in page.content.decode()
    assert admin_client.get(import_url).status_code == 200

    bad = SimpleUploadedFile("bad.csv", csv_bytes(BAD_FILES["unknown platform"][0]), content_type="text/csv")
    response = admin_client.post(import_url, {"file": bad})
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("nowhere" in m and "3" in m for m in shown)
    assert not Category.objects.exists()

    with DEFAULTS_PATH.open("rb") as defaults:
        response = admin_client.post(import_url, {"file": SimpleUploadedFile("categories.csv", defaults.read())})
    assert response.status_code == 302 and response["Location"] == changelist
    assert Category.objects.count() > 100


def test_the_admin_exports_csv(admin_client, plain_http):
    catalogue_load_defaults()
    chosen = list(Category.objects.filter(code__in=["01", "0101"]).values_list("pk", flat=True))
    response = admin_client.post(reverse("admin:cases_category_changelist"),
                                 {"action": "export_csv", "_selected_action": chosen})
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode("utf-8-sig")
    assert [line.split(",")[0] for line in body.splitlines()] == ["code", "01", "0101"]

    response = admin_client.get(reverse("admin:cases_category_export_csv"))
    assert response.content.decode("utf-8-sig") == export_text()


def test_category_limits_are_inherited_for_every_leaf_of_the_defaults(db):
    catalogue_load_defaults()
    leaves = Category.objects.filter(children=None)
    assert leaves.count() > 100
    assert all(time_limit_for(category=leaf, stage="handle", urgency="normal") for leaf in leaves)
