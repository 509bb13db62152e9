"""factory_boy factories and a small square territory used across the tests."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from fengqiao.geo.models import Asset, AssetType, Grid, Region, RegionLevel
from fengqiao.geo.services import grid_measure
from fengqiao.org.models import Assignment, Department, DepartmentKind, Platform, Role, StaffProfile


def square(lon: float, lat: float, size: float = 0.01) -> dict:
    """A GeoJSON square whose south-west corner is (lon, lat)."""
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]],
    }


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{330600 + n:06d}")
    name = factory.Sequence(lambda n: f"区域{n}")
    level = RegionLevel.COUNTY


class GridFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grid
        django_get_or_create = ("code",)

    region = factory.SubFactory(RegionFactory)
    code = factory.LazyAttributeSequence(lambda o, n: f"{o.region.code}{n % 1000:03d}")
    name = factory.Sequence(lambda n: f"网格{n}")
    geometry = factory.LazyFunction(lambda: square(120.0, 29.0))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        grid = model_class(*args, **kwargs)
        grid_measure(grid=grid)
        grid.save()
        return grid


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"dept-{n}")
    name_zh = factory.Sequence(lambda n: f"部门{n}")
    name_en = factory.Sequence(lambda n: f"Department {n}")
    kind = factory.LazyFunction(lambda: DepartmentKind.objects.get(code="enforcement"))
    region = factory.SubFactory(RegionFactory)

    @factory.post_generation
    def platforms(self, create, extracted, **kwargs):
        if create and extracted:
            self.platforms.set(Platform.objects.filter(code__in=extracted))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def profile(self, create, extracted, **kwargs):
        if create:
            self.save()
            StaffProfile.objects.get_or_create(user=self, defaults={"display_name": self.username})


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    user = factory.SubFactory(UserFactory)
    role = Role.OPERATOR


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    code = factory.Sequence(lambda n: f"A{n:05d}")
    type = AssetType.MANHOLE_COVER
    lon = 120.005
    lat = 29.005


class Territory:
    """County 330681 > townships 330681101, 330681102 > villages (2 each) > 2 grids per village.

    Village i of township t covers the square at lon 120 + 0.02*(2t + i), lat 29.0; its two
    grids split it north/south. Township boundaries are the union of their villages.
    """

    def __init__(self):
        self.county = RegionFactory(code="330681", name="诸暨市", level=RegionLevel.COUNTY,
                                    boundary=square(119.9, 28.9, 0.5))
        self.townships, self.villages, self.grids = [], [], []
        for t in range(2):
            town = RegionFactory(code=f"330681{101 + t}", name=f"镇{t}", level=RegionLevel.TOWNSHIP,
                                 parent=self.county, boundary=square(120 + 0.04 * t, 29.0, 0.04))
            self.townships.append(town)
            for i in range(2):
                lon = 120 + 0.02 * (2 * t + i)
                village = RegionFactory(code=f"{town.code}{201 + i:03d}", name=f"村{t}{i}",
                                        level=RegionLevel.VILLAGE, parent=town, boundary=square(lon, 29.0, 0.02))
                self.villages.append(village)
                for g in range(2):
                    self.grids.append(
                        GridFactory(region=village, code=f"{village.code}{g + 1:03d}", name=f"网格{t}{i}{g}",
                                    geometry={"type": "Polygon", "coordinates": [[
                                        [lon, 29.0 + 0.01 * g], [lon + 0.02, 29.0 + 0.01 * g],
                                        [lon + 0.02, 29.01 + 0.01 * g], [lon, 29.01 + 0.01 * g],
                                        [lon, 29.0 + 0.01 * g]]]})
                    )

    def grid_centre(self, grid: Grid) -> tuple[float, float]:
        ring = grid.geometry["coordinates"][0]
        return (ring[0][0] + ring[2][0]) / 2, (ring[0][1] + ring[2][1]) / 2


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cases.Category"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"T{n:03d}")
    name_zh = factory.Sequence(lambda n: f"事项{n}")
    name_en = factory.Sequence(lambda n: f"Matter {n}")
    platform = factory.LazyFunction(lambda: Platform.objects.get(code=Platform.ENFORCEMENT))
    department_kind = factory.LazyFunction(lambda: DepartmentKind.objects.get(code="enforcement"))


def jpeg_bytes(size=(64, 48), colour=(200, 80, 40)) -> bytes:
    """A small real JPEG image."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()
