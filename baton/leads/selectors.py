from baton.core import scoping
from baton.core.selectors import get_scoped
from baton.leads.models import Lead


def lead_list(*, user, action="view"):
    qs = Lead.objects.select_related("owner", "region").prefetch_related("tags", "industries")
    return scoping.restrict(qs, user, action)


def lead_get(*, user, pk, action="view") -> Lead:
    return get_scoped(lead_list(user=user), user, pk, action)
