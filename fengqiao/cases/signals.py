"""The catalogue changed: every process forgets the time limits it remembered (core.versioning)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fengqiao.cases.models import Category, TimeLimit
from fengqiao.core.versioning import bump

CATALOGUE_KEY = "cases.catalogue"


@receiver([post_save, post_delete], sender=Category)
@receiver([post_save, post_delete], sender=TimeLimit)
def catalogue_changed(**kwargs) -> None:
    bump(CATALOGUE_KEY)
