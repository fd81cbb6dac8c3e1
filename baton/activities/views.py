from django.http import Http404
from django.utils.translation import gettext_lazy

from baton.activities import selectors, services
from baton.activities.filtersets import ActivityFilterSet, TaskFilterSet
from baton.activities.forms import ActivityForm, TaskForm
from baton.activities.models import Activity, Task
from baton.core import views_generic as g
from baton.core.errors import NotFound


class ActivityMixin:
    model = Activity
    list_selector = selectors.activity_list
    get_selector = selectors.activity_get


def _regarding(activity):
    target = activity.opportunity or activity.account or activity.lead
    if target is None:
        return g.EMPTY
    url = g.url_for(target, "detail")
    return g.format_html('<a href="{}">{}</a>', url, target)


class ActivityListView(ActivityMixin, g.ObjectListView):
    filterset_class = ActivityFilterSet
    primary_filters = ("kind", "outcome", "author")
    user_filters = ("author",)
    columns = [
        g.Column("subject", link=True, render=lambda a: str(a)),
        g.Column("kind"),
        g.Column("regarding", label=gettext_lazy("regarding"), render=_regarding, css="d-none d-md-table-cell"),
        g.Column("outcome", css="d-none d-lg-table-cell"),
        g.Column("author", css="d-none d-lg-table-cell"),
        g.Column("occurred_at", order_by="occurred_at", css="d-none d-sm-table-cell"),
    ]


class ActivityDetailView(ActivityMixin, g.ObjectDetailView):
    fields = ["kind", "subject", "outcome", "occurred_at", "duration_minutes", "lead", "account", "opportunity",
              "author", "note"]


class ActivityEditView(ActivityMixin, g.ObjectEditView):
    form_class = ActivityForm
    create_service = services.activity_create
    update_service = services.activity_update
    service_object_arg = "activity"

    def get_initial(self):
        return {k: self.request.GET.get(k) for k in ("lead", "account", "opportunity") if self.request.GET.get(k)}


class ActivityDeleteView(ActivityMixin, g.ObjectDeleteView):
    delete_service = services.activity_delete
    service_object_arg = "activity"


class TaskMixin:
    model = Task
    list_selector = selectors.task_list
    get_selector = selectors.task_get


def _linked(task):
    obj = task.linked_object if task.linked_type_id else None
    if obj is None:
        return g.EMPTY
    url = g.url_for(obj, "detail")
    return g.format_html('<a href="{}">{}</a>', url, obj) if url else str(obj)


class TaskListView(TaskMixin, g.ObjectListView):
    filterset_class = TaskFilterSet
    user_filters = ("assignee",)
    columns = [
        g.Column("title", link=True),
        g.Column("status"),
        g.Column("due_at", order_by="due_at"),
        g.Column("assignee", css="d-none d-md-table-cell"),
        g.Column("origin", css="d-none d-lg-table-cell"),
        g.Column("linked", label=gettext_lazy("regarding"), render=_linked, css="d-none d-lg-table-cell"),
    ]


class TaskDetailView(TaskMixin, g.ObjectDetailView):
    fields = ["title", "status", "due_at", "assignee", "created_by", "origin", "created_at", "completed_at",
              "description"]

    def extra_context(self, obj):
        return {"field_rows_extra": [(gettext_lazy("regarding"), _linked(obj))]}


def _linked_target(request):
    """The record a new task is about (`?linked=lead:5`), checked against the user's scope."""
    from baton.accounts.selectors import account_get
    from baton.leads.selectors import lead_get
    from baton.opportunities.selectors import opportunity_get

    raw = request.GET.get("linked", "")
    if not raw:
        return None
    kind, _, pk = raw.partition(":")
    getter = {"lead": lead_get, "account": account_get, "opportunity": opportunity_get}.get(kind)
    if getter is None:
        raise Http404()
    try:
        return getter(user=request.user, pk=pk)
    except NotFound:
        raise Http404() from None


class TaskEditView(TaskMixin, g.ObjectEditView):
    form_class = TaskForm
    create_service = services.task_create
    update_service = services.task_update
    service_object_arg = "task"

    def service_data(self, form):
        data = super().service_data(form)
        if self.kwargs.get("pk") is None:
            target = _linked_target(self.request)
            if target is not None:
                from django.contrib.contenttypes.models import ContentType

                data["linked_type"] = ContentType.objects.get_for_model(target)
                data["linked_id"] = target.pk
        return data


class TaskDeleteView(TaskMixin, g.ObjectDeleteView):
    delete_service = services.task_delete
    service_object_arg = "task"
