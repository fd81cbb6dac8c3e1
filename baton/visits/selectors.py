from django.db.models import Count, Q

from baton.core import scoping
from baton.core.selectors import get_scoped
from baton.visits.models import Verdict, Visit, VisitPolicy


def visit_policy() -> VisitPolicy:
    """The company's visit policy row (created with the shipped defaults on first use)."""
    policy = VisitPolicy.objects.order_by("pk").first()
    return policy or VisitPolicy.objects.create()


def visit_list(*, user, action="view"):
    qs = Visit.objects.select_related("account", "rep").prefetch_related("photos")
    return scoping.restrict(qs, user, action)


def visit_get(*, user, pk, action="view") -> Visit:
    return get_scoped(visit_list(user=user), user, pk, action)


def visit_counts_by_rep(*, user, since=None, until=None) -> list[dict]:
    """Per rep the viewer may see: visits valid / invalid / suspicious / still open, most visits first."""
    qs = scoping.restrict(Visit.objects.all(), user, "view")
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    if until is not None:
        qs = qs.filter(started_at__lt=until)
    rows = (qs.values("rep_id", "rep__username", "rep__display_name")
            .annotate(total=Count("id"),
                      **{v: Count("id", filter=Q(verdict=v)) for v in Verdict.values})
            .order_by("-total", "rep__username"))
    return [{"rep": r["rep_id"], "rep_name": r["rep__display_name"] or r["rep__username"], "total": r["total"],
             **{v: r[v] for v in Verdict.values}} for r in rows]
