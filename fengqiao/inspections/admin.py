from django.contrib import admin

from fengqiao.inspections.models import InspectionItem, InspectionResult, InspectionRound, InspectionTemplate


class InspectionItemInline(admin.TabularInline):
    model = InspectionItem
    extra = 1
    fields = ["order", "text_zh", "text_en", "category_code"]


@admin.register(InspectionTemplate)
class InspectionTemplateAdmin(admin.ModelAdmin):
    list_display = ["name_zh", "name_en", "target", "asset_type", "every_days", "time_of_day", "is_active"]
    list_filter = ["target", "time_of_day", "is_active"]
    search_fields = ["name_zh", "name_en"]
    inlines = [InspectionItemInline]


class InspectionResultInline(admin.TabularInline):
    model = InspectionResult
    extra = 0
    can_delete = False
    fields = ("item", "passed", "note", "case", "recorded_at")
    readonly_fields = fields


@admin.register(InspectionRound)
class InspectionRoundAdmin(admin.ModelAdmin):
    """Rounds are written by the field app's services; the admin only reads them."""

    list_display = ["template", "area_code", "inspector", "started_at", "finished_at"]
    list_filter = ["template"]
    search_fields = ["area_code"]
    readonly_fields = ["template", "grid", "asset", "area_code", "inspector", "due_at", "started_at", "finished_at"]
    inlines = [InspectionResultInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
