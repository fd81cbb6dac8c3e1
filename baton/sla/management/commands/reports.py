from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from baton.core import clock
from baton.sla import reports
from baton.sla.models import ReportRun, ReportSchedule


class Command(BaseCommand):
    help = ("Scheduled timeliness reports: `reports run <name> [--now ISO]` runs one now (name = a schedule's "
            "name, or weekly_health / daily_top20); `reports due [--now ISO]` runs what is due; "
            "`reports install-defaults`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="Run one report at --now and deliver it to its schedule's recipients.")
        run.add_argument("name")
        run.add_argument("--now", help="ISO date-time; a naive one is read in the company time zone.")
        due = sub.add_parser("due", help="Run the schedules due at --now (what the minute job does).")
        due.add_argument("--now")
        sub.add_parser("install-defaults", help="Create the shipped schedules that are missing.")

    def handle(self, *args, action, **options):
        if action == "install-defaults":
            self.stdout.write(f"created {reports.report_install_defaults()} schedules")
            return
        try:
            now = clock.parse_now(options["now"]) if options.get("now") else clock.now()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if action == "due":
            for run in reports.reports_run_due(now):
                self.stdout.write(f"ran {run.name} for {run.slot.isoformat()}: {run.status} (#{run.pk})")
            return
        name = options["name"]
        schedule = ReportSchedule.objects.filter(Q(name=name) | Q(kind=name)).order_by("id").first()
        if schedule is None and name not in ReportSchedule.Kind.values:
            raise CommandError(f"no report schedule or kind named {name!r}")
        existing = ReportRun.objects.filter(schedule=schedule, slot=now).first() if schedule else None
        if existing:
            self.stdout.write(f"already ran for {now.isoformat()}: #{existing.pk} {existing.status}")
            return
        with clock.frozen(now):
            run = reports.report_run(kind=schedule.kind if schedule else name, slot=now, schedule=schedule)
        self.stdout.write(f"ran {run.name} for {now.isoformat()}: {run.status} (#{run.pk})")
        if run.status != ReportRun.Status.OK:
            raise CommandError(run.error)
