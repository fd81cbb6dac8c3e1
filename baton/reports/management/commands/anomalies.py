from django.core.management.base import BaseCommand, CommandError

from baton.core import clock
from baton.reports import anomalies


class Command(BaseCommand):
    help = "Evaluate the anomaly lights now (or at --now ISO); prints one line per light that is not green."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="ISO date-time; a naive one is read in the company time zone.")
        parser.add_argument("--install-defaults", action="store_true", help="Add the shipped rules first.")

    def handle(self, *args, **options):
        try:
            now = clock.parse_now(options["now"]) if options.get("now") else clock.now()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options.get("install_defaults"):
            anomalies.install_defaults()
        lights = anomalies.evaluate(now)
        for x in lights:
            if x.level != "green":
                self.stdout.write(f"{x.level} {x.rule.key} {x.label} {x.change_pct} {x.cause}")
        self.stdout.write(f"lights={len(lights)} red={sum(x.level == 'red' for x in lights)} "
                          f"yellow={sum(x.level == 'yellow' for x in lights)}")
