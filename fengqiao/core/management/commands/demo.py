from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Build or update the demo township (territory, departments, staff, assets, categories). Idempotent."

    def handle(self, *args, **options):
        from fengqiao.demo.build import build_demo

        result = build_demo()
        counts = ", ".join(f"{n} {k}" for k, n in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo township ready: {counts}."))
        print_logins(self.stdout, result)


def print_logins(stdout, result) -> None:
    shown = [login for login in result.logins if not login.username.startswith(("gw-", "chief-"))]
    shown += [login for login in result.logins if login.username in ("gw-0101", "chief-01")]
    stdout.write("Demo logins (all grid workers are gw-VVGG, grid chiefs chief-VV):")
    for login in shown:
        stdout.write(f"  {login.username:<24} {login.role:<28} {login.scope}")
    if result.password:
        stdout.write(f"Password for every demo account: {result.password}")
        stdout.write(f"(kept in {settings.VAR_DIR / 'demo-password'}; set FENGQIAO_DEMO_PASSWORD to choose one)")
    else:
        stdout.write(f"Password: see {settings.VAR_DIR / 'demo-password'} (or FENGQIAO_DEMO_PASSWORD).")
