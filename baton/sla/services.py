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
from baton.core.errors import DomainError, PermissionDenied
from baton.core.models import ChangeSource
from baton.core.services import create_object, update_object

from .clocks import calendar_for, spec_for
from .models import CalendarKind, HolidayOverride, SlaCrossing, SlaPolicy, Target

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
    n = 0
    for i in range(0, len(ids), 5000):
        n += SlaCrossing.objects.filter(pk__in=ids[i:i + 5000], resolved_at__isnull=True).update(
            resolved_at=now, resolution="stopped")
    return n


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
    path = f"/leads/{crossing.item_id}/" if crossing.item_type == Target.LEADS else \
        f"/opportunities/{crossing.item_id}/"
    return _base_url() + path


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

