"""Scheduled timeliness reports: the weekly health report and the daily TOP20 leads to fix.

Schedules are data (`ReportSchedule`: cron + time zone + recipients + channels). A periodic job asks every
minute which schedules are due at the injected clock's time and runs each due slot once: the slot is claimed
with a conditional update of `last_slot`, and `ReportRun` is unique per (schedule, slot).
"""

import io
import logging
import statistics
from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from baton.core import clock

from .models import ReportRun, ReportSchedule, SlaCrossing, Target

log = logging.getLogger(__name__)

# figure -> (label, definition): shown beside each figure in the UI, the e-mail and the Excel file.
DEFINITIONS = {
    "received": (gettext_lazy("Leads received"),
                 gettext_lazy("Leads created during the week, counted for their current owner and team.")),
    "timeout_rate": (gettext_lazy("Timeout rate"),
                     gettext_lazy("Leads with any breached SLA clock (a breach recorded before the week ended) "
                                  "÷ leads received whose SLA clock started.")),
    "transfer_rate": (gettext_lazy("Transfer rate"),
                      gettext_lazy("Leads moved to someone else after their first assignment (a manager's or "
                                   "the SLA's reassignment, or a second assignment) ÷ leads received that "
                                   "were assigned.")),
    "first_contact_success_rate": (
        gettext_lazy("First-contact success rate"),
        gettext_lazy("Leads whose first contact attempt (the first logged call, visit, meeting, e-mail or "
                     "WeChat) connected ÷ leads received with a contact attempt.")),
    "median_first_contact_minutes": (
        gettext_lazy("Median time to first contact"),
        gettext_lazy("The median, over leads received that were contacted before the week ended, of the time "
                     "from creation to the first contact attempt, in minutes.")),
}
RATES = ("timeout_rate", "transfer_rate", "first_contact_success_rate")
GRADE_WEIGHT = {"A": 3, "B": 2, "C": 1}

DEFAULT_SCHEDULES = [
    {"name": "Weekly lead-timeliness health", "kind": ReportSchedule.Kind.WEEKLY_HEALTH, "cron": "0 17 * * 5"},
    {"name": "Daily TOP20 leads to fix", "kind": ReportSchedule.Kind.DAILY_TOP20, "cron": "0 9 * * *"},
]


def report_install_defaults() -> int:
    created = 0
    with translation.override(settings.LANGUAGE_CODE):
        for spec in DEFAULT_SCHEDULES:
            if ReportSchedule.objects.filter(kind=spec["kind"]).exists():
                continue
            s = ReportSchedule(name=_(spec["name"]), kind=spec["kind"], cron=spec["cron"], time_zone="Asia/Shanghai")
            s.full_clean()
            s.save()
            created += 1
    return created


# --- Figures ---------------------------------------------------------------------------------------------------


def _ratio(num: int, den: int):
    return round(num / den, 4) if den else None


def lead_facts(start, end) -> list[dict]:
    """One dict per lead received in [start, end): who owns it and what happened to it before `end`."""
    from baton.activities.models import Activity
    from baton.assignment.models import Assignment
    from baton.leads.models import Lead

    from .clocks import clocks_for

    leads = list(Lead.objects.filter(created_at__gte=start, created_at__lt=end)
                 .select_related("owner__team").order_by("id"))
    ids = [lead.pk for lead in leads]
    breached = set()
    assignments = defaultdict(list)
    first_attempt = {}
    for i in range(0, len(ids), 2000):
        chunk = ids[i:i + 2000]
        breached |= set(SlaCrossing.objects.filter(item_type=Target.LEADS, item_id__in=chunk, crossed_at__lt=end)
                        .exclude(level="warning").values_list("item_id", flat=True))
        for lead_id, kind, user_id in (Assignment.objects.filter(lead_id__in=chunk, at__lt=end)
                                       .order_by("at", "id").values_list("lead_id", "kind", "user_id")):
            assignments[lead_id].append((kind, user_id))
        for lead_id, outcome, at in (Activity.objects.filter(lead_id__in=chunk, occurred_at__lt=end,
                                                             kind__in=Activity.CONTACT_KINDS)
                                     .order_by("lead_id", "occurred_at", "id")
                                     .values_list("lead_id", "outcome", "occurred_at")):
            first_attempt.setdefault(lead_id, (outcome, at))
    facts = []
    with clock.frozen(end):
        for lead in leads:
            given = [(k, u) for k, u in assignments[lead.pk] if u is not None]
            assigned = bool(given) or (lead.assigned_at is not None and lead.assigned_at < end)
            reassigned = any(k == Assignment.Kind.MANUAL for k, _u in given) or len(given) > 1
            attempt = first_attempt.get(lead.pk)
            owner = lead.owner
            facts.append({
                "lead": lead.pk,
                "rep": str(owner) if owner else _("Unassigned"),
                "rep_id": owner.pk if owner else None,
                "team": str(owner.team) if owner and owner.team_id else _("No team"),
                "clock_started": bool(clocks_for(lead, now=end)),
                "breached": lead.pk in breached,
                "assigned": assigned,
                "reassigned": assigned and reassigned,
                "attempted": attempt is not None,
                "connected": attempt is not None and attempt[0] == "connected",
                "minutes_to_contact": (attempt[1] - lead.created_at).total_seconds() / 60 if attempt else None,
            })
    return facts


def metrics(facts: list[dict]) -> dict:
    n = lambda key: sum(1 for f in facts if f[key])  # noqa: E731
    started = [f for f in facts if f["clock_started"]]
    minutes = [f["minutes_to_contact"] for f in facts if f["minutes_to_contact"] is not None]
    assigned = [f for f in facts if f["assigned"]]
    attempted = [f for f in facts if f["attempted"]]
    return {
        "received": len(facts),
        "clock_started": len(started),
        "breached": sum(1 for f in started if f["breached"]),
        "timeout_rate": _ratio(sum(1 for f in started if f["breached"]), len(started)),
        "assigned": len(assigned),
        "reassigned": n("reassigned"),
        "transfer_rate": _ratio(n("reassigned"), len(assigned)),
        "attempted": len(attempted),
        "connected": n("connected"),
        "first_contact_success_rate": _ratio(n("connected"), len(attempted)),
        "median_first_contact_minutes": round(statistics.median(minutes), 1) if minutes else None,
    }


def _change(cur: dict, prev: dict | None) -> dict:
    out = {}
    for key in ("received", *RATES, "median_first_contact_minutes"):
        a, b = cur.get(key), (prev or {}).get(key)
        out[key] = None if a is None or b is None else round(a - b, 4)
    return out


def _grouped(facts):
    teams = defaultdict(lambda: defaultdict(list))
    for f in facts:
        teams[f["team"]][f["rep"]].append(f)
    return teams


def weekly_health(end) -> dict:
    """The figures for the week ending at `end`, with the change from the week before."""
    start, prev_start = end - timedelta(days=7), end - timedelta(days=14)
    cur, prev = lead_facts(start, end), lead_facts(prev_start, start)
    cur_t, prev_t = _grouped(cur), _grouped(prev)
    teams = []
    for team in sorted(cur_t):
        reps = []
        for rep in sorted(cur_t[team]):
            m = metrics(cur_t[team][rep])
            p = metrics(prev_t[team][rep]) if prev_t.get(team, {}).get(rep) else None
            reps.append({"rep": rep, **m, "change": _change(m, p)})
        all_cur = [f for fs in cur_t[team].values() for f in fs]
        all_prev = [f for fs in prev_t.get(team, {}).values() for f in fs]
        m = metrics(all_cur)
        teams.append({"team": team, **m, "change": _change(m, metrics(all_prev) if all_prev else None),
                      "reps": reps})
    total = metrics(cur)
    return {"period": {"start": start.isoformat(), "end": end.isoformat()},
            "previous": {"start": prev_start.isoformat(), "end": start.isoformat()},
            "total": {**total, "change": _change(total, metrics(prev) if prev else None)},
            "teams": teams}


def daily_top20(now, limit: int = 20) -> dict:
    """The breached lead clocks to fix first: grade weight (A 3, B 2, C/none 1) × hours overdue."""
    from baton.sla.views import duration

    from .selectors import board_rows

    rows = [r for r in board_rows(None, now=now, state="breached") if r.item_type == Target.LEADS]
    best = {}
    for r in rows:  # one line per lead: its most overdue clock
        if r.item.pk not in best or r.seconds > best[r.item.pk].seconds:
            best[r.item.pk] = r
    ranked = sorted(best.values(), key=lambda r: (-GRADE_WEIGHT.get(r.grade, 1) * r.seconds, -r.seconds, r.item.pk))
    items = []
    for i, r in enumerate(ranked[:limit], 1):
        reason = _("%(grade)s, overdue %(t)s on “%(policy)s”; owner: %(owner)s") % {
            "grade": _("grade %(g)s") % {"g": r.grade} if r.grade else _("no grade"), "t": duration(r.seconds),
            "policy": r.policy.name, "owner": r.owner or _("nobody")}
        items.append({"rank": i, "lead": r.item.pk, "name": str(r.item), "grade": r.grade, "policy": r.policy.name,
                      "owner": str(r.owner) if r.owner else "", "overdue_minutes": r.seconds // 60,
                      "score": round(GRADE_WEIGHT.get(r.grade, 1) * r.seconds / 3600, 2), "reason": reason,
                      "link": f"/sla/board/?item=leads:{r.item.pk}"})
    return {"at": now.isoformat(), "breached_leads": len(ranked), "items": items}


# --- Files and delivery -----------------------------------------------------------------------------------------


def _pct(v):
    return "—" if v is None else f"{v * 100:.1f}%"


def _excel(run: ReportRun) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    fig = run.figures
    bold = Font(bold=True)
    if run.kind == ReportSchedule.Kind.WEEKLY_HEALTH:
        ws.title = "Health"
        head = [_("Team"), _("Rep"), *[str(DEFINITIONS[k][0]) for k in
                                        ("received", "timeout_rate", "transfer_rate", "first_contact_success_rate",
                                         "median_first_contact_minutes")],
                _("Timeout rate change"), _("Transfer rate change"), _("First-contact success change"),
                _("Median change (min)")]
        ws.append(head)
        for c in ws[1]:
            c.font = bold

        def line(team, rep, m):
            ch = m["change"]
            ws.append([team, rep, m["received"], m["timeout_rate"], m["transfer_rate"],
                       m["first_contact_success_rate"], m["median_first_contact_minutes"], ch["timeout_rate"],
                       ch["transfer_rate"], ch["first_contact_success_rate"], ch["median_first_contact_minutes"]])

        line(_("All"), "", fig["total"])
        for t in fig["teams"]:
            line(t["team"], "", t)
            for r in t["reps"]:
                line(t["team"], r["rep"], r)
        for row in ws.iter_rows(min_row=2, min_col=4, max_col=6):
            for c in row:
                c.number_format = "0.0%"
        defs = wb.create_sheet("Definitions")
        for label, text in DEFINITIONS.values():
            defs.append([str(label), str(text)])
    else:
        ws.title = "TOP20"
        ws.append([_("Rank"), _("Lead"), _("Grade"), _("Policy"), _("Owner"), _("Overdue (min)"), _("Why listed")])
        for c in ws[1]:
            c.font = bold
        for it in fig["items"]:
            ws.append([it["rank"], it["name"], it["grade"], it["policy"], it["owner"], it["overdue_minutes"],
                       it["reason"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def summary_text(run: ReportRun) -> tuple[str, str]:
    fig = run.figures
    local = timezone.localtime(run.slot).strftime("%Y-%m-%d %H:%M")
    if run.kind == ReportSchedule.Kind.WEEKLY_HEALTH:
        t = fig["total"]
        title = _("Lead timeliness, week to %(t)s") % {"t": local}

        def ch(key):
            v = t["change"].get(key)
            return "" if v is None else f" ({'+' if v >= 0 else ''}{v * 100:.1f} pt)"

        med = t["median_first_contact_minutes"]
        lines = [
            f"{DEFINITIONS['received'][0]}: {t['received']}",
            f"{DEFINITIONS['timeout_rate'][0]}: {_pct(t['timeout_rate'])}{ch('timeout_rate')}",
            f"{DEFINITIONS['transfer_rate'][0]}: {_pct(t['transfer_rate'])}{ch('transfer_rate')}",
            f"{DEFINITIONS['first_contact_success_rate'][0]}: {_pct(t['first_contact_success_rate'])}"
            f"{ch('first_contact_success_rate')}",
            f"{DEFINITIONS['median_first_contact_minutes'][0]}: "
            + ("—" if med is None else _("%(m)s min") % {"m": med}),
        ]
        for team in fig["teams"]:
            lines.append(f"- {team['team']}: {team['received']} · {_pct(team['timeout_rate'])}")
        return title, "\n".join(lines)
    title = _("TOP20 leads to fix, %(t)s") % {"t": local}
    lines = [f"{it['rank']}. {it['name']} — {it['reason']}" for it in fig["items"][:20]]
    return title, "\n".join(lines) or _("No breached lead. Well done.")


def _deliver(run: ReportRun, schedule: ReportSchedule | None) -> None:
    from baton.notifications.models import Channel
    from baton.notifications.services import notify, outbox_enqueue

    if schedule is None:
        return
    base = (getattr(settings, "BATON_BASE_URL", "") or "").rstrip("/")
    link = f"{base}/sla/reports/{run.pk}/"
    with translation.override(settings.LANGUAGE_CODE):
        title, text = summary_text(run)
        people = list(schedule.recipients.filter(is_active=True))
        notify(users=people, title=title, text=text, link=link, key=f"report:{run.pk}", bots_too=False)
        emails = sorted({u.email for u in people if u.email})
        for channel in schedule.channels.filter(active=True):
            if channel.kind == Channel.Kind.EMAIL:
                if not emails:
                    continue
                attachments = [{"name": run.excel.name, "filename": run.excel.name.rsplit("/", 1)[-1],
                                "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}] \
                    if run.excel else []
                body = text + "\n\n" + "\n".join(f"{label}: {definition}" for label, definition in
                                                  DEFINITIONS.values()) \
                    if run.kind == ReportSchedule.Kind.WEEKLY_HEALTH else text
                outbox_enqueue(channel=channel, title=title, text=body, link=link, to=emails,
                               key=f"report:{run.pk}:{channel.pk}", attachments=attachments)
            else:
                outbox_enqueue(channel=channel, title=title, text=text, link=link, key=f"report:{run.pk}:{channel.pk}")


def report_run(*, kind: str, slot, schedule: ReportSchedule | None = None, name: str = "") -> ReportRun:
    """Compute one report for `slot`, keep it (figures + Excel) and deliver it."""
    run = ReportRun(schedule=schedule, kind=kind, name=name or (schedule.name if schedule else kind), slot=slot,
                    created_at=clock.now())
    try:
        with translation.override(settings.LANGUAGE_CODE):
            if kind == ReportSchedule.Kind.WEEKLY_HEALTH:
                run.figures = weekly_health(slot)
                run.period_start, run.period_end = slot - timedelta(days=7), slot
            else:
                run.figures = daily_top20(slot)
                run.period_end = slot
            data = _excel(run)
    except Exception as exc:  # keep the failure visible in the history
        log.exception("report %s failed", kind)
        run.status, run.error = ReportRun.Status.FAILED, f"{type(exc).__name__}: {exc}"
        run.save()
        return run
    with transaction.atomic():
        run.save()
        run.excel.save(f"{kind}-{timezone.localtime(slot):%Y%m%d-%H%M}.xlsx", ContentFile(data), save=True)
        _deliver(run, schedule)
    return run


def due_slot(schedule: ReportSchedule, now):
    """The latest cron time ≤ now in the schedule's time zone, if it was not run yet (else None)."""
    from croniter import croniter

    local = now.astimezone(ZoneInfo(schedule.time_zone))
    slot = croniter(schedule.cron, local).get_prev(type(local))
    if croniter.match(schedule.cron, local.replace(second=0, microsecond=0)):
        slot = local.replace(second=0, microsecond=0)
    floor = schedule.last_slot or schedule.created_at
    if slot <= floor:
        return None
    return slot


def reports_run_due(now=None) -> list[ReportRun]:
    """Run every schedule whose cron time has come since its last run (each slot once, even with two workers)."""
    now = now or clock.now()
    runs = []
    for schedule in ReportSchedule.objects.filter(active=True).order_by("id"):
        slot = due_slot(schedule, now)
        if slot is None:
            continue
        claimed = ReportSchedule.objects.filter(pk=schedule.pk).filter(
            Q(last_slot__isnull=True) | Q(last_slot__lt=slot)).update(last_slot=slot)
        if not claimed:
            continue
        try:
            with clock.frozen(now):
                runs.append(report_run(kind=schedule.kind, slot=slot, schedule=schedule))
        except IntegrityError:  # the slot already ran
            continue
    return runs
