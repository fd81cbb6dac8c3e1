from django.core.management.base import BaseCommand, CommandError

from baton.core import clock
from baton.core.errors import Conflict
from baton.demo.services import demo_load


class Command(BaseCommand):
    requires_system_checks = []  # `migrate` ran them; the demo needs models only
    help = "Load the seeded demo company (regions, teams, people, a year of leads, deals and activities)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
        parser.add_argument("--password", help="password of every demo user (default: generated and printed)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any lead exists")
        parser.add_argument("--now", help="the demo's 'today' as ISO 8601 (default: the clock's now)")
        parser.add_argument("--scale", type=float, default=1.0, help="size factor (1.0 = about 20,000 leads)")

    def handle(self, *args, seed, password, if_empty, now, scale, **options):
        if scale <= 0:
            raise CommandError("--scale must be positive")
        try:
            at = clock.parse_now(now) if now else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            result = demo_load(seed=seed, password=password, now=at, scale=scale, if_empty=if_empty)
        except Conflict as exc:
            raise CommandError(str(exc)) from exc
        if not result.loaded:
            self.stdout.write("Leads already exist: the demo company was not loaded (--if-empty).")
            return
        for name, count in result.counts.items():
            self.stdout.write(f"  {name:<14} {count:>7}")
        self.stdout.write(self.style.SUCCESS(f"Demo company loaded in {result.seconds:.1f} s (seed {seed})."))
        self.stdout.write("Demo logins (all share one password):")
        for role, usernames in result.logins.items():
            self.stdout.write(f"  {role:<9} {', '.join(usernames[:4])}")
        self.stdout.write(f"Password: {result.password}")
