from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Audit commands. `audit verify` walks the case event hash chain and reports the first broken link; "
            "`audit counts` compares the kept open-case counts with the cases (`--repair` rebuilds them).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("verify", help="verify the hash chain of every case's events")
        counts = sub.add_parser("counts", help="compare the open-case counts per area with the cases")
        counts.add_argument("--repair", action="store_true", help="rebuild the counts from the cases")

    def handle(self, *args, subcommand, **options):
        if subcommand == "counts":
            return self._counts(repair=options["repair"])
        from fengqiao.cases.events import verify_chain

        report = verify_chain()
        if not report.ok:
            raise CommandError(f"Broken chain: {report.broken} (checked {report.cases} cases, {report.events} events)")
        self.stdout.write(self.style.SUCCESS(f"Chain intact: {report.cases} cases, {report.events} events."))

    def _counts(self, *, repair: bool) -> None:
        from fengqiao.cases.counts import count_drift, recount

        if repair:
            areas = recount()
            self.stdout.write(self.style.SUCCESS(f"Open-case counts rebuilt: {areas} area codes."))
            return
        drift = count_drift()
        for d in drift:
            self.stdout.write(f"{d.area_code}: kept {d.kept}, counted {d.counted}")
        if drift:
            raise CommandError(f"{len(drift)} area codes differ; `fengqiao audit counts --repair` rebuilds them.")
        self.stdout.write(self.style.SUCCESS("Open-case counts agree with the cases."))
