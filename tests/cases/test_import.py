"""Bulk intake (case_import): the same cases as case_report, a few statements a chunk, all or nothing."""

from __future__ import annotations

import pytest

from fengqiao.cases import services as s
from fengqiao.cases.counts import open_counts
from fengqiao.cases.events import verify_chain
from fengqiao.cases.models import Case, CaseEvent, CaseSequence, Channel, IdempotencyKey, RequestType, Urgency
from fengqiao.cases.selectors import duplicate_candidates
from fengqiao.cases.services import IncomingReport, case_import
from fengqiao.core.errors import Conflict, Forbidden, InvalidInput
from fengqiao.notify.models import Message
from fengqiao.org.models import Role
from tests.factories import AssignmentFactory, CategoryFactory, UserFactory

# what a case is once taken in, whichever way it came
SAME_AS_REPORTED = ["state", "level", "channel", "request_type", "category_id", "platform_id", "grid_id", "region_id",
                    "area_code", "urgency", "is_public", "anonymous", "stage_started_at", "due_at", "warn_at",
                    "next_due_at", "answer_due_at", "answer_warn_at", "warning", "answer_warning", "created_at",
                    "reporter_user_id", "last_event_seq", "version"]


def _rows(loop, n, **fields):
    lon, lat = loop.point()
    defaults = dict(category=loop.category, description="路边乱堆放建筑垃圾", lon=lon, lat=lat)
    return [IncomingReport(**{**defaults, **fields}) for _ in range(n)]


def test_an_imported_case_is_the_case_report_would_make(loop):
    lon, lat = loop.point(loop.territory.grids[1])
    inputs = dict(category=loop.category, description="路灯不亮", lon=lon, lat=lat, address="解放路 8 号",
                  urgency=Urgency.URGENT, request_type=RequestType.COMPLAINT, reporter_name="王某",
                  reporter_phone="13800001111")
    # residents' requests, e.g. from a predecessor's portal: their answer clock runs too
    reported = s.case_report(actor=loop.operator, channel=Channel.RESIDENT, **inputs)
    [imported] = case_import(actor=loop.operator, channel=Channel.RESIDENT, reports=[IncomingReport(**inputs)])
    imported = Case.objects.get(pk=imported.pk)
    assert {f: getattr(imported, f) for f in SAME_AS_REPORTED} == {f: getattr(reported, f) for f in SAME_AS_REPORTED}
    assert imported.answer_due_at is not None
    assert imported.reporter_phone == "13800001111" and imported.reporter_phone_index == reported.reporter_phone_index
    assert imported.tracking_code and imported.tracking_code != reported.tracking_code
    # the township's daily counter is shared: the next number
    assert int(imported.number.rsplit("-", 1)[1]) == int(reported.number.rsplit("-", 1)[1]) + 1
    event = imported.events.get()
    assert (event.action, event.actor_id, event.payload["channel"]) == ("report", loop.operator.pk, "resident")
    assert verify_chain().ok
    # the intake staff hear of it as of any report
    assert Message.objects.filter(topic="case.reported", case_number=imported.number,
                                  recipient=loop.operator).count() == 1


def test_chunks_number_consecutively_and_the_counts_follow(loop):
    s.case_report(actor=loop.operator, channel=Channel.HOTLINE, category=loop.category, description="先来的一件",
                  lon=loop.point()[0], lat=loop.point()[1])
    assert open_counts([loop.grid.code])[loop.grid.code]["open"] == 1
    cases = case_import(actor=loop.operator, reports=_rows(loop, 5), chunk_size=2)
    numbers = [int(case.number.rsplit("-", 1)[1]) for case in cases]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert Case.objects.filter(channel=Channel.IMPORT, area_code=loop.grid.code).count() == 5
    assert open_counts([loop.grid.code])[loop.grid.code]["open"] == 6
    assert verify_chain().ok


def test_duplicates_are_found_in_the_database_and_within_the_batch(loop):
    lon, lat = loop.point()
    first = s.case_report(actor=loop.operator, channel=Channel.HOTLINE, category=loop.category,
                          description="井盖缺失", lon=lon, lat=lat)
    other_category = CategoryFactory(code="0602", name_zh="乱堆放", name_en="Dumping")
    far = loop.point(loop.territory.grids[2])
    rows = [
        IncomingReport(category=loop.category, description="又见井盖缺失", lon=lon + 0.0003, lat=lat),  # ~29 m east
        IncomingReport(category=loop.category, description="井盖还是没有", lon=lon + 0.0005, lat=lat),  # ~49 m east
        IncomingReport(category=other_category, description="旁边有垃圾", lon=lon, lat=lat),
        IncomingReport(category=loop.category, description="别处的井盖", lon=far[0], lat=far[1]),
    ]
    cases = case_import(actor=loop.operator, reports=rows)
    found = [Case.objects.get(pk=c.pk).events.get().payload["possible_duplicates"] for c in cases]
    assert found[0] == [first.number]
    assert found[1] == [cases[0].number, first.number]  # nearest first, the batch's own included
    assert found[2] == [] and found[3] == []
    # what the one-by-one search finds for the first row, now that it is stored
    assert [c.number for c in duplicate_candidates(case=Case.objects.get(pk=cases[0].pk))] \
        == [cases[1].number, first.number]


def test_any_bad_row_writes_nothing_and_every_bad_row_is_named(loop):
    good = _rows(loop, 1)[0]
    other_town = loop.point(loop.territory.grids[4])  # township B: not the operator's
    rows = [
        good,
        IncomingReport(category=loop.category, description="  "),
        IncomingReport(category=loop.category, description="远处", lon=130.0, lat=40.0),
        IncomingReport(category=loop.category, description="邻镇的事", lon=other_town[0], lat=other_town[1]),
        IncomingReport(category=loop.category, description="x" * 2001, lon=good.lon, lat=good.lat, urgency="soon"),
    ]
    cases, sequences, messages = Case.objects.count(), list(CaseSequence.objects.values_list("key", "value")), \
        Message.objects.count()
    with pytest.raises(InvalidInput) as raised:
        case_import(actor=loop.operator, reports=rows)
    fields = [(e.field, e.code) for e in raised.value.errors]
    assert ("rows[1].description", "required") in fields
    assert ("rows[1].location", "location_required") not in fields  # one row's own fields are checked first
    assert ("rows[2].location", "outside_territory") in fields
    assert ("rows[3].location", "not_found") in fields
    assert ("rows[4].description", "too_long") in fields and ("rows[4].urgency", "invalid_choice") in fields
    assert not any(field.startswith("rows[0]") for field, _code in fields)
    assert "4" in str(raised.value)  # rows cannot be taken in
    assert Case.objects.count() == cases and Message.objects.count() == messages
    assert list(CaseSequence.objects.values_list("key", "value")) == sequences


def test_only_intake_staff_take_in_a_batch(loop):
    with pytest.raises(Forbidden):
        case_import(actor=None, reports=_rows(loop, 1))
    with pytest.raises(InvalidInput) as raised:  # a grid worker reports, but does not take in others' reports
        case_import(actor=loop.grid_worker, reports=_rows(loop, 2))
    assert {e.code for e in raised.value.errors} == {"not_found"}
    with pytest.raises(InvalidInput) as raised:
        case_import(actor=loop.operator, channel="fax", reports=_rows(loop, 1))
    assert raised.value.errors[0].field == "channel"
    assert not Case.objects.exists()


def test_an_empty_batch_writes_nothing(loop):
    assert case_import(actor=loop.operator, reports=[]) == []
    assert not Case.objects.exists()


def test_a_retried_batch_returns_its_cases_and_writes_nothing_new(loop):
    rows = _rows(loop, 3, description="排水沟堵塞") + _rows(loop, 1, description="井盖缺失")
    first = case_import(actor=loop.operator, reports=rows, idempotency_key="batch-1")
    written = (Case.objects.count(), CaseEvent.objects.count(), Message.objects.count())
    again = case_import(actor=loop.operator, reports=rows, idempotency_key="batch-1")
    assert [c.number for c in again] == [c.number for c in first]
    assert [c.description for c in again] == ["排水沟堵塞"] * 3 + ["井盖缺失"]
    assert (Case.objects.count(), CaseEvent.objects.count(), Message.objects.count()) == written
    # another caller's key of the same name is another key
    colleague = UserFactory()
    AssignmentFactory(user=colleague, role=Role.OPERATOR, region=loop.operator.assignments.get().region)
    other = case_import(actor=colleague, reports=rows[:1], idempotency_key="batch-1")
    assert other[0].number not in {c.number for c in first}


def test_a_batch_key_used_for_other_rows_is_refused(loop):
    rows = _rows(loop, 2)
    case_import(actor=loop.operator, reports=rows, idempotency_key="batch-2")
    count = Case.objects.count()
    with pytest.raises(Conflict) as raised:
        case_import(actor=loop.operator, reports=rows[:1], idempotency_key="batch-2")
    assert raised.value.code == "idempotency_key_reused"
    # a key one report used is not a batch's either: keys share one namespace
    lon, lat = loop.point()
    s.case_report(actor=loop.operator, channel=Channel.HOTLINE, category=loop.category, description="单件",
                  lon=lon, lat=lat, idempotency_key="single-1")
    with pytest.raises(Conflict):
        case_import(actor=loop.operator, reports=rows, idempotency_key="single-1")
    assert Case.objects.count() == count + 1


def test_a_batch_that_loses_the_race_for_its_key_undoes_itself(loop, monkeypatch):
    rows = _rows(loop, 3)
    first = case_import(actor=loop.operator, reports=rows, idempotency_key="batch-3")
    sequences = list(CaseSequence.objects.values_list("key", "value"))
    looked = []
    real = s._cases_of_key

    def not_yet_there(*args):  # the retry looks before the first batch has committed its key
        looked.append(args)
        return None if len(looked) == 1 else real(*args)

    monkeypatch.setattr(s, "_cases_of_key", not_yet_there)
    again = case_import(actor=loop.operator, reports=rows, idempotency_key="batch-3")
    assert [c.pk for c in again] == [c.pk for c in first]
    assert Case.objects.count() == 3 and IdempotencyKey.objects.count() == 1
    assert list(CaseSequence.objects.values_list("key", "value")) == sequences  # its numbers were given back


# -- from a CSV file ------------------------------------------------------------------------------
def _csv(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "reports.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_a_file_is_taken_in_with_the_command(loop, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    lon, lat = loop.point()
    grid = loop.territory.grids[1]
    path = _csv(tmp_path, "category,description,lon,lat,grid,urgency,public,anonymous,reporter_phone\n"
                          f"0601,占道经营摊位,{lon},{lat},,,,,\n"
                          f"0601,夜市占道,,,{grid.code},urgent,no,yes,13800001111\n", encoding="gb18030")
    out = StringIO()
    call_command("cases", "import", str(path), "--as", loop.operator.username, "--dry-run", stdout=out)
    assert "2 rows can be taken in" in out.getvalue() and not Case.objects.exists()

    call_command("cases", "import", str(path), "--as", loop.operator.username, "--channel", "hotline", stdout=out)
    first, second = Case.objects.order_by("number")
    assert (first.grid, first.channel, first.urgency, first.is_public) == (loop.grid, "hotline", "normal", True)
    assert (second.grid, second.urgency, second.is_public, second.anonymous) == (grid, "urgent", False, True)
    assert second.reporter_phone == ""  # an anonymous report keeps no contact
    assert "2 cases taken in" in out.getvalue()


def test_a_bad_file_names_its_lines_and_writes_nothing(loop, tmp_path):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    lon, lat = loop.point()
    path = _csv(tmp_path, "category,description,lon,lat,public\n"
                          f"0601,好的一行,{lon},{lat},yes\n"
                          f"9999,类别不存在,{lon},{lat},\n"
                          f"0601,经度不是数,东经120,{lat},maybe\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("cases", "import", str(path), "--as", loop.operator.username, stderr=err)
    lines = err.getvalue()
    assert "line 3, category" in lines and "line 4, lon" in lines and "line 4, public" in lines
    assert "line 2" not in lines
    assert not Case.objects.exists()

    # checked by case_import after reading: the line of a row outside the territory
    _csv(tmp_path, f"category,description,lon,lat\n0601,好的一行,{lon},{lat}\n0601,远处,130,40\n")
    with pytest.raises(CommandError):
        call_command("cases", "import", str(path), "--as", loop.operator.username, stderr=err)
    assert "line 3, location" in err.getvalue() and not Case.objects.exists()

    _csv(tmp_path, "category,text\n0601,缺少描述列\n")
    with pytest.raises(CommandError):
        call_command("cases", "import", str(path), "--as", loop.operator.username, stderr=err)
    assert "text" in err.getvalue() and "description" in err.getvalue()
