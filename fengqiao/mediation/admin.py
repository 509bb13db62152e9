"""The admin of dispute mediation: configuration (types, risk rules, thresholds, deadlines) and the
mediation bodies, rooms and mediators. Disputes and their file are read-only here: every change to
a dispute goes through the services (the centre desk, the mediator workspace, the API)."""

from __future__ import annotations

from django.contrib import admin

from fengqiao.mediation.models import (
    Dispute,
    DisputeEvent,
    DisputeType,
    MediationDeadline,
    MediationOrganisation,
    Mediator,
    MediatorAbsence,
    RiskRule,
    RiskThreshold,
    Room,
)


@admin.register(DisputeType)
class DisputeTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "parent", "order", "is_active")
    list_editable = ("order", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name_zh", "name_en")


@admin.register(RiskRule)
class RiskRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "points", "level_floor", "numeric", "threshold", "per_unit", "order",
                    "is_active")
    list_editable = ("points", "level_floor", "order", "is_active")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(RiskThreshold)
class RiskThresholdAdmin(admin.ModelAdmin):
    list_display = ("level", "min_points")
    list_editable = ("min_points",)


@admin.register(MediationDeadline)
class MediationDeadlineAdmin(admin.ModelAdmin):
    list_display = ("risk_level", "stage", "value", "unit")
    list_editable = ("value", "unit")
    list_filter = ("risk_level", "stage")


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0


@admin.register(MediationOrganisation)
class MediationOrganisationAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "kind", "level", "region", "is_active")
    list_filter = ("kind", "level", "is_active")
    search_fields = ("code", "name_zh", "name_en")
    filter_horizontal = ("specialties",)
    inlines = [RoomInline]


class AbsenceInline(admin.TabularInline):
    model = MediatorAbsence
    extra = 0


@admin.register(Mediator)
class MediatorAdmin(admin.ModelAdmin):
    list_display = ("display_name", "organisation", "region", "capacity", "is_available")
    list_filter = ("is_available", "organisation")
    search_fields = ("display_name", "user__username")
    filter_horizontal = ("specialties",)
    raw_id_fields = ("user",)
    inlines = [AbsenceInline]


class EventInline(admin.TabularInline):
    model = DisputeEvent
    fields = ("seq", "action", "actor_label", "from_state", "to_state", "reason", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Read-only: the parties' data is not shown here at all (it is encrypted and masked elsewhere)."""

    list_display = ("number", "type", "state", "risk_level", "level", "mediator", "created_at")
    list_filter = ("state", "risk_level", "level", "type")
    search_fields = ("number", "title")
    fields = ("number", "type", "title", "state", "outcome", "risk_level", "level", "area_code", "organisation",
              "mediator", "origin_case_number", "created_at", "settled_at", "ended_at", "version")
    readonly_fields = fields
    inlines = [EventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
