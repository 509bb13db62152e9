import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from fengqiao.cases.catalogue import (
    LIMIT_COLUMNS,
    REQUIRED_COLUMNS,
    catalogue_export,
    catalogue_import,
    format_time_limit,
)
from fengqiao.cases.models import Category, Stage, TimeLimit, Urgency
from fengqiao.core.errors import InvalidInput

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_ERRORS_SHOWN = 50


class TimeLimitInline(admin.TabularInline):
    model = TimeLimit
    extra = 0


class CategoryImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8 (or GB18030) text with the column names on the first row."),
    )
    dry_run = forms.BooleanField(label=_("Only check the file, write nothing"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload


def _csv_response(queryset=None) -> HttpResponse:
    buffer = io.StringIO()
    catalogue_export(stream=buffer, categories=queryset, bom=True)  # the mark lets spreadsheets read UTF-8
    response = HttpResponse(buffer.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    filename = f"categories-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "parent", "platform", "department_kind", "handle_limits",
                    "is_active"]
    list_filter = ["platform", "is_active", "department_kind"]
    list_select_related = ["parent", "platform", "department_kind"]
    search_fields = ["code", "name_zh", "name_en"]
    autocomplete_fields = ["parent", "department_kind"]
    inlines = [TimeLimitInline]
    actions = ["export_csv"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("time_limits")

    @admin.display(description=_("handling time (normal / urgent / critical)"))
    def handle_limits(self, obj: Category) -> str:
        limits = {(t.stage, t.urgency): format_time_limit(t.value, t.unit) for t in obj.time_limits.all()}
        if not any(stage == Stage.HANDLE for stage, _urgency in limits):
            return "—"
        return " / ".join(limits.get((Stage.HANDLE.value, u.value), "·") for u in Urgency)

    @admin.action(description=_("Export the selected categories as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return _csv_response(queryset)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("import-csv/", self.admin_site.admin_view(self.import_csv_view), name="{}_{}_import_csv".format(*info)),
            path("export-csv/", self.admin_site.admin_view(self.export_csv_view), name="{}_{}_export_csv".format(*info)),
            *super().get_urls(),
        ]

    def export_csv_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _csv_response()

    def import_csv_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = CategoryImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            dry_run = form.cleaned_data["dry_run"]
            try:
                result = catalogue_import(file=form.cleaned_data["file"], actor=request.user, dry_run=dry_run)
            except InvalidInput as exc:
                messages.error(request, str(exc))
                for error in exc.errors[:MAX_ERRORS_SHOWN]:
                    messages.error(request, str(error.message))
                hidden = len(exc.errors) - MAX_ERRORS_SHOWN
                if hidden > 0:
                    messages.error(request, ngettext("… and %(count)d more error.", "… and %(count)d more errors.",
                                                     hidden) % {"count": hidden})
            except PermissionDenied as exc:
                messages.error(request, str(exc) or _("You may not change the category catalogue."))
            else:
                messages.success(request, result.summary())
                if not dry_run:
                    return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import categories from CSV"),
            "opts": self.opts,
            "form": form,
            "required_columns": REQUIRED_COLUMNS,
            "limit_columns": list(LIMIT_COLUMNS),
        }
        return TemplateResponse(request, "admin/cases/category/import_csv.html", context)


# -- the case loop: routing rules are configuration; cases are read here and changed only
# through the services (the workbench and the API), so the admin shows them read-only.
from fengqiao.cases.models import Case, CaseEvent, RoutingRule  # noqa: E402


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "category", "area_prefix", "hour_from", "hour_to", "department", "level", "priority",
                    "is_active"]
    list_filter = ["is_active", "level"]
    search_fields = ["area_prefix", "category__code", "category__name_zh", "department__name_zh", "note"]
    autocomplete_fields = ["category", "department"]


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    fields = ["seq", "created_at", "action", "actor_label", "from_state", "to_state", "level", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["number", "category", "state", "level", "lead_department", "warning", "due_at", "created_at"]
    list_filter = ["state", "level", "warning", "channel", "platform", "supervised"]
    search_fields = ["number", "description", "address"]
    date_hierarchy = "created_at"
    list_select_related = ["category", "lead_department"]
    exclude = ["reporter_name", "reporter_phone"]  # personal data: never in the admin's lists or forms
    inlines = [CaseEventInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
