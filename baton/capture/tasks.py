from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from baton.capture import intake


@db_periodic_task(crontab(minute="*"))
def intake_redrive():
    """Every minute: no accepted web-form submission is left unprocessed after a crash."""
    return intake.redrive()


@db_task()
def events_rescore(lead_ids: list[int]):
    """Re-evaluate (tags, score, grade) the leads that just received behaviour events."""
    from baton.rules.services import leads_evaluate

    return leads_evaluate(lead_ids=lead_ids)
