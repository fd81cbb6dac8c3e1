"""Periodic job: leads waiting in a pool's backlog are assigned as soon as capacity frees
(caps reset at midnight, an absence ends, a member is added)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from baton.assignment import services


@db_periodic_task(crontab(minute="*"))
def assignment_drain_backlogs():
    services.pools_drain_all()
