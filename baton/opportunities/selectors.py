from baton.core import scoping
from baton.core.selectors import get_scoped
from baton.opportunities.models import Opportunity, StageChange


def opportunity_list(*, user, action="view"):
    qs = Opportunity.objects.select_related("owner", "account", "pipeline", "stage")
    return scoping.restrict(qs, user, action)


def opportunity_get(*, user, pk, action="view") -> Opportunity:
    return get_scoped(opportunity_list(user=user), user, pk, action)


def stage_history(opportunity: Opportunity):
    return StageChange.objects.filter(opportunity=opportunity).select_related("from_stage", "to_stage", "actor")
