import django_filters as filters
from django.utils.translation import gettext_lazy as _

from baton.activities.models import Activity, Task


class ActivityFilterSet(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=Activity.Kind.choices, label=_("kind"))
    outcome = filters.MultipleChoiceFilter(choices=Activity.Outcome.choices, label=_("outcome"))
    author = filters.NumberFilter(field_name="author_id", label=_("author"))
    lead = filters.NumberFilter(field_name="lead_id", label=_("lead"))
    account = filters.NumberFilter(field_name="account_id", label=_("account"))
    opportunity = filters.NumberFilter(field_name="opportunity_id", label=_("opportunity"))
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte",
                                               label=_("occurred after"))
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt",
                                                label=_("occurred before"))
    ordering = filters.OrderingFilter(fields=("occurred_at", "id"))

    class Meta:
        model = Activity
        fields = []


class TaskFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Task.Status.choices, label=_("status"))
    origin = filters.MultipleChoiceFilter(choices=Task.Origin.choices, label=_("origin"))
    assignee = filters.NumberFilter(field_name="assignee_id", label=_("assignee"))
    due_before = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt", label=_("due before"))
    ordering = filters.OrderingFilter(fields=("due_at", "created_at", "id"))

    class Meta:
        model = Task
        fields = []
