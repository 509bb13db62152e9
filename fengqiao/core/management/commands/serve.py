"""`fengqiao serve`: serve the site with waitress, a production WSGI server.

Unlike the development server it keeps a fixed pool of worker threads: a burst of many clients
queues at the server instead of opening one database connection per client, and responses are
sent with TCP_NODELAY. Static files come from WhiteNoise (run `fengqiao collectstatic` first when
debug is off). Put a TLS-terminating proxy in front of it in production.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the site with waitress (a production WSGI server), default on 127.0.0.1:8000."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--threads", type=int, default=16,
                            help="worker threads, so at most this many database connections (default 16)")
        parser.add_argument("--connection-limit", type=int, default=1000,
                            help="open client connections accepted at once; more wait (default 1000)")

    def handle(self, *args, addrport: str, threads: int, connection_limit: int, **options):
        from waitress import serve

        from fengqiao.wsgi import application

        host, _, port = addrport.rpartition(":")
        if not port.isdigit() or threads < 1 or connection_limit < 1:
            raise CommandError("give host:port, and positive --threads and --connection-limit")
        self.stdout.write(f"Fengqiao on http://{host or '127.0.0.1'}:{port}/ (waitress, {threads} threads)")
        serve(application, host=host or "127.0.0.1", port=int(port), threads=threads,
              connection_limit=connection_limit, channel_timeout=60, ident="fengqiao")
