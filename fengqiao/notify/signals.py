"""A webhook subscription changed: every process forgets the subscriptions it remembered."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fengqiao.core.versioning import bump
from fengqiao.notify.models import WebhookSubscription


@receiver([post_save, post_delete], sender=WebhookSubscription)
def subscriptions_changed(**kwargs) -> None:
    bump("notify.webhooks")
