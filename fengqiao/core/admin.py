from django.contrib import admin

from fengqiao.core.models import CalendarDay, PersonalDataAccess


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "name"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin):
    """The access log is read-only: nobody edits or deletes who saw what."""

    list_display = ["at", "actor", "subject", "fields", "reason"]
    search_fields = ["subject", "actor__username", "reason"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
