import django_filters as filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from baton.leads.models import Grade, Lead, LeadSource, LeadStatus


class LeadFilterSet(filters.FilterSet):
    """Lead filters shared by the list page and `GET /api/leads`."""

    q = filters.CharFilter(method="search", label=_("Search"))
    status = filters.MultipleChoiceFilter(choices=LeadStatus.choices, label=_("status"))
    grade = filters.MultipleChoiceFilter(choices=Grade.choices, label=_("grade"))
    source = filters.MultipleChoiceFilter(choices=LeadSource.choices, label=_("source"))
    owner = filters.NumberFilter(field_name="owner_id", label=_("owner"))
    region = filters.NumberFilter(field_name="region_id", label=_("region"))
    tag = filters.CharFilter(field_name="tags__name", label=_("tag"), distinct=True)
    unassigned = filters.BooleanFilter(field_name="owner", lookup_expr="isnull", label=_("unassigned"))
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("created after"))
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label=_("created before"))
    score_min = filters.NumberFilter(field_name="score", lookup_expr="gte", label=_("minimum score"))
    ordering = filters.OrderingFilter(fields=("created_at", "score", "company", "status", "grade", "id"))

    class Meta:
        model = Lead
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(company__icontains=value) | Q(contact_name__icontains=value) | Q(phone__icontains=value)
            | Q(email__icontains=value) | Q(external_id=value)
        )
