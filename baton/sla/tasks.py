"""Periodic jobs: the SLA scanner runs every minute; on the hour it is a full pass."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from baton.core import clock
from baton.sla import services


def scan_now(now=None) -> dict:
    """The minute's scan. On the hour it is a full pass (every running clock, every open alert): the minute
    scans look only at levels that fell due since the last scan and at items touched since, so a lead whose
    level fell due earlier (imported late, changed behind the services' back) or an alert whose clock stopped
    without a touch the scanner sees is caught within the hour. One job, one lock: the two never contend."""
    now = now or clock.now()
    return services.sla_scan(now, full=now.minute == 0)


@db_periodic_task(crontab(minute="*"))
@lock_task("sla-scan")
def sla_scan_every_minute():
    scan_now()


@db_periodic_task(crontab(minute="*"))
@lock_task("sla-reports")
def sla_reports_every_minute():
    from baton.sla.reports import reports_run_due

    reports_run_due()
