from django.db import transaction
from django.utils.translation import gettext as _

from baton.activities.models import Activity, Task
from baton.core import clock
from baton.core.errors import Conflict
from baton.core.models import ChangeSource
from baton.core.services import _ensure_in_scope, create_object, delete_object, update_object
from baton.leads.services import lead_touch


def activity_create(*, actor, source=ChangeSource.UI, **data) -> Activity:
    """Log an activity; on a lead it stamps last activity and, for a customer contact, first contact."""
    data.setdefault("author", actor)
    data.setdefault("occurred_at", clock.now())
    if not data.get("client_id"):
        data.pop("client_id", None)
    else:
        # An offline client retrying: the first activity with this id is the answer, nothing is written.
        existing = Activity.objects.filter(client_id=data["client_id"]).first()
        if existing is not None:
            if existing.author_id != getattr(data["author"], "pk", None):
                raise Conflict(errors=[("client_id", _("This id is already used by another activity."))])
            return existing
    with transaction.atomic():
        # Logging on a record touches it (a lead's first contact, status): only on records the actor can see.
        for key in ("lead", "account", "opportunity"):
            if data.get(key) is not None:
                _ensure_in_scope(data[key], actor, "view")
        activity = create_object(Activity, actor=actor, source=source, data=data)
        if activity.lead_id:
            lead_touch(lead=activity.lead, occurred_at=activity.occurred_at,
                       is_contact=activity.kind in Activity.CONTACT_KINDS)
            from baton.sla.services import sla_resolve_on_commit  # first contact stops clocks: alerts resolve

            sla_resolve_on_commit(activity.lead)
    return activity


def activity_update(*, activity: Activity, actor, source=ChangeSource.UI, **data) -> dict:
    with transaction.atomic():
        changes = update_object(activity, actor=actor, source=source, data=data)
        if activity.lead_id and changes:
            lead_touch(lead=activity.lead, occurred_at=activity.occurred_at,
                       is_contact=activity.kind in Activity.CONTACT_KINDS)
    return changes


def activity_delete(*, activity: Activity, actor, source=ChangeSource.UI) -> None:
    delete_object(activity, actor=actor, source=source)


def task_create(*, actor, source=ChangeSource.UI, **data) -> Task:
    data.setdefault("assignee", actor)
    data.setdefault("created_by", actor if actor and actor.is_authenticated else None)
    # The creator may hand a task to someone outside their own scope (a rep asks presales for a proposal).
    return create_object(Task, actor=actor, source=source, data=data, check_scope=False)


def task_update(*, task: Task, actor, source=ChangeSource.UI, **data) -> dict:
    if data.get("status") == Task.Status.DONE and task.status != Task.Status.DONE:
        data["completed_at"] = clock.now()
    elif "status" in data and data["status"] != Task.Status.DONE:
        data["completed_at"] = None
    return update_object(task, actor=actor, source=source, data=data)


def task_delete(*, task: Task, actor, source=ChangeSource.UI) -> None:
    delete_object(task, actor=actor, source=source)
