"""Grids and regions changed: every process rebuilds its locator (see core.versioning)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fengqiao.core.versioning import bump
from fengqiao.geo.models import Grid, Region

LOCATOR_KEY = "geo.locator"


@receiver([post_save, post_delete], sender=Grid)
@receiver([post_save, post_delete], sender=Region)
def territory_changed(**kwargs) -> None:
    bump(LOCATOR_KEY)
