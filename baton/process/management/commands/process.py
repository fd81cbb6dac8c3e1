from django.core.management.base import BaseCommand, CommandError

from baton.core import clock
from baton.process import services


class Command(BaseCommand):
    help = ("Deal process control: `process scan [--now ISO]` runs one scan (overdue required actions, dwell "
            "alerts, condition triggers); `process install-defaults` adds the golden six and dwell rules.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        scan = sub.add_parser("scan", help="Run one scan (at --now, for tests and demos).")
        scan.add_argument("--now", help="ISO date-time; a naive one is read in the company time zone.")
        sub.add_parser("install-defaults", help="Create the shipped templates, risk strategies and dwell rules.")

    def handle(self, *args, action, **options):
        if action == "install-defaults":
            self.stdout.write(str(services.process_install_defaults()))
            return
        try:
            now = clock.parse_now(options["now"]) if options.get("now") else clock.now()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        stats = services.process_scan(now)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in stats.items()))
