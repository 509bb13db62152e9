"""The portal's records in the administration: subscriptions and resident accounts (e-mail addresses are
personal data: shown masked in the lists)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from fengqiao.portal.models import ResidentProfile, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["kind", "target", "masked_email", "created_at", "confirmed_at", "cancelled_at"]
    list_filter = ["kind", "own_request"]
    readonly_fields = ["kind", "case", "grid", "own_request", "language", "created_at", "confirmed_at"]
    exclude = ["email"]

    @admin.display(description=_("e-mail"))
    def masked_email(self, obj: Subscription) -> str:
        local, _at, domain = (obj.email or "").partition("@")
        return f"{local[:1]}***@{domain}" if domain else "***"

    @admin.display(description=_("followed"))
    def target(self, obj: Subscription) -> str:
        return str(obj.case or obj.grid or "")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ResidentProfile)
class ResidentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "email_on_changes", "created_at"]
    readonly_fields = ["user", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
