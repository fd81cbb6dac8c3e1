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
