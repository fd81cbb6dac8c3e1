import django_filters as filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from baton.accounts.models import Account, Contact


class AccountFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label=_("Search"))
    owner = filters.NumberFilter(field_name="owner_id", label=_("owner"))
    region = filters.NumberFilter(field_name="region_id", label=_("region"))
    industry = filters.CharFilter(field_name="industries__code", label=_("industry"), distinct=True)
    ordering = filters.OrderingFilter(fields=("name", "created_at", "id"))

    class Meta:
        model = Account
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(credit_code=value) | Q(address__icontains=value))


class ContactFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label=_("Search"))
    account = filters.NumberFilter(field_name="account_id", label=_("account"))
    decision_role = filters.MultipleChoiceFilter(choices=Contact.DecisionRole.choices, label=_("decision role"))
    ordering = filters.OrderingFilter(fields=("name", "created_at", "id"))

    class Meta:
        model = Contact
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(phone__icontains=value) | Q(email__icontains=value))
