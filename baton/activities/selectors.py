from django.contrib.contenttypes.models import ContentType

from baton.activities.models import Activity, Task
from baton.core import scoping
from baton.core.selectors import get_scoped


def activity_list(*, user, action="view"):
    qs = Activity.objects.select_related("author", "lead", "account", "opportunity")
    return scoping.restrict(qs, user, action)


def activity_get(*, user, pk, action="view") -> Activity:
    return get_scoped(activity_list(user=user), user, pk, action)


def activities_for(obj, *, user):
    """Activities on a record, as its timeline shows them (scoped to what the viewer may see)."""
    field = {"lead": "lead", "account": "account", "opportunity": "opportunity"}[obj._meta.model_name]
    return activity_list(user=user).filter(**{field: obj})


def task_list(*, user, action="view"):
    return scoping.restrict(Task.objects.select_related("assignee", "linked_type"), user, action)


def task_get(*, user, pk, action="view") -> Task:
    return get_scoped(task_list(user=user), user, pk, action)


def tasks_for(obj, *, user):
    ct = ContentType.objects.get_for_model(obj)
    return task_list(user=user).filter(linked_type=ct, linked_id=obj.pk)
