"""Reads: required actions in scope, the process compliance rate and the per-rep capability radar."""

from collections import defaultdict
from datetime import datetime

from django.db.models import Avg, Count, F, Q
from django.db.models.functions import Coalesce

from baton.core import clock, scoping
from baton.core.selectors import get_scoped

from .models import ActionAlert, DwellAlert, RequiredAction

GROUPS = ("rep", "team", "region")


def action_list(*, user, action="view"):
    qs = RequiredAction.objects.select_related("template", "opportunity", "owner")
    return scoping.restrict(qs, user, action)


def action_get(*, user, pk, action="view") -> RequiredAction:
    return get_scoped(action_list(user=user), user, pk, action)


def actions_of_deal(opportunity):
    return (RequiredAction.objects.filter(opportunity=opportunity).select_related("template", "owner")
            .prefetch_related("evidence").order_by("status", "due_at", "id"))


def _group_expr(group: str):
    if group == "team":
        return F("owner__team_id")
    if group == "region":
        return Coalesce("owner__region_id", "owner__team__region_id")
    return F("owner_id")


def _labels(group: str, keys) -> dict:
    from baton.org.models import Region, Team, User

    model = {"rep": User, "team": Team, "region": Region}[group]
    return {o.pk: str(o) for o in model.objects.filter(pk__in=[k for k in keys if k is not None])}


def due_actions(*, user, start: datetime, end: datetime, now=None):
    """Actions due in [start, end) and already due at `now` (waived ones count neither way)."""
    now = now or clock.now()
    return (action_list(user=user).filter(due_at__gte=start, due_at__lt=end, due_at__lte=now)
            .exclude(status=RequiredAction.Status.WAIVED))


def compliance(*, user, group: str = "rep", start: datetime, end: datetime, now=None) -> list[dict]:
    """Per rep, team or region: required actions completed on time ÷ required actions due, in one query."""
    if group not in GROUPS:
        raise ValueError(group)
    rows = (due_actions(user=user, start=start, end=end, now=now).order_by()
            .annotate(_key=_group_expr(group)).values("_key")
            .annotate(due=Count("id"), on_time=Count("id", filter=Q(completed_on_time=True))))
    rows = list(rows)
    labels = _labels(group, [r["_key"] for r in rows])
    out = [{"key": r["_key"], "label": labels.get(r["_key"], "—"), "due": r["due"], "on_time": r["on_time"],
            "rate": round(r["on_time"] / r["due"], 4) if r["due"] else None} for r in rows]
    return sorted(out, key=lambda r: (-(r["rate"] or 0), r["label"]))


def compliance_drill(*, user, group: str, key, start: datetime, end: datetime, now=None):
    """The actions behind one compliance figure."""
    qs = due_actions(user=user, start=start, end=end, now=now).annotate(_key=_group_expr(group))
    qs = qs.filter(_key__isnull=True) if key in (None, "", "None") else qs.filter(_key=key)
    return qs.order_by("due_at", "id")


# --- Capability radar ------------------------------------------------------------------------------------------

AXES = ("avg_stage_days", "evidence_completeness", "alerts", "compliance")


def _evidence_completeness(actions) -> tuple[int, int]:
    """(present, required) evidence over `actions` (each evidence requirement counts up to its minimum)."""
    present = required = 0
    for action in actions:
        kinds = defaultdict(int)
        for att in action.evidence.all():
            kinds[att.kind] += 1
        for req in action.template.requirements:
            if req.get("type") == "evidence":
                need = int(req.get("min", 1))
                required += need
                present += min(kinds[req["kind"]], need)
    return present, required


def radar(*, user, rep_ids, start: datetime, end: datetime, now=None) -> dict[int, dict]:
    """{rep id: {axis: value}} for the capability radar, each axis computed for all reps at once."""
    from baton.opportunities.models import Opportunity, StageChange

    now = now or clock.now()
    rep_ids = list(rep_ids)
    out = {r: {"avg_stage_days": None, "evidence_completeness": None, "alerts": 0, "compliance": None}
           for r in rep_ids}
    deals = scoping.restrict(Opportunity.objects.all(), user)
    dwell = (StageChange.objects.filter(opportunity__in=deals.values("pk"), opportunity__owner_id__in=rep_ids,
                                        from_stage__isnull=False, dwell_seconds__isnull=False,
                                        at__gte=start, at__lt=end)
             .values("opportunity__owner_id").annotate(avg=Avg("dwell_seconds")))
    for row in dwell:
        out[row["opportunity__owner_id"]]["avg_stage_days"] = round(row["avg"] / 86400, 2)
    for row in compliance(user=user, group="rep", start=start, end=end, now=now):
        if row["key"] in out:
            out[row["key"]]["compliance"] = row["rate"]
    triggered = (action_list(user=user).filter(owner_id__in=rep_ids, triggered_at__gte=start, triggered_at__lt=end)
                 .prefetch_related("evidence"))
    by_rep = defaultdict(list)
    for action in triggered:
        by_rep[action.owner_id].append(action)
    for rep, actions in by_rep.items():
        present, required = _evidence_completeness(actions)
        out[rep]["evidence_completeness"] = round(present / required, 4) if required else None
    alerts = defaultdict(int)
    for rep, n in (ActionAlert.objects.filter(level="overdue", owner_id_at_crossing__in=rep_ids,
                                              crossed_at__gte=start, crossed_at__lt=end)
                   .values_list("owner_id_at_crossing").annotate(n=Count("id"))):
        alerts[rep] += n
    for rep, n in (DwellAlert.objects.filter(owner_id_at_crossing__in=rep_ids, crossed_at__gte=start,
                                             crossed_at__lt=end)
                   .values_list("owner_id_at_crossing").annotate(n=Count("id"))):
        alerts[rep] += n
    try:
        from baton.sla.models import SlaCrossing
    except ImportError:  # the SLA app is optional
        SlaCrossing = None  # noqa: N806
    if SlaCrossing is not None:
        for rep, n in (SlaCrossing.objects.filter(item_type="opportunities", level="breach",
                                                  owner_id_at_crossing__in=rep_ids, crossed_at__gte=start,
                                                  crossed_at__lt=end)
                       .values_list("owner_id_at_crossing").annotate(n=Count("id"))):
            alerts[rep] += n
    for rep, n in alerts.items():
        out[rep]["alerts"] = n
    return out


def team_average(values: dict[int, dict]) -> dict:
    avg = {}
    for axis in AXES:
        present = [v[axis] for v in values.values() if v[axis] is not None]
        avg[axis] = round(sum(present) / len(present), 4) if present else None
    return avg


def rankings(values: dict[int, dict], labels: dict[int, str]) -> dict[str, list]:
    """Per axis, reps best first (shorter stage time and fewer alerts are better)."""
    lower_better = {"avg_stage_days", "alerts"}
    out = {}
    for axis in AXES:
        rows = [(rep, v[axis]) for rep, v in values.items() if v[axis] is not None]
        rows.sort(key=lambda t: (t[1] if axis in lower_better else -t[1], labels.get(t[0], "")))
        out[axis] = [{"rep": rep, "label": labels.get(rep, ""), "value": value, "rank": i + 1}
                     for i, (rep, value) in enumerate(rows)]
    return out
