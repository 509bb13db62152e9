"""The catalogue or the routing data changed: every process forgets the time limits and the routing
table it remembered (core.versioning)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fengqiao.cases.models import Category, RoutingRule, TimeLimit
from fengqiao.cases.routing import ROUTING_KEY
from fengqiao.core.versioning import bump
from fengqiao.org.models import Department, DepartmentKind

CATALOGUE_KEY = "cases.catalogue"


@receiver([post_save, post_delete], sender=Category)
@receiver([post_save, post_delete], sender=TimeLimit)
def catalogue_changed(sender, **kwargs) -> None:
    bump(CATALOGUE_KEY)
    if sender is Category:
        bump(ROUTING_KEY)


@receiver([post_save, post_delete], sender=RoutingRule)
@receiver([post_save, post_delete], sender=Department)
@receiver([post_save, post_delete], sender=DepartmentKind)
def routing_changed(**kwargs) -> None:
    bump(ROUTING_KEY)
