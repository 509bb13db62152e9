from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    name = "fengqiao.mediation"
    label = "mediation"
    verbose_name = _("Dispute mediation")
    # dotted paths of idempotent jobs that `fengqiao periodic` runs every interval (besides settings.PERIODIC_JOBS)
    periodic_jobs: list[str] = ["fengqiao.mediation.tasks.remind_follow_ups", "fengqiao.mediation.tasks.remind_overdue"]
    # dotted path of `build(*, township, villages, password) -> fengqiao.demo.build.DemoPart` run by `fengqiao demo`
    demo: str | None = "fengqiao.mediation.demo.build"
