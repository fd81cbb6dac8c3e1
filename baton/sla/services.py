"""SLA policies, the scanner and the escalation steps.

The scanner works per policy and level with set-based queries: open items matching the condition whose clock
started, has not stopped, and is past the level's threshold, and which have no crossing of that level for
this clock cycle yet. For 24×7 calendars the threshold test is in SQL; for working-hours calendars SQL keeps
a conservative bound (calendar time is never shorter than wall time) and Python computes the exact due time.
Crossings are inserted with ON CONFLICT DO NOTHING under a per-scan token; only rows carrying this scan's
token fire, so re-running a scan or two workers scanning at once never fire a step twice.
"""

import json
import logging
import uuid
from collections import defaultdict
from datetime import UTC, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from baton.conditions.compiler import to_q
from baton.core import clock
from baton.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import _ensure_in_scope, create_object, record, update_object

from .clocks import calendar_for, spec_for
from .models import CalendarKind, HolidayOverride, SlaCrossing, SlaPolicy, SlaReasonCode, Target
from .recipients import notify_step

log = logging.getLogger(__name__)

DEFAULTS = [
    {"code": "unassigned", "name": gettext_noop("Unassigned > 2 h"), "target": Target.LEADS, "condition": {},
     "start_event": "created", "stop_event": "assigned", "target_seconds": 2 * 3600,
     "escalation": [{"at": 100, "actions": ["notify_ops"]}, {"at": 200, "actions": ["notify_ops"]}]},
    {"code": "first_contact", "name": gettext_noop("Assigned, no first contact > 4 h"), "target": Target.LEADS,
     "condition": {}, "start_event": "assigned", "stop_event": "first_contact", "target_seconds": 4 * 3600,
     "calendar": CalendarKind.WORKING_HOURS,
     "escalation": [{"at": 100, "actions": ["notify_owner", "notify_manager"]},
                    {"at": 200, "actions": ["return_to_pool"]}]},
    {"code": "status_update", "name": gettext_noop("No status update > 24 h"), "target": Target.LEADS, "condition": {},
     "start_event": "last_update", "stop_event": "any_update", "target_seconds": 24 * 3600,
     "escalation": [{"at": 100, "actions": ["notify_owner", "notify_manager"]},
                    {"at": 200, "actions": ["manager_task"]}]},
    {"code": "a_grade_first_contact", "name": gettext_noop("A-grade: first contact within 2 h"), "target": Target.LEADS,
     "condition": {"field": "grade", "op": "eq", "value": "A"}, "start_event": "created",
     "stop_event": "first_contact", "target_seconds": 2 * 3600,
     "escalation": [{"at": 100, "actions": ["notify_owner", "notify_manager"]},
                    {"at": 200, "actions": ["manager_task"]}]},
]


def _require_admin(actor):
    if actor is not None and not (actor.is_superuser or actor.has_role("ops")):
        raise PermissionDenied()


def sla_install_defaults() -> int:
    """Create the shipped policies that are missing (by code); never touches edited ones."""
    created = 0
    for spec in DEFAULTS:
        data = dict(spec)
        code = data.pop("code")
        if SlaPolicy.objects.filter(code=code).exists():
            continue
        with translation.override(settings.LANGUAGE_CODE):
            data["name"] = _(data["name"])
        policy = SlaPolicy(code=code, **data)
        policy.full_clean()
        policy.save()
        created += 1
    return created


def policy_create(*, actor, source=ChangeSource.UI, **data) -> SlaPolicy:
    _require_admin(actor)
    return create_object(SlaPolicy, actor=actor, source=source, data=data, check_scope=False)


def policy_update(*, policy: SlaPolicy, actor, source=ChangeSource.UI, **data) -> dict:
    _require_admin(actor)
    with transaction.atomic():
        changes = update_object(policy, actor=actor, source=source, data=data, check_scope=False)
        if changes:  # a changed clock is looked at in full by the next scan (no high-water mark)
            SlaPolicy.objects.filter(pk=policy.pk).update(version=policy.version + 1, scanned_until=None)
            policy.version += 1
            policy.scanned_until = None
    return changes


def holiday_set(*, actor, day, is_workday: bool, name: str = "", source=ChangeSource.UI) -> HolidayOverride:
    _require_admin(actor)
    # Working-hours due times move with the calendar: those clocks are looked at in full by the next scan.
    SlaPolicy.objects.filter(calendar=CalendarKind.WORKING_HOURS).update(scanned_until=None)
    existing = HolidayOverride.objects.filter(date=day).first()
    if existing:
        update_object(existing, actor=actor, source=source, data={"is_workday": is_workday, "name": name},
                      check_scope=False)
        return existing
    return create_object(HolidayOverride, actor=actor, source=source, check_scope=False,
                         data={"date": day, "is_workday": is_workday, "name": name})


# --- The scanner --------------------------------------------------------------------------------------------

LATE_MARGIN = timedelta(minutes=5)  # items touched just before the last scan may have committed after it read


def _latest_start(cal, seconds: float, t):
    """The latest clock start whose `seconds` of calendar time have run out by `t` (due ≤ t): due times grow
    with the start, so the starts due in (a, b] are exactly (_latest_start(a), _latest_start(b)]."""
    hi = t - timedelta(seconds=seconds)  # calendar time is never shorter than wall time: due(hi) ≥ t
    if cal.kind != CalendarKind.WORKING_HOURS or cal.add(hi, seconds) <= t:
        return hi
    lo = hi
    for _i in range(200):
        lo -= timedelta(days=30)
        if cal.add(lo, seconds) <= t:
            break
    else:
        return lo
    while hi - lo > timedelta(milliseconds=1):
        mid = lo + (hi - lo) / 2
        if cal.add(mid, seconds) <= t:
            lo = mid
        else:
            hi = mid
    return lo


def _base(policy: SlaPolicy):
    """Open items matching the policy's condition whose clock runs, annotated with `_sla_start` (partial indexes)."""
    spec = spec_for(policy.target)
    base = spec.model.objects.extra(where=[spec.open_where()]).order_by()
    if policy.condition:
        base = base.filter(to_q(spec.model, policy.condition))
    return spec.running(base.annotate(_sla_start=spec.start_expr(policy.start_event))
                        .filter(_sla_start__isnull=False), policy.stop_event)


def _in_sql(policy: SlaPolicy, levels) -> bool:
    """24×7 levels of whole seconds: the due time is computed in SQL, exactly (microseconds kept)."""
    return policy.calendar != CalendarKind.WORKING_HOURS and all(float(s).is_integer() for _l, s in levels)


def _execute_returning(sql: str, params) -> list[tuple]:
    """Run a crossing insert and fetch its RETURNING rows. On PostgreSQL they are read with psycopg's own (C)
    timestamptz loader: Django's Python one costs ~10 µs a value, most of a 50,000-crossing scan; with the
    session in UTC (Django's default) both give the same aware datetimes."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.timezone == UTC:
            from psycopg import adapters, pq
            from psycopg.postgres import types

            cursor.cursor.adapters.register_loader(
                "timestamptz", adapters.get_loader(types["timestamptz"].oid, pq.Format.TEXT))
        cursor.execute(sql, params)
        return cursor.fetchall()


def _insert_select(policy: SlaPolicy, qs, levels, now, token: str) -> list[tuple]:
    """INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING straight from the candidate query, every level in one
    statement: the candidates (filtered to starts ≤ the latest level's bound) are read once and joined to the
    levels they are past, and no row travels to Python but the ones this statement inserted (the crossings
    this scan fires). `levels` is [(level, seconds, latest start due by now)]."""
    inner, params = qs.values_list("pk", "_sla_start", "owner_id").query.sql_with_params()
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s::varchar, %s::float8, %s::timestamptz)"] * len(levels))
        lparams = [p for level, secs, hi in levels for p in (level, float(secs), hi)]
        sql = (f"INSERT INTO sla_slacrossing ({_COLS}) SELECT %s, s.pk, %s, l.level, s._sla_start, "
               f"s._sla_start + make_interval(secs => l.secs), %s, '', %s, s.owner_id FROM ({inner}) s "
               f"JOIN (VALUES {values}) AS l(level, secs, hi) ON s._sla_start <= l.hi "
               f"ON CONFLICT DO NOTHING RETURNING {_returning(due=False)}")
    else:  # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC): keep the fraction datetime() drops
        values = ", ".join(["(%s, %s, %s)"] * len(levels))
        lparams = [p for level, secs, hi in levels for p in (level, f"+{int(secs)} seconds", adapt(hi))]
        sql = (f"INSERT INTO sla_slacrossing ({_COLS}) SELECT %s, s.pk, %s, l.column1, s._sla_start, "
               f"datetime(s._sla_start, l.column2) || substr(s._sla_start, 20), %s, '', %s, s.owner_id "
               f"FROM ({inner}) s JOIN (VALUES {values}) AS l ON s._sla_start <= l.column3 WHERE true "
               f"ON CONFLICT DO NOTHING RETURNING {_returning(due=False)}")
    return _execute_returning(sql, [policy.target, policy.pk, adapt(now), token, *params, *lparams])


def _scan_policy(policy: SlaPolicy, now, since, overrides: dict, token: str) -> list[tuple]:
    """Record the crossings of one policy's levels that fell due in (since, now] (all due by `now` when `since`
    is None), plus those of items touched since the last scan (a late import, a reopened lead). 24×7 levels:
    one INSERT … SELECT for all levels (and one per level's window); working-hours levels: exact due times in
    Python."""
    levels = [(level, policy.target_seconds * pct / 100) for level, pct, _a in policy.levels()]
    base = _base(policy)
    if not _in_sql(policy, levels):
        rows = _candidates(policy, base, levels, now, since, overrides)
        return _record(policy, rows, now, token) if rows else []
    slack = timedelta(seconds=1)
    bounds = [(level, secs, now - timedelta(seconds=secs)) for level, secs in levels]
    latest = max(hi for _l, _s, hi in bounds)
    if since is None:
        return _insert_select(policy, base.filter(_sla_start__lte=latest), bounds, now, token)
    out = []
    for level, secs, hi in bounds:  # one range per level: an OR of ranges would lose the index on SQLite
        lo = since - slack - timedelta(seconds=secs)
        if hi > lo:
            out += _insert_select(policy, base.filter(_sla_start__gt=lo, _sla_start__lte=hi), [(level, secs, hi)],
                                  now, token)
    out += _insert_select(policy, base.filter(updated_at__gt=since - LATE_MARGIN, _sla_start__lte=latest), bounds,
                          now, token)
    return out


def _candidates(policy: SlaPolicy, base, levels, now, since, overrides: dict) -> list[tuple]:
    """Working-hours calendars: (pk, start, owner, level, due) for each level of a running clock that fell due
    in (since, now]; all levels due by `now` when `since` is None. One query per level over the partial indexes
    of open items with tight bounds on the start (calendar time is never shorter than wall time), and the items
    touched since the last scan; Python computes the exact due times."""
    cal = calendar_for(policy, overrides)
    slack = timedelta(seconds=1)
    upper = max(_latest_start(cal, secs, now) for _l, secs in levels) + slack
    fields = ("pk", "_sla_start", "owner_id")
    if since is None:
        queries = [(base.filter(_sla_start__lte=upper), None)]
    else:
        queries = []
        for _level, secs in levels:  # one range per level: an OR of ranges would lose the index on SQLite
            lo, hi = _latest_start(cal, secs, since - slack), _latest_start(cal, secs, now) + slack
            if hi > lo:
                queries.append((base.filter(_sla_start__gt=lo, _sla_start__lte=hi), since))
        queries.append((base.filter(updated_at__gt=since - LATE_MARGIN), None))  # Python checks the due times
    out, seen = [], set()
    for qs, after in queries:
        for pk, start, owner in qs.values_list(*fields).iterator(chunk_size=5000):
            for level, secs in levels:
                if (pk, level) in seen:
                    continue
                due = cal.add(start, secs)
                if due <= now and (after is None or due > after - slack):
                    seen.add((pk, level))
                    out.append((pk, start, owner, level, due))
    return out


_COLS = ("item_type, item_id, policy_id, level, cycle_start, due_at, crossed_at, resolution, scan_token, "
         "owner_id_at_crossing")


def _returning(*, due: bool) -> str:
    """What a crossing insert returns: only what the escalation needs (every value is a Python object to
    build, 50,000 rows at a time). The 24×7 inserts leave out the due time, which is the cycle start plus the
    level's seconds (`_crossings`). SQLite declares the timestamps `datetime`, so Django's converter would parse
    each one as it is fetched; as expressions they come back as the stored text, parsed only for the rows a
    scan fires."""
    cols = ["cycle_start"] + (["due_at"] if due else [])
    if connection.vendor == "sqlite":
        cols = [f"CAST({c} AS TEXT)" for c in cols]
    return ", ".join(["id", "item_id", "level", *cols])


def _record(policy: SlaPolicy, rows: list[tuple], now, token: str) -> list[tuple]:
    """Insert the crossings once (ON CONFLICT DO NOTHING on item × policy × level × cycle) in one statement per
    chunk; returns only the rows this call inserted — the ones whose escalation this scan fires — as
    (id, item_id, level, cycle_start, due_at) in the database's raw form (no model instances: cheap)."""
    out = []
    adapt = connection.ops.adapt_datetimefield_value
    cols = _COLS
    for i in range(0, len(rows), 20000):
        chunk = rows[i:i + 20000]
        if connection.vendor == "postgresql":
            sql = (f"INSERT INTO sla_slacrossing ({cols}) SELECT %s, t.item_id, %s, t.level, t.cycle_start, t.due_at, "
                   f"%s, '', %s, t.owner_id FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], "
                   f"%s::timestamptz[], %s::bigint[]) AS t(item_id, level, cycle_start, due_at, owner_id) "
                   f"ON CONFLICT DO NOTHING RETURNING " + _returning(due=True))
            params = [policy.target, policy.pk, now, token, [r[0] for r in chunk], [r[3] for r in chunk],
                      [r[1] for r in chunk], [r[4] for r in chunk], [r[2] for r in chunk]]
        else:
            sql = (f"INSERT INTO sla_slacrossing ({cols}) SELECT %s, json_extract(j.value, '$[0]'), %s, "
                   f"json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), "
                   f"%s, '', %s, json_extract(j.value, '$[4]') FROM json_each(%s) AS j WHERE true "
                   f"ON CONFLICT DO NOTHING RETURNING " + _returning(due=True))
            params = [policy.target, policy.pk, adapt(now), token,
                      json.dumps([[pk, level, adapt(start), adapt(due), owner]
                                  for pk, start, owner, level, due in chunk])]
        out += _execute_returning(sql, params)
    return out


def _crossings(mine, now, token) -> list[SlaCrossing]:
    """Unsaved-looking SlaCrossing instances for the rows each policy's inserts returned (what `_fire` reads;
    it never reads `owner_id_at_crossing`, which is not returned)."""
    parse = connection.ops.convert_datetimefield_value if connection.vendor != "postgresql" else None
    out = []
    for policy, rows in mine:
        seconds = {level: policy.target_seconds * pct / 100 for level, pct, _a in policy.levels()}
        for pk, item_id, level, cycle_start, *due in rows:
            if parse is not None:
                cycle_start, due = parse(cycle_start, None, connection), [parse(d, None, connection) for d in due]
            due_at = due[0] if due else cycle_start + timedelta(seconds=seconds[level])  # as the INSERT computed it
            c = SlaCrossing(pk=pk, item_type=policy.target, item_id=item_id, policy=policy, level=level,
                            cycle_start=cycle_start, due_at=due_at, crossed_at=now, scan_token=token)
            c._state.adding = False
            out.append(c)
    return out


def _touched(target: str, after) -> list[int]:
    """Open items touched after `after`, over the partial indexes of open items: updated, a status change or an
    activity (the last-update expression), an assignment still waiting for its first contact. A first contact or
    a closure is resolved on the write path (`sla_resolve_on_commit`); the hourly full pass catches the rest."""
    spec = spec_for(target)
    base = spec.model.objects.extra(where=[spec.open_where()]).order_by()
    queries = [base.filter(updated_at__gt=after)]
    if target == Target.LEADS:
        queries += [base.annotate(_lu=spec.start_expr("last_update")).filter(_lu__gt=after),
                    base.filter(first_contact_at__isnull=True, assigned_at__gt=after)]
    else:
        queries += [base.filter(stage_entered_at__gt=after)]
    ids = set()
    for qs in queries:
        ids.update(qs.values_list("pk", flat=True))
    return sorted(ids)


def _resolve(policy: SlaPolicy, now, touched: list[int] | None) -> int:
    """Open crossings whose clock is no longer running (stopped, restarted, closed, condition gone): of every
    open crossing of the policy when `touched` is None (a full pass), else only of the touched items."""
    spec = spec_for(policy.target)
    running = spec.model.objects.filter(spec.open_q(), pk=OuterRef("item_id"))
    if policy.condition:
        running = running.filter(to_q(spec.model, policy.condition))
    running = (running.annotate(_sla_start=spec.start_expr(policy.start_event))
               .filter(_sla_start=OuterRef("cycle_start")).exclude(spec.stopped_q(policy.stop_event)))
    open_ = SlaCrossing.objects.filter(policy=policy, resolved_at__isnull=True)
    if touched is None:
        ids = list(open_.filter(~Exists(running)).values_list("pk", flat=True))
    else:
        ids = []
        for i in range(0, len(touched), 5000):
            ids += open_.filter(item_type=policy.target, item_id__in=touched[i:i + 5000]).filter(
                ~Exists(running)).values_list("pk", flat=True)
    if not ids:
        return 0
    return _close(ids, now, "stopped", policies={policy.pk: policy})


def sla_scan(now=None, *, fire=True, full=False) -> dict:
    """One scan: resolve stopped clocks, record new crossings once, fire their escalation steps.

    Each policy keeps a high-water mark (`scanned_until`): a scan looks only at levels that fell due since the
    last one, at items touched since, and resolves only the alerts of touched items, so a quiet minute costs
    next to nothing; `full=True` (hourly, see tasks.py), no mark, or a scan before the mark looks at every
    running clock and every open alert again. Either way the unique crossing and this scan's RETURNING rows
    make re-runs and concurrent workers fire each step once."""
    now = now or clock.now()
    token = uuid.uuid4().hex
    stats = {"new": 0, "resolved": 0, "fired": 0}
    overrides = dict(HolidayOverride.objects.values_list("date", "is_workday"))
    policies = list(SlaPolicy.objects.filter(active=True).order_by("id"))
    touched = {}
    mine = []
    with clock.frozen(now):  # conditions with relative times read the scan's time
        for policy in policies:
            mark = policy.scanned_until
            since = None if full or mark is None or mark > now else mark
            if since is None:
                stats["resolved"] += _resolve(policy, now, None)
            else:
                key = (policy.target, since)
                if key not in touched:
                    touched[key] = _touched(policy.target, since - LATE_MARGIN)
                if touched[key]:
                    stats["resolved"] += _resolve(policy, now, touched[key])
            # (policy, rows) pairs, not a pair per row: 50,000 more tracked objects cost a full garbage collection
            mine.append((policy, _scan_policy(policy, now, since, overrides, token)))
            if mark is None or mark < now:
                SlaPolicy.objects.filter(pk=policy.pk).filter(
                    Q(scanned_until__isnull=True) | Q(scanned_until__lt=now)).update(scanned_until=now)
        stats["new"] = sum(len(rows) for _p, rows in mine)
        if fire and stats["new"]:
            stats["fired"] = _fire(_crossings(mine, now, token), now)
    return stats


# --- Escalation -----------------------------------------------------------------------------------------------


def _base_url() -> str:
    return getattr(settings, "BATON_BASE_URL", "").rstrip("/")


def _link(crossing) -> str:
    """Deep link to the item's row on the timeliness board, where transfer and reason are one click."""
    return _base_url() + f"/sla/board/?item={crossing.item_type}:{crossing.item_id}"


def _manager_of(user):
    if user is None:
        return None
    if user.manager_id:
        return user.manager
    if user.team_id and user.team.manager_id and user.team.manager_id != user.pk:
        return user.team.manager
    return None


def _ops_users():
    from baton.org.models import User

    return list(User.objects.filter(is_active=True, roles__code="ops").distinct())


class _Outbox:
    """The notifications of one scan's escalation, written in bulk: the same rows `notify` writes (in-app
    notification per recipient and key, one outbox message per channel in scope and key), a few statements for
    thousands of alerts instead of a few per alert."""

    def __init__(self, now):
        from baton.notifications.models import Channel

        self.now = now
        self.channels = list(Channel.objects.filter(active=True))
        self.inbox, self.outbox = [], []

    def notify(self, *, users, title, text, link, key, team, region_id, bots_too):
        from baton.notifications.models import Channel, Notification, OutboxMessage
        from baton.notifications.services import _in_app

        people = list({u.pk: u for u in users if u is not None and u.is_active}.values())
        self.inbox += [Notification(recipient=u, title=title[:200], body=text, link=_in_app(link), key=key[:120],
                                    created_at=self.now) for u in people]
        if not bots_too:
            return
        for channel in self.channels:
            if not ((channel.team_id is None and channel.region_id is None)
                    or (team is not None and channel.team_id == team.pk)
                    or (region_id is not None and channel.region_id == region_id and channel.team_id is None)):
                continue
            payload = {"title": title, "text": text, "link": link}
            if channel.kind == Channel.Kind.EMAIL:
                payload["to"] = sorted({u.email for u in people if u.email})
                if not payload["to"]:
                    continue
            self.outbox.append(OutboxMessage(channel=channel, payload=payload, dedupe_key=f"{key}:{channel.pk}"[:200],
                                             created_at=self.now, next_attempt_at=self.now))

    def flush(self):
        from baton.notifications.models import Notification, OutboxMessage

        Notification.objects.bulk_create(self.inbox, ignore_conflicts=True, batch_size=2000)
        OutboxMessage.objects.bulk_create(self.outbox, ignore_conflicts=True, batch_size=2000)
        self.inbox, self.outbox = [], []


def _fire(crossings, now) -> int:
    """Run the actions of newly recorded crossings. When one scan records several levels of one clock
    (the scanner was down), the warning is skipped: the higher level says more."""
    by_clock = defaultdict(list)
    for c in crossings:
        by_clock[(c.item_type, c.item_id, c.policy_id, c.cycle_start)].append(c)
    items = {}
    for target in (Target.LEADS, Target.OPPORTUNITIES):
        ids = sorted({c.item_id for c in crossings if c.item_type == target})
        if ids:
            model = spec_for(target).model
            items[target] = {}
            for i in range(0, len(ids), 5000):
                items[target].update(model.objects.select_related("owner__manager", "owner__team__manager")
                                     .in_bulk(ids[i:i + 5000]))
    fired = 0
    box = _Outbox(now)
    ops = []
    actions_of = {}
    with translation.override(settings.LANGUAGE_CODE):
        for group in by_clock.values():
            levels = {c.level for c in group}
            for c in group:
                if c.level == "warning" and len(levels) > 1:
                    continue
                item = items.get(c.item_type, {}).get(c.item_id)
                if item is None:
                    continue
                if (c.policy_id, c.level) not in actions_of:
                    actions_of[(c.policy_id, c.level)] = next(
                        (a for lv, _p, a in c.policy.levels() if lv == c.level), [])
                for action in actions_of[(c.policy_id, c.level)]:
                    try:
                        if action == "notify_ops" and not ops:
                            ops = _ops_users() or [None]
                        _run_action(action, c, item, now, box=box, ops=ops)
                        fired += 1
                    except Exception:  # one failing action must not stop the others
                        log.exception("SLA action %s failed for crossing %s", action, c.pk)
        box.flush()
    return fired


def _describe(c, item, now) -> tuple[str, str]:
    from django.utils import timezone

    level = {"warning": _("due soon"), "breach": _("overdue")}.get(c.level, _("overdue, escalated"))
    title = _("[SLA] %(policy)s: %(item)s %(level)s") % {"policy": c.policy.name, "item": item, "level": level}
    lines = [
        _("Policy: %(p)s") % {"p": c.policy.name},
        _("Due: %(t)s") % {"t": timezone.localtime(c.due_at).strftime("%Y-%m-%d %H:%M")},
        _("Owner: %(o)s") % {"o": item.owner or _("nobody")},
    ]
    if getattr(item, "phone", ""):
        lines.append(_("Phone: %(p)s") % {"p": item.phone})
    return title, "\n".join(lines)


def _run_action(action: str, c: SlaCrossing, item, now, *, box: _Outbox, ops) -> None:
    owner = getattr(item, "owner", None)
    if getattr(c, "_described", None) is None:  # the owner's and the manager's message are the same text
        c._described = _describe(c, item, now)
    title, text = c._described
    team = owner.team if owner is not None and owner.team_id else None
    region_id = getattr(item, "region_id", None)
    key = f"sla:{c.pk}:{action}"
    if notify_step(action, c, item, box=box, title=title, text=text, link=_link(c), manager_of=_manager_of):
        return  # the step names its recipients (baton.sla.recipients)
    if action == "notify_owner":
        if owner is not None:
            box.notify(users=[owner], title=title, text=text, link=_link(c), key=key, team=team, region_id=region_id,
                       bots_too=c.level != "warning")
    elif action == "notify_manager":
        manager = _manager_of(owner)
        if manager is not None:
            # The bots already got the owner's message for this crossing: the manager hears it in app/e-mail.
            box.notify(users=[manager], title=title, text=text, link=_link(c), key=key, team=team,
                       region_id=region_id, bots_too=owner is None)
    elif action == "notify_ops":
        box.notify(users=[u for u in ops if u is not None], title=title, text=text, link=_link(c), key=key,
                   team=team, region_id=region_id, bots_too=c.level != "warning")
    elif action == "return_to_pool":
        if not _return_to_pool(c, item):
            _manager_task(c, item, title, text, now)
    elif action == "manager_task":
        _manager_task(c, item, title, text, now)


def _return_to_pool(c: SlaCrossing, item) -> bool:
    if c.item_type != Target.LEADS:
        return False
    from baton.assignment.models import Assignment
    from baton.assignment.services import lead_reassign

    last = Assignment.objects.filter(lead=item, pool__isnull=False, pool__active=True).order_by("-at", "-id").first()
    if last is None:
        return False
    try:
        lead_reassign(lead=item, actor=None, reason_code="performance", pool=last.pool, source=ChangeSource.JOB,
                      note=_("SLA “%(p)s” overdue") % {"p": c.policy.name})
    except DomainError as exc:
        log.info("SLA return to pool refused for lead %s: %s", item.pk, exc)
        return False
    SlaCrossing.objects.filter(pk=c.pk).update(resolution="returned_to_pool")
    return True


def _manager_task(c: SlaCrossing, item, title: str, text: str, now) -> None:
    from baton.activities.models import Task
    from baton.activities.services import task_create

    assignee = _manager_of(getattr(item, "owner", None)) or next(iter(_ops_users()), None)
    if assignee is None:
        return
    task_create(actor=None, source=ChangeSource.JOB, title=title[:200], description=text, assignee=assignee,
                origin=Task.Origin.SLA, due_at=now + timedelta(hours=1),
                linked_type=ContentType.objects.get_for_model(item), linked_id=item.pk)



# --- Resolving alerts: the stop event, a transfer, a recorded reason ---------------------------------------


def _alert_keys(crossings: list[tuple[int, SlaPolicy, str]]) -> list[str]:
    """The in-app notification keys the escalation of these (crossing id, policy, level) wrote."""
    keys = []
    for pk, policy, level in crossings:
        actions = next((a for lv, _p, a in policy.levels() if lv == level), [])
        keys += [f"sla:{pk}:{action}" for action in actions]
    return keys


def _close(ids, now, resolution: str, *, policies: dict | None = None) -> int:
    """Resolve open crossings `ids` and mark the in-app alerts they raised as read. Returns how many."""
    from baton.notifications.models import Notification

    n = 0
    ids = list(ids)
    for i in range(0, len(ids), 5000):
        chunk = ids[i:i + 5000]
        rows = list(SlaCrossing.objects.filter(pk__in=chunk, resolved_at__isnull=True)
                    .values_list("pk", "policy_id", "level"))
        if not rows:
            continue
        n += SlaCrossing.objects.filter(pk__in=[r[0] for r in rows], resolved_at__isnull=True).update(
            resolved_at=now, resolution=resolution[:200])
        if policies is None or not {r[1] for r in rows} <= set(policies):
            policies = {**(policies or {}), **SlaPolicy.objects.in_bulk({r[1] for r in rows})}
        keys = _alert_keys([(pk, policies[pid], level) for pk, pid, level in rows])
        for j in range(0, len(keys), 2000):
            Notification.objects.filter(key__in=keys[j:j + 2000], read_at__isnull=True).update(read_at=now)
    return n


def target_of(obj) -> str:
    from baton.leads.models import Lead

    return Target.LEADS if isinstance(obj, Lead) else Target.OPPORTUNITIES


def open_crossings(obj):
    return SlaCrossing.objects.filter(item_type=target_of(obj), item_id=obj.pk, resolved_at__isnull=True)


def sla_resolve_for(obj, *, now=None) -> int:
    """The write path's stop: resolve the item's open crossings whose clock no longer runs (stopped,
    restarted, closed, or the condition no longer holds). Called on commit by the lead and activity services."""
    from baton.conditions.compiler import to_predicate

    now = now or clock.now()
    target = target_of(obj)
    crossings = list(open_crossings(obj).select_related("policy"))
    if not crossings:
        return 0
    spec = spec_for(target)
    fresh = spec.model.objects.filter(pk=obj.pk).first()
    stale = []
    with clock.frozen(now):
        for c in crossings:
            policy = c.policy
            running = fresh is not None and policy.active and spec.is_open(fresh)
            if running and policy.condition:
                running = to_predicate(spec.model, policy.condition)(fresh)
            if running:
                start = spec.start(fresh, policy.start_event)
                running = start == c.cycle_start and spec.stop(fresh, policy.stop_event, start) is None
            if not running:
                stale.append(c.pk)
    return _close(stale, now, "stopped", policies={c.policy_id: c.policy for c in crossings})


def sla_resolve_on_commit(obj) -> None:
    """Schedule `sla_resolve_for` after the surrounding transaction commits (never fails the write)."""
    def run():
        try:
            sla_resolve_for(obj)
        except Exception:  # the scanner resolves it a minute later anyway
            log.exception("SLA resolve failed for %s #%s", type(obj).__name__, obj.pk)

    transaction.on_commit(run)


DEFAULT_REASON_CODES = [
    ("customer_later", gettext_noop("The customer asked to be called later")),
    ("unreachable", gettext_noop("Customer unreachable, trying again")),
    ("waiting_customer", gettext_noop("Waiting for information from the customer")),
    ("handled_elsewhere", gettext_noop("Handled elsewhere (duplicate, colleague)")),
    ("other", gettext_noop("Other (see the note)")),
]


def sla_reason_codes() -> list[SlaReasonCode]:
    """The active reason codes; the shipped ones are installed the first time."""
    if not SlaReasonCode.objects.exists():
        with translation.override(settings.LANGUAGE_CODE):
            for code, label in DEFAULT_REASON_CODES:
                SlaReasonCode.objects.get_or_create(code=code, defaults={"label": _(label)})
    return list(SlaReasonCode.objects.filter(active=True))


def _policy_names(ids) -> str:
    return ", ".join(sorted({c.policy.name for c in SlaCrossing.objects.filter(pk__in=ids)
                             .select_related("policy")}))


def sla_transfer(*, lead, actor, reason_code: str, to_user=None, pool=None, note: str = "",
                 source=ChangeSource.UI):
    """One click on an alert: give the lead to a person or back through a pool (audited by the
    reassignment, with its reason), and resolve the lead's open alerts."""
    from baton.assignment.services import lead_reassign

    now = clock.now()
    with transaction.atomic():
        ids = list(open_crossings(lead).values_list("pk", flat=True))
        assignment = lead_reassign(lead=lead, actor=actor, reason_code=reason_code, to_user=to_user, pool=pool,
                                   note=note, source=source)
        if ids:
            names = _policy_names(ids)
            _close(ids, now, f"transferred:{reason_code}")
            lead.refresh_from_db()
            record(lead, actor=actor, source=source, action="event",
                   message=_("SLA alert resolved by transfer to %(to)s: %(policies)s") % {
                       "to": assignment.user or _("nobody"), "policies": names})
    return assignment


def sla_record_reason(*, item, actor, reason_code: str, note: str = "", source=ChangeSource.UI) -> int:
    """One click on an alert: record why (a configurable reason code + note); audited, resolves the alert."""
    _ensure_in_scope(item, actor, "change")
    reason = next((r for r in sla_reason_codes() if r.code == reason_code), None)
    if reason is None:
        raise ValidationFailed(errors=[("reason_code", _("Choose a reason from the list."))])
    now = clock.now()
    with transaction.atomic():
        ids = list(open_crossings(item).values_list("pk", flat=True))
        if not ids:
            raise Conflict(_("This item has no open alert."), code="no_open_alert")
        names = _policy_names(ids)
        n = _close(ids, now, f"reason:{reason.code}")
        message = _("SLA alert (%(policies)s): %(reason)s") % {"policies": names, "reason": reason.label}
        if note:
            message += f" — {note}"
        record(item, actor=actor, source=source, action="event", message=message)
    return n


# --- Settings: reason codes, report schedules, holidays; opportunity transfer --------------------------------


def holiday_delete(*, actor, holiday: HolidayOverride, source=ChangeSource.UI) -> None:
    from baton.core.services import delete_object

    _require_admin(actor)
    SlaPolicy.objects.filter(calendar=CalendarKind.WORKING_HOURS).update(scanned_until=None)
    delete_object(holiday, actor=actor, source=source)


def reason_code_create(*, actor, source=ChangeSource.UI, **data) -> SlaReasonCode:
    _require_admin(actor)
    return create_object(SlaReasonCode, actor=actor, source=source, data=data, check_scope=False)


def reason_code_update(*, reason: SlaReasonCode, actor, source=ChangeSource.UI, **data) -> dict:
    _require_admin(actor)
    return update_object(reason, actor=actor, source=source, data=data, check_scope=False)


def schedule_create(*, actor, source=ChangeSource.UI, **data):
    from .models import ReportSchedule

    _require_admin(actor)
    return create_object(ReportSchedule, actor=actor, source=source, data=data, check_scope=False)


def schedule_update(*, schedule, actor, source=ChangeSource.UI, **data) -> dict:
    _require_admin(actor)
    return update_object(schedule, actor=actor, source=source, data=data, check_scope=False)


def cron_preview(cron: str, time_zone: str, *, now=None, n: int = 3) -> list:
    """The next `n` run times of a cron expression in a time zone, after `now` (the injected clock)."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    local = (now or clock.now()).astimezone(ZoneInfo(time_zone))
    it = croniter(cron, local)
    return [it.get_next(type(local)) for _i in range(n)]


def sla_transfer_opportunity(*, opportunity, actor, to_user, reason_code: str, note: str = "",
                             source=ChangeSource.UI):
    """One click on a deal's alert: give it to another owner (through `opportunity_update`, audited, in the
    actor's scope) with a reassignment reason, and resolve its open alerts."""
    from baton.assignment.services import reassign_reasons
    from baton.opportunities.services import opportunity_update

    reason = next((r for r in reassign_reasons() if r.code == reason_code), None)
    errors = []
    if reason is None:
        errors.append(("reason_code", _("Choose a reason from the list.")))
    if to_user is None or not to_user.is_active:
        errors.append(("to", _("Choose the new owner.")))
    elif to_user.pk == opportunity.owner_id:
        errors.append(("to", _("The deal already belongs to %(u)s.") % {"u": to_user}))
    if errors:
        raise ValidationFailed(errors=errors)
    now = clock.now()
    with transaction.atomic():
        ids = list(open_crossings(opportunity).values_list("pk", flat=True))
        opportunity_update(opportunity=opportunity, actor=actor, source=source, owner=to_user)
        message = _("Transferred to %(to)s: %(reason)s") % {"to": to_user, "reason": reason.label}
        if ids:
            message += " — " + _("SLA alert resolved: %(policies)s") % {"policies": _policy_names(ids)}
            _close(ids, now, f"transferred:{reason.code}")
        if note:
            message += f" — {note}"
        record(opportunity, actor=actor, source=source, action="event", message=message)
    return opportunity
