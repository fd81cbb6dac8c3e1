"""`baton worker`: the background job consumer (huey), alone, for a scaled deployment."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background job consumer (huey)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=None)

    def handle(self, *args, workers=None, **options):
        extra = ["--workers", str(workers)] if workers else []
        call_command("run_huey", *extra)
