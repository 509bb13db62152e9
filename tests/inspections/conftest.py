import pytest

from fengqiao.cases.models import Category
from fengqiao.inspections.models import InspectionTemplate
from fengqiao.org.models import DepartmentKind, Platform, Role
from tests.cases.conftest import clock, loop  # noqa: F401
from tests.factories import AssignmentFactory, CategoryFactory, UserFactory


@pytest.fixture
def fire_categories(db) -> dict[str, Category]:
    """The fire-safety categories the default checklist names, as in the default catalogue."""
    platform = Platform.objects.get(code=Platform.PUBLIC_SAFETY)
    kind = DepartmentKind.objects.get(code="fire_safety")
    root = CategoryFactory(code="11", name_zh="安全隐患", name_en="Safety hazards", platform=platform,
                           department_kind=kind)
    found = {"11": root}
    for code, zh, en in [("1101", "消防安全隐患", "Fire safety hazard"), ("1102", "消防通道堵塞", "Blocked fire lane"),
                         ("1103", "电动自行车违规充电", "E-bike charged indoors"),
                         ("1107", "出租房屋安全隐患", "Safety hazard in rented housing")]:
        found[code] = CategoryFactory(code=code, name_zh=zh, name_en=en, parent=root, platform=platform,
                                      department_kind=kind)
    return found


@pytest.fixture
def night_check(db) -> InspectionTemplate:
    """The default template, created by the data migration."""
    return InspectionTemplate.objects.get(name_zh="出租房夜间消防安全检查")


@pytest.fixture
def staff():
    def make(role, **scope):
        user = UserFactory()
        AssignmentFactory(user=user, role=role, **scope)
        return user

    make.Role = Role
    return make
