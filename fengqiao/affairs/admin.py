"""Administration of village affairs: appointment services and their weekly patterns are
configuration edited here; notices, disclosures and bookings are shown read-only (they change
through the services, which write the event log)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from fengqiao.affairs.models import (
    AffairsEvent,
    AppointmentService,
    Booking,
    Disclosure,
    Notice,
    Slot,
    WeeklySlot,
)


class WeeklySlotInline(admin.TabularInline):
    model = WeeklySlot
    extra = 1


@admin.register(AppointmentService)
class AppointmentServiceAdmin(admin.ModelAdmin):
    list_display = ("name_zh", "name_en", "department", "duration_minutes", "is_active")
    list_filter = ("is_active", "department")
    search_fields = ("name_zh", "name_en")
    exclude = ("area_code",)
    inlines = [WeeklySlotInline]

    def save_model(self, request: Any, obj: AppointmentService, form: Any, change: bool) -> None:
        obj.area_code = obj.department.region.code  # scope follows the office
        super().save_model(request, obj, form, change)


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ("service", "start", "end", "capacity", "is_manual", "is_active")
    list_filter = ("service", "is_active", "is_manual")
    date_hierarchy = "start"


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(ReadOnly):
    list_display = ("title", "kind", "region", "state", "published_at")
    list_filter = ("state", "kind")
    search_fields = ("title",)


@admin.register(Disclosure)
class DisclosureAdmin(ReadOnly):
    list_display = ("title", "village", "year", "quarter", "kind", "state")
    list_filter = ("state", "kind", "year")


@admin.register(Booking)
class BookingAdmin(ReadOnly):
    # no names or phones here: the day's list shows them masked to the office
    list_display = ("code", "service", "start", "state")
    list_filter = ("state", "service")
    fields = ("code", "service", "slot", "start", "end", "state", "created_at")


@admin.register(AffairsEvent)
class AffairsEventAdmin(ReadOnly):
    list_display = ("at", "subject_type", "subject_id", "action", "actor", "from_state", "to_state")
    list_filter = ("subject_type", "action")
