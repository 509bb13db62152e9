"""Calendar overrides changed: every process rebuilds its working calendar (see core.versioning)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fengqiao.core.models import CalendarDay
from fengqiao.core.versioning import bump


@receiver([post_save, post_delete], sender=CalendarDay)
def calendar_changed(**kwargs) -> None:
    bump("calendar")
