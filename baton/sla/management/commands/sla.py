from django.core.management.base import BaseCommand, CommandError

from baton.core import clock
from baton.sla import services


class Command(BaseCommand):
    help = "SLA clocks: `sla scan [--now ISO]` runs one scan; `sla install-defaults` adds the shipped policies."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        scan = sub.add_parser("scan", help="Run one scan (at --now, for tests and demos).")
        scan.add_argument("--now", help="ISO date-time; a naive one is read in the company time zone.")
        scan.add_argument("--no-fire", action="store_true", help="Record crossings without escalating.")
        sub.add_parser("install-defaults", help="Create the shipped default policies that are missing.")

    def handle(self, *args, action, **options):
        if action == "install-defaults":
            self.stdout.write(f"created {services.sla_install_defaults()} policies")
            return
        try:
            now = clock.parse_now(options["now"]) if options.get("now") else clock.now()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        stats = services.sla_scan(now, fire=not options["no_fire"])
        self.stdout.write(f"scan at {now.isoformat()}: {stats['new']} new crossings, "
                          f"{stats['resolved']} resolved, {stats['fired']} actions")
