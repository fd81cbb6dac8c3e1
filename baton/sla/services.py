"""SLA policies, the scanner and the escalation steps.

The scanner works per policy and level with set-based queries: open items matching the condition whose clock
started, has not stopped, and is past the level's threshold, and which have no crossing of that level for
this clock cycle yet. For 24×7 calendars the threshold test is in SQL; for working-hours calendars SQL keeps
a conservative bound (calendar time is never shorter than wall time) and Python computes the exact due time.
Crossings are inserted with ON CONFLICT DO NOTHING under a per-scan token; only rows carrying this scan's
token fire, so re-running a scan or two workers scanning at once never fire a step twice.
"""

import logging
import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import translation
from django.utils.translation import gettext as _

from baton.conditions.compiler import to_q
from baton.core import clock
from baton.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import _ensure_in_scope, create_object, record, update_object

from .clocks import calendar_for, spec_for
from .models import CalendarKind, HolidayOverride, SlaCrossing, SlaPolicy, SlaReasonCode, Target

log = logging.getLogger(__name__)

DEFAULTS = [
    {"code": "unassigned", "name": "Unassigned > 2 h", "target": Target.LEADS, "condition": {},
     "start_event": "created", "stop_event": "assigned", "target_seconds": 2 * 3600,
     "escalation": [{"at": 100, "actions": ["notify_ops"]}, {"at": 200, "actions": ["notify_ops"]}]},
    {"code": "first_contact", "name": "Assigned, no first contact > 4 h", "target": Target.LEADS,
     "condition": {}, "start_event": "assigned", "stop_event": "first_contact", "target_seconds": 4 * 3600,
     "calendar": CalendarKind.WORKING_HOURS,
     "escalation": [{"at": 100, "actions": ["notify_owner", "notify_manager"]},
                    {"at": 200, "actions": ["return_to_pool"]}]},
    {"code": "status_update", "name": "No status update > 24 h", "target": Target.LEADS, "condition": {},
     "start_event": "last_update", "stop_event": "any_update", "target_seconds": 24 * 3600,
     "escalation": [{"at": 100, "actions": ["notify_owner", "notify_manager"]},
                    {"at": 200, "actions": ["manager_task"]}]},
    {"code": "a_grade_first_contact", "name": "A-grade: first contact within 2 h", "target": Target.LEADS,
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
        if changes:
            SlaPolicy.objects.filter(pk=policy.pk).update(version=policy.version + 1)
            policy.version += 1
    return changes


def holiday_set(*, actor, day, is_workday: bool, name: str = "", source=ChangeSource.UI) -> HolidayOverride:
    _require_admin(actor)
    existing = HolidayOverride.objects.filter(date=day).first()
    if existing:
        update_object(existing, actor=actor, source=source, data={"is_workday": is_workday, "name": name},
                      check_scope=False)
        return existing
    return create_object(HolidayOverride, actor=actor, source=source, check_scope=False,
                         data={"date": day, "is_workday": is_workday, "name": name})


# --- The scanner --------------------------------------------------------------------------------------------


def _candidates(policy: SlaPolicy, level: str, pct: int, now, overrides: dict):
    spec = spec_for(policy.target)
    threshold = timedelta(seconds=policy.target_seconds * pct / 100)
    qs = spec.model.objects.filter(spec.open_q())
    if policy.condition:
        qs = qs.filter(to_q(spec.model, policy.condition))
    already = SlaCrossing.objects.filter(item_type=policy.target, item_id=OuterRef("pk"), policy=policy,
                                         level=level, cycle_start=OuterRef("_sla_start"))
    qs = (qs.annotate(_sla_start=spec.start_expr(policy.start_event))
          .filter(_sla_start__isnull=False, _sla_start__lte=now - threshold)
          .exclude(spec.stopped_q(policy.stop_event))
          .filter(~Exists(already)))
    rows = qs.values_list("pk", "_sla_start", "owner_id")
    if policy.calendar != CalendarKind.WORKING_HOURS:
        return [(pk, start, owner, start + threshold) for pk, start, owner in rows.iterator(chunk_size=5000)]
    cal = calendar_for(policy, overrides)
    out = []
    for pk, start, owner in rows.iterator(chunk_size=5000):
        due = cal.add(start, threshold.total_seconds())
        if due <= now:
            out.append((pk, start, owner, due))
    return out


def _resolve(policy: SlaPolicy, now) -> int:
    """Open crossings whose clock is no longer running (stopped, restarted, closed, condition gone)."""
    spec = spec_for(policy.target)
    running = spec.model.objects.filter(spec.open_q(), pk=OuterRef("item_id"))
    if policy.condition:
        running = running.filter(to_q(spec.model, policy.condition))
    running = (running.annotate(_sla_start=spec.start_expr(policy.start_event))
               .filter(_sla_start=OuterRef("cycle_start")).exclude(spec.stopped_q(policy.stop_event)))
    open_ = SlaCrossing.objects.filter(policy=policy, resolved_at__isnull=True)
    stale = open_.filter(~Exists(running)).values_list("pk", flat=True)
    ids = list(stale)
    if not ids:
        return 0
    return _close(ids, now, "stopped", policies={policy.pk: policy})


def sla_scan(now=None, *, fire=True) -> dict:
    """One scan: resolve stopped clocks, record new crossings once, fire their escalation steps."""
    now = now or clock.now()
    token = uuid.uuid4().hex
    stats = {"new": 0, "resolved": 0, "fired": 0}
    overrides = dict(HolidayOverride.objects.values_list("date", "is_workday"))
    policies = list(SlaPolicy.objects.filter(active=True).order_by("id"))
    with clock.frozen(now):  # conditions with relative times read the scan's time
        for policy in policies:
            stats["resolved"] += _resolve(policy, now)
            for level, pct, _actions in policy.levels():
                rows = _candidates(policy, level, pct, now, overrides)
                if not rows:
                    continue
                SlaCrossing.objects.bulk_create(
                    [SlaCrossing(item_type=policy.target, item_id=pk, policy=policy, level=level, cycle_start=start,
                                 due_at=due, crossed_at=now, scan_token=token, owner_id_at_crossing=owner)
                     for pk, start, owner, due in rows], ignore_conflicts=True, batch_size=2000)
        mine = list(SlaCrossing.objects.filter(scan_token=token).select_related("policy"))
        stats["new"] = len(mine)
        if fire and mine:
            stats["fired"] = _fire(mine, now)
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


def _fire(crossings, now) -> int:
    """Run the actions of newly recorded crossings. When one scan records several levels of one clock
    (the scanner was down), the warning is skipped: the higher level says more."""
    by_clock = defaultdict(list)
    for c in crossings:
        by_clock[(c.item_type, c.item_id, c.policy_id, c.cycle_start)].append(c)
    items = {}
    for target in (Target.LEADS, Target.OPPORTUNITIES):
        ids = {c.item_id for c in crossings if c.item_type == target}
        if ids:
            model = spec_for(target).model
            items[target] = model.objects.select_related("owner__manager", "owner__team__manager").in_bulk(ids)
    fired = 0
    with translation.override(settings.LANGUAGE_CODE):
        for group in by_clock.values():
            levels = {c.level for c in group}
            for c in group:
                if c.level == "warning" and len(levels) > 1:
                    continue
                item = items.get(c.item_type, {}).get(c.item_id)
                if item is None:
                    continue
                actions = next((a for lv, _p, a in c.policy.levels() if lv == c.level), [])
                for action in actions:
                    try:
                        _run_action(action, c, item, now)
                        fired += 1
                    except Exception:  # one failing action must not stop the others
                        log.exception("SLA action %s failed for crossing %s", action, c.pk)
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


def _run_action(action: str, c: SlaCrossing, item, now) -> None:
    from baton.notifications.services import notify

    owner = getattr(item, "owner", None)
    title, text = _describe(c, item, now)
    team = owner.team if owner is not None and owner.team_id else None
    region = getattr(item, "region", None)
    key = f"sla:{c.pk}:{action}"
    if action == "notify_owner":
        if owner is not None:
            notify(users=[owner], title=title, text=text, link=_link(c), key=key, team=team, region=region,
                   bots_too=c.level != "warning")
    elif action == "notify_manager":
        manager = _manager_of(owner)
        if manager is not None:
            # The bots already got the owner's message for this crossing: the manager hears it in app/e-mail.
            notify(users=[manager], title=title, text=text, link=_link(c), key=key, team=team, region=region,
                   bots_too=owner is None)
    elif action == "notify_ops":
        notify(users=_ops_users(), title=title, text=text, link=_link(c), key=key, team=team, region=region,
               bots_too=c.level != "warning")
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
    ("customer_later", "The customer asked to be called later"),
    ("unreachable", "Customer unreachable, trying again"),
    ("waiting_customer", "Waiting for information from the customer"),
    ("handled_elsewhere", "Handled elsewhere (duplicate, colleague)"),
    ("other", "Other (see the note)"),
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
