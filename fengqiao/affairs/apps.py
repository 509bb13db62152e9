from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AffairsConfig(AppConfig):
    name = "fengqiao.affairs"
    label = "affairs"
    verbose_name = _("Village affairs")
    # dotted paths of idempotent jobs that `fengqiao periodic` runs every interval (besides settings.PERIODIC_JOBS)
    periodic_jobs: list[str] = ["fengqiao.affairs.services.appointments.generate_all_slots"]
    # dotted path of `build(*, township, villages, password) -> fengqiao.demo.build.DemoPart` run by `fengqiao demo`
    demo: str | None = "fengqiao.affairs.demo.build"
