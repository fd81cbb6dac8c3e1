from django.core.management.base import BaseCommand

from baton.core.defaults import install_defaults


class Command(BaseCommand):
    help = "Install the shipped defaults that are missing (rules, grade bands, pools, SLA policies, …)."

    def handle(self, *args, **options):
        result = install_defaults()
        for name, value in result.items():
            self.stdout.write(f"{name}: {value}")
