"""Reads of the in-app inbox. A user sees only their own messages."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from fengqiao.notify.models import Channel, Message, Status


def inbox_for(*, user: AbstractBaseUser | AnonymousUser, unread_only: bool = False) -> QuerySet[Message]:
    """The user's inbox, newest first (empty for an anonymous user)."""
    if not user.is_authenticated:
        return Message.objects.none()
    messages = Message.objects.filter(recipient_id=user.pk, channel=Channel.INBOX, status=Status.SENT)
    if unread_only:
        messages = messages.filter(read_at__isnull=True)
    return messages.order_by("-created_at", "-pk")


def unread_count(*, user: AbstractBaseUser | AnonymousUser) -> int:
    return inbox_for(user=user, unread_only=True).count()
