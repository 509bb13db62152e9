from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "fengqiao.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from fengqiao.core import signals  # noqa: F401
