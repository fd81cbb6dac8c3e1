"""Periodic job: the required-action and dwell scan runs every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from baton.process import services


@db_periodic_task(crontab(minute="*"))
@lock_task("process-scan")
def process_scan_every_minute():
    services.process_scan()
