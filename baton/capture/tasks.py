from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from baton.capture import intake


@db_periodic_task(crontab(minute="*"))
def intake_redrive():
    """Every minute: no accepted web-form submission is left unprocessed after a crash."""
    return intake.redrive()
