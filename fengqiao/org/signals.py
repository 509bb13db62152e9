"""Assignments, departments, users or staff profiles changed: every process forgets who may do what
where (org.selectors.recipients_who_may)."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fengqiao.core.versioning import bump
from fengqiao.org.models import Assignment, Department, StaffProfile
from fengqiao.org.selectors import ASSIGNMENTS_KEY


@receiver([post_save, post_delete], sender=Assignment)
@receiver([post_save, post_delete], sender=Department)
@receiver([post_save, post_delete], sender=StaffProfile)
@receiver([post_save, post_delete], sender=get_user_model())
def organisation_changed(update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a sign-in changes nobody's duties
    bump(ASSIGNMENTS_KEY)
