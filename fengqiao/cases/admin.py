from django.contrib import admin

from fengqiao.cases.models import Category, TimeLimit


class TimeLimitInline(admin.TabularInline):
    model = TimeLimit
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "platform", "department_kind", "is_active"]
    list_filter = ["platform", "is_active"]
    search_fields = ["code", "name_zh", "name_en"]
    autocomplete_fields = ["parent", "department_kind"]
    inlines = [TimeLimitInline]
