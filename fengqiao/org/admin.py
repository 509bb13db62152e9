from django.contrib import admin

from fengqiao.org.models import Assignment, Department, DepartmentKind, Platform, StaffProfile


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "order"]


@admin.register(DepartmentKind)
class DepartmentKindAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "kind", "region", "is_active"]
    list_filter = ["kind", "platforms", "is_active"]
    search_fields = ["code", "name_zh", "name_en"]
    autocomplete_fields = ["region", "parent", "kind"]
    filter_horizontal = ["platforms"]


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 0
    autocomplete_fields = ["region", "grid", "department"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "department", "title"]
    search_fields = ["display_name", "user__username"]
    autocomplete_fields = ["user", "department"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "region", "grid", "department", "full_time", "is_active"]
    list_filter = ["role", "is_active", "full_time"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user", "region", "grid", "department"]


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    extra = 0
    autocomplete_fields = ["department"]


# Staff are users: show their profile and role assignments on the user's page.
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.admin import UserAdmin  # noqa: E402

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [StaffProfileInline, AssignmentInline]


# API tokens are created with `fengqiao api_token create` (the plain token is shown once there);
# the admin lists them and revokes or expires them.
from fengqiao.org.models import ApiToken  # noqa: E402


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "expires_at", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked"]

    def has_add_permission(self, request) -> bool:
        return False
