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


@db_periodic_task(crontab(hour="7", minute="30"))
@lock_task("anomaly-lights")
def anomaly_lights_daily():
    from baton.reports import anomalies

    anomalies.evaluate()


@db_periodic_task(crontab(minute="*/15"))
@lock_task("large-contract-guard")
def large_contract_guard_scan():
    services.guard_scan_signed()


@db_task()
def export_run(job_id: int):
    """A large export: the file is written under var/exports/ with progress on its ExportJob row."""
    from baton.reports import exports

    exports.run_job(job_id)
