"""Reads: active packs, script usage figures for ops, and best-call windows from logged calls."""

from collections import defaultdict

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from baton.activities.models import Activity
from baton.leads.models import Lead
from baton.scripts.models import Script, ScriptPack, ScriptUse
from baton.scripts.services import CALL_OUTCOMES

CONNECTED = Activity.Outcome.CONNECTED


def active_packs():
    return ScriptPack.objects.filter(active=True).prefetch_related("scripts")


def _calls(since=None, until=None):
    qs = Activity.objects.filter(kind=Activity.Kind.CALL, outcome__in=CALL_OUTCOMES)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs


def _rate(connected: int, total: int) -> float | None:
    return round(connected / total, 4) if total else None


def script_usage(*, since=None, until=None) -> list[dict]:
    """Per script: uses, per rep, per outcome, and the connect rate of calls that used it vs calls that did not."""
    uses = ScriptUse.objects.all()
    if since is not None:
        uses = uses.filter(at__gte=since)
    if until is not None:
        uses = uses.filter(at__lt=until)
    calls = _calls(since, until)
    total_calls = calls.count()
    total_connected = calls.filter(outcome=CONNECTED).count()
    by_script = defaultdict(lambda: {"uses": 0, "by_rep": defaultdict(int), "by_outcome": defaultdict(int)})
    for row in uses.values("script_id", "rep_id", "rep__display_name", "rep__username", "outcome").annotate(
            n=Count("id")):
        entry = by_script[row["script_id"]]
        entry["uses"] += row["n"]
        entry["by_rep"][row["rep__display_name"] or row["rep__username"]] += row["n"]
        entry["by_outcome"][row["outcome"] or "-"] += row["n"]
    with_calls = {}
    for row in calls.filter(script_uses__in=uses).values("script_uses__script_id").annotate(
            total=Count("id", distinct=True), connected=Count("id", distinct=True, filter=Q(outcome=CONNECTED))):
        with_calls[row["script_uses__script_id"]] = row
    out = []
    for script in Script.objects.select_related("pack").order_by("pack__name", "position", "id"):
        entry = by_script.get(script.pk, {"uses": 0, "by_rep": {}, "by_outcome": {}})
        w = with_calls.get(script.pk, {"total": 0, "connected": 0})
        without_total, without_connected = total_calls - w["total"], total_connected - w["connected"]
        out.append({
            "script": script, "pack": script.pack, "uses": entry["uses"], "by_rep": dict(entry["by_rep"]),
            "by_outcome": dict(entry["by_outcome"]), "calls_with": w["total"], "connected_with": w["connected"],
            "rate_with": _rate(w["connected"], w["total"]), "calls_without": without_total,
            "connected_without": without_connected, "rate_without": _rate(without_connected, without_total),
        })
    return out


# ---- best-call windows ---------------------------------------------------------------------------------------

def min_calls_per_cell() -> int:
    return int(getattr(settings, "BATON_CALL_WINDOW_MIN_CALLS", 20))


def call_grid(*, since=None, until=None) -> dict:
    """{"company": {(weekday, hour): [calls, connected]}, "industry": {industry_id: {(weekday, hour): [..]}}}.

    Weekday 0 = Monday, hours in the site's time zone. A call counts for the industries of its lead, else of
    its account (else only company-wide).
    """
    tz = timezone.get_default_timezone()
    rows = list(_calls(since, until).values_list("occurred_at", "outcome", "lead_id", "account_id"))
    lead_ids = {r[2] for r in rows if r[2]}
    account_ids = {r[3] for r in rows if r[3]}
    lead_ind, acc_ind = defaultdict(set), defaultdict(set)
    if lead_ids:
        for lid, iid in Lead.industries.through.objects.filter(lead_id__in=lead_ids).values_list(
                "lead_id", "industry_id"):
            lead_ind[lid].add(iid)
    if account_ids:
        from baton.accounts.models import Account

        for aid, iid in Account.industries.through.objects.filter(account_id__in=account_ids).values_list(
                "account_id", "industry_id"):
            acc_ind[aid].add(iid)
    company = defaultdict(lambda: [0, 0])
    industry = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for at, outcome, lid, aid in rows:
        local = at.astimezone(tz)
        cell = (local.weekday(), local.hour)
        hit = 1 if outcome == CONNECTED else 0
        company[cell][0] += 1
        company[cell][1] += hit
        for iid in (lead_ind.get(lid) if lid and lead_ind.get(lid) else acc_ind.get(aid, ())):
            industry[iid][cell][0] += 1
            industry[iid][cell][1] += hit
    return {"company": dict(company), "industry": {k: dict(v) for k, v in industry.items()}}


def _best(cells: dict, min_calls: int, top: int) -> list[dict]:
    ranked = sorted(((cell, n, c) for cell, (n, c) in cells.items() if n >= min_calls),
                    key=lambda x: (-x[2] / x[1], -x[1], x[0]))
    return [{"weekday": cell[0], "hour": cell[1], "calls": n, "connected": c, "rate": round(c / n, 4)}
            for cell, n, c in ranked[:top]]


def best_windows(*, industry_ids=(), grid=None, min_calls=None, top=3) -> dict:
    """The best `top` windows for these industries when each has `min_calls` calls, else the company-wide ones.
    Returns {"basis": "industry" | "company" | "none", "windows": [...]}."""
    grid = grid if grid is not None else call_grid()
    min_calls = min_calls_per_cell() if min_calls is None else min_calls
    if industry_ids:
        pooled = defaultdict(lambda: [0, 0])
        for iid in industry_ids:
            for cell, (n, c) in grid["industry"].get(iid, {}).items():
                pooled[cell][0] += n
                pooled[cell][1] += c
        windows = _best(pooled, min_calls, top)
        if len(windows) >= top:
            return {"basis": "industry", "windows": windows}
    windows = _best(grid["company"], min_calls, top)
    return {"basis": "company" if windows else "none", "windows": windows}


def lead_best_windows(lead, **kwargs) -> dict:
    return best_windows(industry_ids=sorted(lead.industries.values_list("id", flat=True)), **kwargs)


def all_packs():
    """Every pack (active first) with its scripts in order and its use count: the ops settings page."""
    return (ScriptPack.objects.annotate(script_count=Count("scripts", distinct=True),
                                        use_count=Count("scripts__uses", distinct=True))
            .prefetch_related("scripts").order_by("-active", "name"))
