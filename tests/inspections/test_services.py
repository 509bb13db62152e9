from datetime import timedelta

import pytest

from fengqiao.cases.models import Case, CaseAttachment, Channel
from fengqiao.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.inspections.models import InspectionResult, InspectionRound, InspectionTemplate
from fengqiao.inspections.selectors import inspection_round_get, inspections_due
from fengqiao.inspections.services import inspection_finish, inspection_record, inspection_start
from fengqiao.org.models import Role
from tests.factories import jpeg_bytes

pytestmark = pytest.mark.django_db


def test_the_default_checklist_is_a_night_fire_safety_check(night_check):
    items = list(night_check.items.values_list("text_zh", "category_code"))
    assert night_check.time_of_day == "night"
    assert [text for text, _ in items] == ["疏散通道畅通", "灭火器配备有效", "电动车未在室内充电", "电线线路安全"]
    assert all(code.startswith("11") for _, code in items)


def test_a_failed_item_makes_exactly_one_case_linked_to_the_result(loop, night_check, fire_categories):
    worker = loop.grid_worker
    inspection = inspection_start(actor=worker, template=night_check, grid=loop.grid)
    items = list(night_check.items.all())

    for item in items[1:]:
        result = inspection_record(actor=worker, round_id=inspection.pk, item_id=item.pk, passed=True)
        assert result.case is None
    assert Case.objects.count() == 0

    failed = inspection_record(actor=worker, round_id=inspection.pk, item_id=items[0].pk, passed=False,
                               note="楼道堆放杂物", photo=jpeg_bytes())
    case = failed.case
    assert case is not None and Case.objects.count() == 1
    assert case.channel == Channel.GRID_WORKER
    assert case.category == fire_categories["1102"]
    assert case.grid == loop.grid
    assert "疏散通道畅通" in case.description and "楼道堆放杂物" in case.description
    assert case.attachments.filter(kind=CaseAttachment.Kind.REPORT).count() == 1
    assert failed.photo.name

    # the same answer again (a retried request) returns the first result and makes no second case
    again = inspection_record(actor=worker, round_id=inspection.pk, item_id=items[0].pk, passed=False,
                              note="楼道堆放杂物")
    assert again.pk == failed.pk and Case.objects.count() == 1
    with pytest.raises(Conflict):
        inspection_record(actor=worker, round_id=inspection.pk, item_id=items[0].pk, passed=True)

    finished = inspection_finish(actor=worker, round_id=inspection.pk)
    assert finished.finished_at is not None
    assert InspectionResult.objects.filter(round=inspection).count() == len(items)


def test_a_failed_item_needs_a_note_and_writes_nothing_without_it(loop, night_check, fire_categories):
    inspection = inspection_start(actor=loop.grid_worker, template=night_check, grid=loop.grid)
    item = night_check.items.first()
    with pytest.raises(InvalidInput) as error:
        inspection_record(actor=loop.grid_worker, round_id=inspection.pk, item_id=item.pk, passed=False)
    assert error.value.errors[0].field == "note"
    assert Case.objects.count() == 0 and not InspectionResult.objects.exists()


def test_a_failed_item_without_a_category_in_use_is_refused_and_writes_nothing(loop, night_check):
    inspection = inspection_start(actor=loop.grid_worker, template=night_check, grid=loop.grid)
    item = night_check.items.first()
    with pytest.raises(InvalidInput) as error:
        inspection_record(actor=loop.grid_worker, round_id=inspection.pk, item_id=item.pk, passed=False, note="x")
    assert error.value.code == "no_category"
    assert not InspectionResult.objects.exists() and Case.objects.count() == 0


def test_the_item_must_be_on_the_rounds_checklist(loop, night_check):
    other = InspectionTemplate.objects.create(name_zh="路灯巡查", target="grid")
    stray = other.items.create(text_zh="灯亮")
    inspection = inspection_start(actor=loop.grid_worker, template=night_check, grid=loop.grid)
    with pytest.raises(InvalidInput):
        inspection_record(actor=loop.grid_worker, round_id=inspection.pk, item_id=stray.pk, passed=True)


def test_finishing_needs_every_item_and_a_finished_round_takes_no_more(loop, night_check):
    worker = loop.grid_worker
    inspection = inspection_start(actor=worker, template=night_check, grid=loop.grid)
    with pytest.raises(InvalidInput):
        inspection_finish(actor=worker, round_id=inspection.pk)
    for item in night_check.items.all():
        inspection_record(actor=worker, round_id=inspection.pk, item_id=item.pk, passed=True)
    inspection_finish(actor=worker, round_id=inspection.pk)
    with pytest.raises(TransitionNotAllowed):
        inspection_record(actor=worker, round_id=inspection.pk, item_id=night_check.items.first().pk, passed=True)


def test_starting_twice_continues_the_open_round(loop, night_check):
    first = inspection_start(actor=loop.grid_worker, template=night_check, grid=loop.grid)
    second = inspection_start(actor=loop.grid_worker, template=night_check, grid=loop.grid)
    assert first.pk == second.pk and InspectionRound.objects.count() == 1


# -- permissions: only the grid's worker or chief ----------------------------------------------------
@pytest.mark.parametrize("who, expected", [
    ("grid_worker", None),
    ("chief", None),
    ("other_worker", NotFound),
    ("operator", Forbidden),  # sees the grid's cases but does not inspect
    ("handler", NotFound),
    ("leader", Forbidden),
])
def test_only_the_grids_worker_or_chief_inspects(loop, night_check, staff, who, expected):
    actors = {
        "grid_worker": loop.grid_worker,
        "chief": staff(Role.GRID_CHIEF, region=loop.grid.region),
        "other_worker": staff(Role.GRID_WORKER, grid=loop.territory.grids[1]),
        "operator": loop.operator,
        "handler": loop.handler,
        "leader": loop.leader,
    }
    if expected is None:
        assert inspection_start(actor=actors[who], template=night_check, grid=loop.grid).area_code == loop.grid.code
    else:
        with pytest.raises(expected):
            inspection_start(actor=actors[who], template=night_check, grid=loop.grid)


def test_another_worker_cannot_record_or_read_a_round(loop, night_check, staff):
    inspection = inspection_start(actor=loop.grid_worker, template=night_check, grid=loop.grid)
    other = staff(Role.GRID_WORKER, grid=loop.territory.grids[1])
    with pytest.raises(NotFound):
        inspection_record(actor=other, round_id=inspection.pk, item_id=night_check.items.first().pk, passed=True)
    with pytest.raises(NotFound):
        inspection_round_get(actor=other, round_id=inspection.pk)


# -- what is due ---------------------------------------------------------------------------------------
def test_inspections_due_in_the_actors_grids(loop, night_check, clock, staff):
    worker = loop.grid_worker
    due = inspections_due(worker)
    assert [(d.template, d.grid) for d in due] == [(night_check, loop.grid)]
    assert due[0].due_at is None and due[0].is_due

    inspection = inspection_start(actor=worker, template=night_check, grid=loop.grid)
    assert inspections_due(worker)[0].open_round == inspection
    for item in night_check.items.all():
        inspection_record(actor=worker, round_id=inspection.pk, item_id=item.pk, passed=True)
    inspection_finish(actor=worker, round_id=inspection.pk)

    assert inspections_due(worker) == []  # done for this week
    later = inspections_due(worker, include_later=True)
    assert later[0].due_at == inspection.started_at + timedelta(days=night_check.every_days)
    clock.now = clock.now + timedelta(days=night_check.every_days)
    assert [d.grid for d in inspections_due(worker)] == [loop.grid]

    # a chief of the village sees both grids of the village; nobody sees another's grids
    chief = staff(Role.GRID_CHIEF, region=loop.grid.region)
    assert {d.grid.code for d in inspections_due(chief)} == {g.code for g in loop.territory.grids[:2]}
    assert inspections_due(loop.handler) == []


def test_a_checklist_per_asset_type(loop, fire_categories):
    from fengqiao.geo.models import AssetType
    from tests.factories import AssetFactory

    lon, lat = loop.point()
    hydrant = AssetFactory(type=AssetType.HYDRANT, lon=lon, lat=lat, grid=loop.grid, region=loop.grid.region)
    AssetFactory(type=AssetType.STREETLIGHT, lon=lon, lat=lat, grid=loop.grid, region=loop.grid.region)
    template = InspectionTemplate.objects.create(name_zh="消火栓月检", target="asset", asset_type=AssetType.HYDRANT,
                                                 every_days=30, default_category_code="1101")
    item = template.items.create(text_zh="出水正常")
    due = [d for d in inspections_due(loop.grid_worker) if d.template == template]
    assert [d.asset for d in due] == [hydrant]
    inspection = inspection_start(actor=loop.grid_worker, template=template, asset=hydrant)
    assert inspection.area_code == loop.grid.code
    result = inspection_record(actor=loop.grid_worker, round_id=inspection.pk, item_id=item.pk, passed=False,
                               note="无水")
    assert result.case.asset == hydrant and result.case.category == fire_categories["1101"]
