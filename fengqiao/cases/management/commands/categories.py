"""`fengqiao categories import FILE | --defaults` and `fengqiao categories export [-o FILE]`."""

from __future__ import annotations

import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fengqiao.cases.catalogue import DEFAULTS_PATH, catalogue_export, catalogue_import
from fengqiao.core.errors import InvalidInput


class Command(BaseCommand):
    help = "Import or export the category catalogue as CSV (format: docs/categories.md)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import,export}")
        importing = actions.add_parser("import", help="Create or update categories from a CSV file.")
        importing.add_argument("file", nargs="?", help="the CSV file (UTF-8, header on the first row)")
        importing.add_argument("--defaults", action="store_true", help="load the default catalogue shipped with Fengqiao")
        importing.add_argument("--dry-run", action="store_true", help="check the file and report, but write nothing")
        exporting = actions.add_parser("export", help="Write the whole catalogue as CSV.")
        exporting.add_argument("-o", "--output", help="the file to write (default: standard output)")
        exporting.add_argument("--bom", action="store_true", help="start with a byte-order mark (for spreadsheets)")

    def handle(self, *args, **options):
        if options["action"] == "import":
            self.handle_import(options)
        else:
            self.handle_export(options)

    def handle_import(self, options) -> None:
        if bool(options["file"]) == bool(options["defaults"]):
            raise CommandError("Give either a FILE or --defaults.")
        path = DEFAULTS_PATH if options["defaults"] else Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        try:
            result = catalogue_import(file=path, dry_run=options["dry_run"])
        except InvalidInput as exc:
            for error in exc.errors:
                self.stderr.write(f"{path}: {error.message}")
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"{path}: {result.summary()}"))

    def handle_export(self, options) -> None:
        output = options["output"]
        if output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                count = catalogue_export(stream=stream, bom=options["bom"])
            self.stderr.write(f"{count} categories written to {output}.")
        else:
            buffer = io.StringIO()
            catalogue_export(stream=buffer, bom=options["bom"])
            self.stdout.write(buffer.getvalue(), ending="")
