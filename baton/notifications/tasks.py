"""Periodic job: deliver what the outbox owes (retries, rate limits and digests are in the service)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from baton.notifications import services


@db_periodic_task(crontab(minute="*"))
@lock_task("outbox-deliver")
def outbox_deliver_every_minute():
    services.outbox_deliver()
