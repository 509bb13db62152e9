from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from fengqiao.core.masking import mask_phone
from fengqiao.notify.models import Channel, Message, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "topics", "is_active", "created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_filter = ["is_active"]
    search_fields = ["name", "url", "topics"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "secret":
            kwargs["widget"] = forms.TextInput(attrs={"size": 60, "autocomplete": "off"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """The outbox, read-only: rows are written by `notify` and changed only by delivery (or retry)."""

    list_display = ["id", "topic", "channel", "masked_address", "case_number", "status", "attempts",
                    "next_attempt_at", "created_at", "sent_at"]
    list_filter = ["status", "channel", "topic"]
    search_fields = ["=case_number", "topic", "=uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["recipient", "subscription"]
    actions = ["retry_now"]
    # the address is shown masked here too: operating the outbox never needs the full value
    fields = ["uuid", "channel", "recipient", "masked_address", "subscription", "topic", "case_number", "subject",
              "body", "payload", "status", "attempts", "next_attempt_at", "locked_until", "claimed_by", "last_error",
              "created_at", "sent_at", "read_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("address"))
    def masked_address(self, obj: Message) -> str:
        if obj.channel == Channel.SMS:
            return mask_phone(obj.address)
        if obj.channel == Channel.WEBHOOK:
            return str(obj.subscription or "—")
        if obj.channel == Channel.EMAIL and "@" in obj.address:
            local, _at, domain = obj.address.partition("@")
            return f"{local[:2]}***@{domain}"
        return str(obj.recipient or "—")

    @admin.action(description=_("Retry the selected failed or dead notifications now"),
                  permissions=["change"])
    def retry_now(self, request, queryset):
        from fengqiao.notify.services import message_retry

        count = message_retry(actor=request.user, message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, ngettext("%(count)d notification requeued.", "%(count)d notifications requeued.",
                                            count) % {"count": count}, messages.SUCCESS)
