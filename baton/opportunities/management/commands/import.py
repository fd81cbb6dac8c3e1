"""`baton import maven-crm [DIR]`: load the Maven CRM Sales Opportunities dataset (see opportunities/maven.py)."""

import time

from django.core.management.base import BaseCommand, CommandError

from baton.core.errors import DomainError


class Command(BaseCommand):
    help = "Import a public dataset. maven-crm [DIR]: the Maven CRM Sales Opportunities dataset " \
           "(default $BATON_DATASETS/maven-crm-sales-opportunities)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="dataset", required=True)
        maven = sub.add_parser("maven-crm", help="Maven CRM Sales Opportunities (accounts, agents, 8,800 deals)")
        maven.add_argument("directory", nargs="?", default=None)

    def handle(self, *args, dataset=None, directory=None, **options):
        from baton.opportunities.maven import default_dir, maven_import

        started = time.monotonic()
        try:
            report = maven_import(directory or default_dir())
        except DomainError as exc:
            raise CommandError(" ".join([str(exc.message)] + [m for _f, m in exc.errors])) from exc
        self.stdout.write(f"Imported in {time.monotonic() - started:.1f} s: " +
                          ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))
        self.stdout.write("Deals per stage: " + ", ".join(f"{k} {v}" for k, v in report.stages.items()))
        self.stdout.write(f"Won amount: {report.won_total}")
        self.stdout.write("Quirks handled:")
        for quirk in report.quirks:
            self.stdout.write(f"  - {quirk}")
