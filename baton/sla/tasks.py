"""Periodic job: the SLA scanner runs every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from baton.sla import services


@db_periodic_task(crontab(minute="*"))
@lock_task("sla-scan")
def sla_scan_every_minute():
    services.sla_scan()
