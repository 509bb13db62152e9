from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "fengqiao.portal"
    label = "portal"
    verbose_name = _("Resident portal")
    # dotted paths of idempotent jobs that `fengqiao periodic` runs every interval (besides settings.PERIODIC_JOBS)
    periodic_jobs: list[str] = [
        "fengqiao.portal.services.send_case_updates",
        "fengqiao.portal.abuse.purge_rate_counters",
    ]
    # dotted path of `build(*, township, villages, password) -> fengqiao.demo.build.DemoPart` run by `fengqiao demo`
    demo: str | None = "fengqiao.portal.demo.build"
