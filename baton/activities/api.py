"""`/api/activities` and `/api/tasks`."""

from datetime import datetime

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from ninja import Field, Router, Schema

from baton.accounts.selectors import account_list, contact_list
from baton.activities import selectors, services
from baton.activities.filtersets import ActivityFilterSet, TaskFilterSet
from baton.activities.models import Activity, Task
from baton.core.api import InputSchema, Refs, Resource, choices, register_crud
from baton.leads.selectors import lead_list
from baton.opportunities.selectors import opportunity_list
from baton.org.models import User

router = Router()


class ActivityOut(Schema):
    id: int
    kind: str
    subject: str
    note: str
    outcome: str
    occurred_at: datetime
    duration_minutes: int | None
    lead: int | None
    account: int | None
    opportunity: int | None
    author: int
    created_at: datetime

    @staticmethod
    def resolve_lead(obj):
        return obj.lead_id

    @staticmethod
    def resolve_account(obj):
        return obj.account_id

    @staticmethod
    def resolve_opportunity(obj):
        return obj.opportunity_id

    @staticmethod
    def resolve_author(obj):
        return obj.author_id


class ActivityIn(InputSchema):
    kind: choices(Activity.Kind.values)
    subject: str = ""
    note: str = ""
    outcome: choices([*Activity.Outcome.values, ""]) = ""
    occurred_at: datetime | None = Field(None, description="defaults to now")
    duration_minutes: int | None = Field(None, ge=0)
    lead: int | None = Field(None, description="lead id")
    account: int | None = Field(None, description="account id")
    opportunity: int | None = Field(None, description="opportunity id")


def resolve_activity(data: dict, request, instance) -> dict:
    if "occurred_at" in data and data["occurred_at"] is None:
        data.pop("occurred_at")
    refs = Refs(data)
    user = request.auth
    refs.one("lead", lead_list(user=user))
    refs.one("account", account_list(user=user))
    refs.one("opportunity", opportunity_list(user=user))
    return refs.done()


register_crud(router, Resource(
    path="activities", model=Activity, out=ActivityOut, create_in=ActivityIn, filterset=ActivityFilterSet,
    list_selector=selectors.activity_list, get_selector=selectors.activity_get,
    create_service=services.activity_create, update_service=services.activity_update,
    delete_service=services.activity_delete, instance_kw="activity", resolve=resolve_activity,
))

# What a task may be linked to, and the scoped list a linked record must be visible in.
LINKABLE = {
    "leads.lead": lead_list,
    "accounts.account": account_list,
    "accounts.contact": contact_list,
    "opportunities.opportunity": opportunity_list,
}


class TaskOut(Schema):
    id: int
    title: str
    description: str
    assignee: int
    created_by: int | None
    due_at: datetime | None
    status: str
    origin: str
    linked_type: str | None
    linked_id: int | None
    created_at: datetime
    completed_at: datetime | None

    @staticmethod
    def resolve_assignee(obj):
        return obj.assignee_id

    @staticmethod
    def resolve_created_by(obj):
        return obj.created_by_id

    @staticmethod
    def resolve_linked_type(obj):
        return obj.linked_type.model_class()._meta.label_lower if obj.linked_type_id else None


class TaskIn(InputSchema):
    title: str
    description: str = ""
    assignee: int | None = Field(None, description="user id; defaults to the caller")
    due_at: datetime | None = None
    status: choices(Task.Status.values) = Task.Status.OPEN.value
    linked_type: choices(list(LINKABLE)) | None = None
    linked_id: int | None = None


def resolve_task(data: dict, request, instance) -> dict:
    if "assignee" in data and data["assignee"] is None:
        data.pop("assignee")
    refs = Refs(data)
    refs.one("assignee", User.objects.filter(is_active=True))
    if "linked_type" in data or "linked_id" in data:
        label = data.get("linked_type", instance.linked_type.model_class()._meta.label_lower
                         if instance and instance.linked_type_id else None)
        linked_id = data.get("linked_id", instance.linked_id if instance else None)
        if label is None or linked_id is None:
            refs.data.update(linked_type=None, linked_id=None)
        else:
            refs.data["linked_id"] = linked_id
            refs.one("linked_id", LINKABLE[label](user=request.auth))
            if isinstance(refs.data["linked_id"], apps.get_model(label)):
                refs.data["linked_id"] = refs.data["linked_id"].pk
                refs.data["linked_type"] = ContentType.objects.get_for_model(apps.get_model(label))
    return refs.done()


register_crud(router, Resource(
    path="tasks", model=Task, out=TaskOut, create_in=TaskIn, filterset=TaskFilterSet,
    list_selector=selectors.task_list, get_selector=selectors.task_get,
    create_service=services.task_create, update_service=services.task_update,
    delete_service=services.task_delete, instance_kw="task", resolve=resolve_task,
))
