"""Periodic job: the SLA scanner runs every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from baton.sla import services


@db_periodic_task(crontab(minute="*"))
@lock_task("sla-scan")
def sla_scan_every_minute():
    services.sla_scan()


@db_periodic_task(crontab(minute="*"))
@lock_task("sla-reports")
def sla_reports_every_minute():
    from baton.sla.reports import reports_run_due

    reports_run_due()
