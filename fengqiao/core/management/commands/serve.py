"""`fengqiao serve`: serve the site with gunicorn, a production WSGI server.

Worker processes (`--workers`, one per CPU by default), each with a fixed pool of threads
(`--threads`, 8): a burst of many clients queues at the server instead of opening one database
connection per client (at most workers × threads connections), and Python's interpreter lock
holds back one process, not the server. Each process writes its concurrent reports together
(cases.services.case_report_together). A worker that dies or hangs past `--timeout` is replaced.
Static files come from WhiteNoise (run `fengqiao collectstatic` first when debug is off). Put a
TLS-terminating proxy in front of it in production.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from gunicorn.app.base import BaseApplication


class Server(BaseApplication):
    """gunicorn with its settings given here rather than read from its own command line."""

    def __init__(self, settings: dict[str, Any]):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self):
        from fengqiao.wsgi import application

        return application


def server_settings(*, host: str, port: int, workers: int, threads: int, connection_limit: int,
                    timeout: int) -> dict[str, Any]:
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers, "worker_class": "gthread", "threads": threads,
        "worker_connections": connection_limit,  # open client connections a worker holds at once
        "timeout": timeout, "graceful_timeout": 30, "keepalive": 5,
        "proc_name": "fengqiao", "accesslog": None, "errorlog": "-", "loglevel": "warning",
    }


class Command(BaseCommand):
    help = "Serve the site with gunicorn (a production WSGI server), default on 127.0.0.1:8000."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                            help="worker processes (default: one per CPU)")
        parser.add_argument("--threads", type=int, default=8,
                            help="threads per worker, so at most workers x threads database connections (default 8)")
        parser.add_argument("--connection-limit", type=int, default=1000,
                            help="open client connections a worker accepts at once; more wait (default 1000)")
        parser.add_argument("--timeout", type=int, default=60,
                            help="seconds a worker may spend on one request before it is replaced (default 60)")

    def handle(self, *args, addrport: str, workers: int, threads: int, connection_limit: int, timeout: int,
               **options):
        host, _, port = addrport.rpartition(":")
        if not port.isdigit() or min(workers, threads, connection_limit, timeout) < 1:
            raise CommandError("give host:port, and positive --workers, --threads, --connection-limit and --timeout")
        settings = server_settings(host=host.strip("[]") or "127.0.0.1", port=int(port), workers=workers,
                                   threads=threads, connection_limit=connection_limit, timeout=timeout)
        self.stdout.write(f"Fengqiao on http://{settings['bind']}/ (gunicorn, {workers} workers of {threads} threads)")
        self.stdout.flush()
        connections.close_all()  # the workers are forked from this process: each opens its own
        Server(settings).run()
