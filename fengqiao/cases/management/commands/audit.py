from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Audit commands. `audit verify` walks the case event hash chain and reports the first broken link."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("verify", help="verify the hash chain of every case's events")

    def handle(self, *args, subcommand, **options):
        from fengqiao.cases.events import verify_chain

        report = verify_chain()
        if not report.ok:
            raise CommandError(f"Broken chain: {report.broken} (checked {report.cases} cases, {report.events} events)")
        self.stdout.write(self.style.SUCCESS(f"Chain intact: {report.cases} cases, {report.events} events."))
