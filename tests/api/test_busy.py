"""The API answers a busy database (SQLite's "database is locked") with 503 and Retry-After."""

import pytest
from django.db import OperationalError

from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def test_the_api_answers_503_with_retry_after_when_the_database_is_locked(as_user, territory, monkeypatch):
    from fengqiao.cases import services
    from fengqiao.org.models import Role
    from tests.factories import AssignmentFactory, UserFactory

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "case_report", locked)
    user = UserFactory()
    AssignmentFactory(user=user, role=Role.OPERATOR, region=territory.townships[0])
    category = CategoryFactory()
    lon, lat = territory.grid_centre(territory.grids[0])
    response = as_user(user).post("/cases", {"category": category.code, "description": "x",
                                                    "lon": lon, "lat": lat})
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["errors"][0]["code"] == "busy"
