from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GeoConfig(AppConfig):
    name = "fengqiao.geo"
    label = "geo"
    verbose_name = _("Territory")

    def ready(self) -> None:
        from fengqiao.geo import signals  # noqa: F401
