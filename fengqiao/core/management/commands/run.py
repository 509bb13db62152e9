"""`fengqiao run`: migrate, build the demo, then serve the web and the background worker."""

import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, load the demo township and serve web + worker (default http://127.0.0.1:8000)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="do not build the demo township")
        parser.add_argument("--no-worker", action="store_true", help="do not start the background worker")

    def handle(self, *args, addrport, no_demo, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=1)
        if not no_demo:
            call_command("demo", stdout=self.stdout)
        workers = []
        if not no_worker:
            for command in ("db_worker", "periodic"):
                workers.append(subprocess.Popen([sys.executable, "-m", "fengqiao.cli", command]))  # noqa: S603
        self.stdout.write(self.style.SUCCESS(f"Fengqiao: http://{addrport}/  (admin: http://{addrport}/admin/)"))
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=10)
