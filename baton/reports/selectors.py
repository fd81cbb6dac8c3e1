"""Reads of the reports app: pivots, drill-down rows, the metric catalogue and the sync state."""

from baton.reports import engine
from baton.reports import metrics as M
from baton.reports.models import SyncState


def pivot(*, user, source, dimensions, metrics, filters=None, engine_name="auto") -> dict:
    return engine.pivot(user=user, source=source, dimensions=dimensions, metrics=metrics, filters=filters,
                        engine=engine_name)


def pivot_rows(*, user, source, dimensions, cell, filters=None, limit=200) -> dict:
    return engine.drill_rows(user=user, source=source, dimensions=dimensions, cell=cell, filters=filters,
                             limit=limit)


def catalogue() -> dict:
    out = {}
    for source in M.SOURCES:
        out[source] = {
            "metrics": [m.describe() for m in M.metrics_for(source).values()],
            "dimensions": [{"name": d.name, "label": d.label, "label_zh": d.label_zh, "label_en": d.label_en,
                            "definition": d.definition_zh if _zh() else d.definition_en}
                           for d in M.dimensions_for(source).values()],
        }
    return out


def sync_states():
    return list(SyncState.objects.all())


def _zh():
    from django.utils.translation import get_language

    return (get_language() or "").startswith("zh")


# --- Invoices and held amounts ------------------------------------------------------------------------------
def _finance(user) -> bool:
    return user.is_superuser or user.has_role("finance") or user.has_role("ops") or user.has_role("director")


def invoice_list(*, user):
    from baton.core import scoping
    from baton.reports.models import Invoice

    qs = Invoice.objects.select_related("account", "opportunity")
    return qs if _finance(user) else scoping.restrict(qs, user, "view")


def held_list(*, user, status=None):
    from baton.reports.models import HeldAmount

    if not _finance(user):
        return HeldAmount.objects.none()
    qs = HeldAmount.objects.select_related("account", "invoice", "opportunity", "reviewed_by")
    return qs.filter(status=status) if status else qs


def held_get(*, user, pk):
    from baton.core.errors import NotFound
    from baton.reports.models import HeldAmount

    try:
        return held_list(user=user).get(pk=pk)
    except (HeldAmount.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


# --- Saved pivots, export jobs, anomaly lights --------------------------------------------------------------
def saved_pivot_list(*, user):
    """The saved pivots that reach `user`: their own, and those shared with everyone, with their team or with
    their region. (Running one still applies the viewer's own data scope.)"""
    from django.db.models import Q

    from baton.reports.models import SavedPivot

    if user is None or not user.is_authenticated:
        return SavedPivot.objects.none()
    q = Q(owner=user) | Q(shared_with=SavedPivot.Share.ALL)
    if user.team_id:
        q |= Q(shared_with=SavedPivot.Share.TEAM, team_id=user.team_id)
    if user.region_id:
        q |= Q(shared_with=SavedPivot.Share.REGION, region_id=user.region_id)
    return SavedPivot.objects.filter(q).select_related("owner").order_by("name", "id")


def saved_pivot_get(*, user, pk):
    from baton.core.errors import NotFound

    obj = saved_pivot_list(user=user).filter(pk=pk).first() if str(pk).isdigit() else None
    if obj is None:
        raise NotFound()
    return obj


def export_job_get(*, user, pk):
    """An export job is its requester's (a superuser may look at any)."""
    from baton.core.errors import NotFound
    from baton.reports.models import ExportJob

    qs = ExportJob.objects.all() if user.is_superuser else ExportJob.objects.filter(requested_by=user)
    job = qs.filter(pk=pk).first()
    if job is None:
        raise NotFound()
    return job


def anomaly_rules():
    from baton.reports.models import AnomalyRule

    return list(AnomalyRule.objects.all())


def anomaly_board():
    """Per rule (in key order): the rule and its current lights (red first), for the lights page."""
    from baton.reports import anomalies

    order = {"red": 0, "yellow": 1, "green": 2}
    by_rule = {}
    for light in anomalies.current_lights():
        by_rule.setdefault(light.rule_id, []).append(light)
    out = []
    for rule in anomaly_rules():
        lights = sorted(by_rule.get(rule.pk, []), key=lambda x: (order.get(x.level, 3), x.label or x.key))
        out.append({"rule": rule, "lights": lights,
                    "evaluated_at": max((x.evaluated_at for x in lights), default=None)})
    return out
