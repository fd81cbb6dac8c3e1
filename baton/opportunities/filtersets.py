import django_filters as filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from baton.opportunities.models import Opportunity


class OpportunityFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label=_("Search"))
    status = filters.MultipleChoiceFilter(choices=Opportunity.Status.choices, label=_("status"))
    owner = filters.NumberFilter(field_name="owner_id", label=_("owner"))
    account = filters.NumberFilter(field_name="account_id", label=_("account"))
    pipeline = filters.NumberFilter(field_name="pipeline_id", label=_("pipeline"))
    stage = filters.CharFilter(field_name="stage__name", label=_("stage"))
    amount_min = filters.NumberFilter(field_name="amount", lookup_expr="gte", label=_("minimum amount"))
    close_before = filters.DateFilter(field_name="expected_close_date", lookup_expr="lte",
                                      label=_("closes before"))
    ordering = filters.OrderingFilter(fields=("created_at", "amount", "expected_close_date", "name", "id"))

    class Meta:
        model = Opportunity
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(account__name__icontains=value))
