"""`fengqiao periodic`: run the idempotent sweeps (settings.PERIODIC_JOBS) every interval.

Each job is safe to run twice or from two processes at once; a failing job is logged and the
others still run.
"""

import logging
import time

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.module_loading import import_string

logger = logging.getLogger("fengqiao.periodic")


class Command(BaseCommand):
    help = "Run the periodic sweeps (deadlines, outbox delivery) every interval; --once for one round."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run one round and exit")
        parser.add_argument("--interval", type=float, default=None, help="seconds between rounds")

    def handle(self, *args, once, interval, **options):
        paths = list(settings.PERIODIC_JOBS)
        for config in apps.get_app_configs():
            paths += [p for p in getattr(config, "periodic_jobs", []) if p not in paths]
        jobs = [(path, import_string(path)) for path in paths]
        interval = interval or settings.PERIODIC_INTERVAL_SECONDS
        while True:
            started = time.monotonic()
            for path, job in jobs:
                close_old_connections()
                try:
                    result = job()
                    logger.info("periodic job done", extra={"job": path, "result": str(result)})
                    if once:
                        self.stdout.write(f"{path}: {result}")
                except Exception:
                    logger.exception("periodic job failed", extra={"job": path})
            if once:
                return
            time.sleep(max(1.0, interval - (time.monotonic() - started)))
