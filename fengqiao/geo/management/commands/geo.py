"""`fengqiao geo import|export|locate|grid-fill`: the territory tools (docs/geo.md)."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from fengqiao.core.errors import DomainError


class Command(BaseCommand):
    help = "Territory tools: import and export boundaries, locate a CSV of points, generate grids."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        p = sub.add_parser("import", help=_("Import regions or grids from a GeoJSON or DataV file."))
        p.add_argument("file", help=_("GeoJSON / DataV file ('-' reads standard input)"))
        p.add_argument("--format", dest="fmt", choices=["auto", "geojson", "datav"], default="auto",
                       help=_("default: DataV when every feature has 'adcode', else GeoJSON"))
        p.add_argument("--crs", choices=["wgs84", "gcj02"], default=None,
                       help=_("coordinates of the file (default: gcj02 for DataV, wgs84 for GeoJSON)"))
        p.add_argument("--kind", choices=["auto", "region", "grid"], default="auto",
                       help=_("what the features are (default: a feature's 'kind' property, else region for "
                              "DataV and grid for GeoJSON)"))
        p.add_argument("--code-property", default=None,
                       help=_("property holding the code (default 'adcode' for DataV regions, else 'code')"))
        p.add_argument("--name-property", default=None, help=_("property holding the name (default 'name')"))
        p.add_argument("--parent", default=None, metavar="CODE",
                       help=_("region (or grid) the features belong under; grids without codes are numbered "
                              "in file order under it"))
        self._progress_flag(p)

        p = sub.add_parser("export", help=_("Write grids and/or regions as a GeoJSON FeatureCollection (WGS84)."))
        p.add_argument("--kind", choices=["grids", "regions", "all"], default="grids")
        p.add_argument("--region", default=None, metavar="CODE", help=_("only this region's subtree"))
        p.add_argument("--output", "-o", default=None, help=_("file to write (default: standard output)"))

        p = sub.add_parser("locate", help=_("Add grid and region codes to each row of a CSV of points."))
        p.add_argument("file", help=_("CSV file (.csv or .csv.gz; '-' reads standard input)"))
        p.add_argument("--lon-column", required=True)
        p.add_argument("--lat-column", required=True)
        p.add_argument("--crs", choices=["wgs84", "gcj02"], default="wgs84")
        p.add_argument("--output", "-o", default=None, help=_("file to write (default: standard output)"))

        p = sub.add_parser("grid-fill", help=_("Split a village's outline into grids."))
        p.add_argument("region", metavar="REGION_CODE")
        size = p.add_mutually_exclusive_group(required=True)
        size.add_argument("--cells", type=int, help=_("this many grids of similar area"))
        size.add_argument("--cell-size", type=float, metavar="METRES", help=_("square grids of this size"))
        p.add_argument("--replace", action="store_true",
                       help=_("redraw a village that has grids already (grids 001..N are updated in place)"))

    @staticmethod
    def _progress_flag(parser) -> None:
        parser.add_argument("--no-progress", action="store_true", help=_("no progress bar"))

    def handle(self, *args, **options):
        action = options["action"].replace("-", "_")
        try:
            getattr(self, f"do_{action}")(options)
        except DomainError as exc:
            lines = [str(exc)] + [str(e.message) for e in exc.errors if str(e.message) != str(exc)]
            raise CommandError("\n".join(lines)) from exc
        except OSError as exc:
            raise CommandError(_("%(file)s: %(reason)s") % {"file": exc.filename or "", "reason": exc.strerror}) \
                from exc

    # -- actions ---------------------------------------------------------------------------------

    def do_import(self, options) -> None:
        from fengqiao.geo.services import territory_import

        data = sys.stdin.buffer.read() if options["file"] == "-" else Path(options["file"]).read_bytes()
        progress = options["verbosity"] >= 1 and not options["no_progress"] and sys.stderr.isatty()
        report = territory_import(
            data=data, kind=options["kind"], fmt=options["fmt"], crs=options["crs"],
            code_property=options["code_property"], name_property=options["name_property"],
            parent_code=options["parent"], progress=progress,
        )
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(warning))
        if report.numbered:
            self.stdout.write(_("The features had no grid codes: they were numbered in file order."))
        for label, counts in ((_("regions"), report.regions), (_("grids"), report.grids)):
            if counts.created or counts.updated or counts.unchanged:
                self.stdout.write(self.style.SUCCESS(
                    _("%(label)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
                    % {"label": label, "created": counts.created, "updated": counts.updated,
                       "unchanged": counts.unchanged}
                ))
        self.stdout.write(_("Read as %(format)s in %(crs)s; stored in WGS84.") % {
            "format": report.format, "crs": report.crs})

    def do_export(self, options) -> None:
        from fengqiao.geo.export import territory_features, write_feature_collection

        features = territory_features(kind=options["kind"], region_code=options["region"])
        with self._output(options["output"]) as stream:
            count = write_feature_collection(features, stream)
        if options["output"]:
            self.stdout.write(self.style.SUCCESS(_("%(n)d features written to %(file)s.")
                                                 % {"n": count, "file": options["output"]}))

    def do_locate(self, options) -> None:
        from fengqiao.geo.locator import locate_csv

        with self._input_text(options["file"]) as source, self._output(options["output"]) as output:
            summary = locate_csv(source=source, output=output, lon_column=options["lon_column"],
                                 lat_column=options["lat_column"], crs=options["crs"])
        message = _("%(rows)d rows: %(grid)d in a grid, %(region)d outside the grids but in a region, %(out)d "
                    "outside, %(bad)d without usable coordinates.") % {
            "rows": summary.rows, "grid": summary.in_grid, "region": summary.in_region_only,
            "out": summary.outside, "bad": summary.unparsable}
        # with the CSV on standard output, the summary goes to standard error
        (self.stdout if options["output"] else self.stderr).write(message)

    def do_grid_fill(self, options) -> None:
        from fengqiao.geo.services import grids_fill

        report = grids_fill(region_code=options["region"], cells=options["cells"], cell_size=options["cell_size"],
                            replace=options["replace"])
        counts = report.counts
        self.stdout.write(self.style.SUCCESS(
            _("%(village)s (%(code)s): %(n)d grids (%(created)d created, %(updated)d updated, %(deleted)d "
              "removed), %(first)s to %(last)s.")
            % {"village": report.village.name, "code": report.village.code, "n": len(report.grids),
               "created": counts.created, "updated": counts.updated, "deleted": counts.deleted,
               "first": report.grids[0].code, "last": report.grids[-1].code}
        ))

    # -- files -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _input_text(self, name: str):
        if name == "-":
            yield io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
            return
        opener = gzip.open if name.endswith(".gz") else open
        with opener(name, "rt", encoding="utf-8-sig", newline="") as stream:
            yield stream

    @contextlib.contextmanager
    def _output(self, name: str | None):
        """A text stream written to a temporary file, moved into place (or copied to standard
        output) only when everything went well: a failure leaves nothing half-written."""
        target = Path(name) if name else None
        directory = target.resolve().parent if target else None
        fd, temp = tempfile.mkstemp(prefix=".geo-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                yield stream
            if target is not None:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(temp, 0o666 & ~umask)
                os.replace(temp, target)
            else:
                with open(temp, encoding="utf-8", newline="") as stream:
                    while chunk := stream.read(1 << 20):
                        self.stdout.write(chunk, ending="")
                self.stdout.flush()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
