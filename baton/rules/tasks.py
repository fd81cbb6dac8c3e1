"""Background jobs of the rules app: thin wrappers that load ids and call a service."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from baton.rules import services


@db_task()
def rules_reevaluate(run_id: int):
    services.rule_run_execute(run_id=run_id)


@db_periodic_task(crontab(minute="7"))
def rules_rescore_behaviour():
    """Hourly: behaviour points fade, so scores of leads with recent events are recomputed."""
    services.rules_rescore_behaviour()
