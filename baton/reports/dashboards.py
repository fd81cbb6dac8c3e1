"""The three shipped dashboards, as data: each chart is one pivot request (source, dimensions, metrics,
filters) and a chart type; one template draws them all, each with its lineage and drill-down.

Extra figures that are not pivots (the pool backlog, SLA breaches) are "counts" over one table, with the same
lineage fields (source table, time, who).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from baton.core import clock

LAST_8_WEEKS = {"field": "created_at", "op": "within_last", "value": "P56D"}
ACT_LAST_8_WEEKS = {"field": "occurred_at", "op": "within_last", "value": "P56D"}

def _newcomers(owner: str) -> dict:
    """Records of owners hired within the newcomer window (settings.BATON_NEWCOMER_DAYS)."""
    from django.conf import settings

    since = clock.today() - timedelta(days=settings.BATON_NEWCOMER_DAYS - 1)
    return {"field": f"{owner}.hire_date", "op": "gte", "value": since.isoformat()}


DASHBOARDS = {
    "lead-health": {
        "title": _("Lead health"),
        "charts": [
            {"key": "intake", "title": _("Intake per week, by source"), "type": "bar", "source": "leads",
             "dimensions": ["week", "source"], "metrics": ["lead_count"], "filters": LAST_8_WEEKS},
            {"key": "response", "title": _("Response time to first contact (median / p90, hours)"),
             "type": "line", "source": "leads", "dimensions": ["week"],
             "metrics": ["response_hours_median", "response_hours_p90"], "filters": LAST_8_WEEKS},
            {"key": "grades", "title": _("Leads by grade and region"), "type": "heatmap", "source": "leads",
             "dimensions": ["grade", "region"], "metrics": ["lead_count"], "filters": LAST_8_WEEKS},
            {"key": "first_contact", "title": _("First-contact success by team"), "type": "bar",
             "source": "leads", "dimensions": ["team"], "metrics": ["first_contact_success_rate"],
             "filters": LAST_8_WEEKS},
        ],
        "counts": ["sla_breaches", "backlog"],
    },
    "process-saturation": {
        "title": _("Process saturation"),
        "charts": [
            {"key": "activities", "title": _("Activities per rep"), "type": "bar", "source": "activities",
             "dimensions": ["owner"], "metrics": ["activity_count"], "filters": ACT_LAST_8_WEEKS},
            {"key": "activity_kinds", "title": _("Activities by team and kind"), "type": "heatmap",
             "source": "activities", "dimensions": ["team", "kind"], "metrics": ["activity_count"],
             "filters": ACT_LAST_8_WEEKS},
            {"key": "per_rep_week", "title": _("Activities per rep, by week"), "type": "line",
             "source": "activities", "dimensions": ["week"], "metrics": ["activities_per_rep"],
             "filters": ACT_LAST_8_WEEKS},
            {"key": "stages", "title": _("Open deals by stage"), "type": "bar", "source": "opportunities",
             "dimensions": ["stage"], "metrics": ["deal_count", "pipeline_amount"],
             "filters": {"field": "status", "op": "eq", "value": "open"}},
        ],
        "counts": ["required_actions"],
    },
    "newcomer-growth": {
        "title": _("Newcomer growth"),
        "charts": [
            {"key": "response", "title": _("Response time by week since hire, per newcomer (hours)"),
             "type": "line", "source": "leads", "dimensions": ["weeks_since_hire", "owner"],
             "metrics": ["response_hours_median"], "filters": lambda: _newcomers("owner")},
            {"key": "first_contact", "title": _("First-contact success by week since hire, per newcomer"),
             "type": "line", "source": "leads", "dimensions": ["weeks_since_hire", "owner"],
             "metrics": ["first_contact_success_rate"], "filters": lambda: _newcomers("owner")},
            {"key": "advances", "title": _("Deals opened by week since hire, per newcomer"), "type": "line",
             "source": "opportunities", "dimensions": ["weeks_since_hire", "owner"], "metrics": ["deal_count"],
             "filters": lambda: _newcomers("owner")},
            {"key": "activities", "title": _("Activities by newcomer and week since hire"), "type": "heatmap",
             "source": "activities", "dimensions": ["owner", "weeks_since_hire"], "metrics": ["activity_count"],
             "filters": lambda: _newcomers("author")},
        ],
        "counts": [],
    },
}


def _count_sla():
    from baton.sla.models import SlaCrossing

    since = clock.now() - timedelta(days=7)
    return {"key": "sla_breaches", "title": str(_("SLA crossings in the last 7 days (open)")),
            "value": SlaCrossing.objects.filter(crossed_at__gte=since, resolved_at__isnull=True).count(),
            "source_tables": ["sla_slacrossing"], "link": "/sla/"}


def _count_backlog():
    from baton.assignment.models import PoolBacklog

    return {"key": "backlog", "title": str(_("Leads waiting in pool backlogs")),
            "value": PoolBacklog.objects.count(), "source_tables": ["assignment_poolbacklog"], "link": "/pools/"}


def _count_required():
    from baton.process import models as pm

    model = getattr(pm, "RequiredAction", None)
    if model is None:
        raise ImportError
    status = {"status": "open"} if any(f.name == "status" for f in model._meta.fields) else {}
    return {"key": "required_actions", "title": str(_("Open required actions")),
            "value": model.objects.filter(**status).count(), "source_tables": [model._meta.db_table],
            "link": "/process/"}


COUNTS = {"sla_breaches": _count_sla, "backlog": _count_backlog, "required_actions": _count_required}


def render(key: str, *, user) -> dict | None:
    """The dashboard with every chart computed for `user` (rows + lineage), ready for the template."""
    from baton.core.errors import ValidationFailed
    from baton.reports import selectors

    spec = DASHBOARDS.get(key)
    if spec is None:
        return None
    charts = []
    for c in spec["charts"]:
        filters = c.get("filters")
        request = {"source": c["source"], "dimensions": c["dimensions"], "metrics": c["metrics"],
                   "filters": filters() if callable(filters) else filters}
        try:
            result = selectors.pivot(user=user, **request)
            error = ""
        except ValidationFailed as exc:
            result, error = {"rows": [], "lineage": {}}, str(exc)
        charts.append({"key": c["key"], "title": str(c["title"]), "type": c["type"], "request": request,
                       "rows": result["rows"], "lineage": result["lineage"], "error": error})
    counts = []
    for name in spec["counts"]:
        try:
            item = COUNTS[name]()
        except (ImportError, LookupError):
            continue
        item["as_of"] = clock.now().isoformat()
        item["refreshed_by"] = "live"
        counts.append(item)
    return {"key": key, "title": str(spec["title"]), "charts": charts, "counts": counts,
            "others": [(k, str(v["title"])) for k, v in DASHBOARDS.items()]}
