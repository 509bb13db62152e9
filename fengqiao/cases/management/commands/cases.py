"""`fengqiao cases import FILE --as USERNAME [--channel CHANNEL] [--dry-run]`."""

from __future__ import annotations

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fengqiao.cases.importing import describe, take_in_file
from fengqiao.cases.models import Channel
from fengqiao.core.errors import DomainError


class Command(BaseCommand):
    help = "Take in cases in bulk from a CSV file (format: docs/cases.md, \"Bulk intake\")."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import}")
        importing = actions.add_parser("import", help="Take in the reports of a CSV file, all of them or none.")
        importing.add_argument("file", help="the CSV file (UTF-8 or GB18030, header on the first row)")
        importing.add_argument("--as", dest="username", required=True,
                               help="the account that takes the cases in (it needs intake rights where each lies)")
        importing.add_argument("--channel", default=Channel.IMPORT, choices=Channel.values,
                               help="the channel the cases came through (default: import)")
        importing.add_argument("--dry-run", action="store_true", help="check the file and report, but write nothing")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        actor = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active account is called {options['username']!r}.")
        started = time.perf_counter()
        try:
            cases = take_in_file(actor=actor, file=path, channel=options["channel"], dry_run=options["dry_run"])
        except DomainError as exc:
            for line in describe(exc.errors):
                self.stderr.write(f"{path}: {line}")
            raise CommandError(f"{path}: nothing was taken in.") from None
        seconds = time.perf_counter() - started
        if options["dry_run"]:
            self.stdout.write(self.style.SUCCESS(f"{path}: {len(cases)} rows can be taken in (dry run: nothing written)."))
            return
        numbers = f" ({cases[0].number} … {cases[-1].number})" if cases else ""
        self.stdout.write(self.style.SUCCESS(f"{path}: {len(cases)} cases taken in{numbers} in {seconds:.1f} s."))
