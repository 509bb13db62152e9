"""`fengqiao notify deliver [--loop]` and `fengqiao notify purge`: the outbox sweep and retention."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from fengqiao.notify.services import deliver_due, outbox_purge


class Command(BaseCommand):
    help = "Deliver due notifications from the outbox, once or in a loop; purge old delivered ones."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        deliver = actions.add_parser("deliver", help="deliver what is due (run every minute, or with --loop)")
        deliver.add_argument("--limit", type=int, default=100, help="rows per sweep (default 100)")
        deliver.add_argument("--loop", action="store_true", help="keep sweeping until stopped (SIGTERM/Ctrl-C)")
        deliver.add_argument("--interval", type=float, default=30.0,
                             help="seconds between sweeps with --loop (default 30)")
        deliver.add_argument("--iterations", type=int, default=0,
                             help="with --loop, stop after this many sweeps (0: never)")
        purge = actions.add_parser("purge", help="delete delivered and dead e-mail/webhook/SMS rows past retention")
        purge.add_argument("--days", type=int, default=None, help="retention in days (default NOTIFY_RETENTION_DAYS)")

    def handle(self, *args, action, **options):
        if action == "purge":
            deleted = outbox_purge(older_than_days=options["days"])
            self.stdout.write(f"purged {deleted} notifications")
            return
        if not options["loop"]:
            self._sweep(options["limit"])
            return
        stop = threading.Event()
        previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            done = 0
            while not stop.is_set():
                self._sweep(options["limit"])
                done += 1
                if options["iterations"] and done >= options["iterations"]:
                    break
                stop.wait(options["interval"])
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _sweep(self, limit: int) -> None:
        # drain: a full batch means more may be due right now
        while True:
            report = deliver_due(limit=limit)
            if report.claimed or report.dead:
                self.stdout.write(" ".join(f"{k}={v}" for k, v in report.as_dict().items()))
            if report.claimed < limit or report.released:
                return
