"""Periodic job: the analytics store follows the database every minute (a full refresh once a day)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from baton.reports import services


@db_periodic_task(crontab(minute="*"))
@lock_task("analytics-sync")
def analytics_sync_every_minute():
    services.analytics_refresh(triggered_by="schedule")


@db_task()
@lock_task("analytics-sync")
def analytics_sync_now(triggered_by: str = "user", full: bool = False):
    services.analytics_refresh(triggered_by=triggered_by, full=full)
