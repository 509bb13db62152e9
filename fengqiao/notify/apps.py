from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "fengqiao.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from fengqiao.notify import signals  # noqa: F401
