"""Where each clock starts and stops, in SQL (for the scanner) and in Python (for one item's `clocks`)."""

from dataclasses import dataclass

from django.db.models import DateTimeField, F, Q
from django.db.models.functions import Coalesce, Greatest

from baton.core import clock, config_cache

from .calendar import Calendar, clock_state
from .models import CalendarKind, HolidayOverride, SlaPolicy, Target


def _max(*values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


@dataclass(frozen=True)
class ItemSpec:
    target: str

    @property
    def model(self):
        from baton.leads.models import Lead
        from baton.opportunities.models import Opportunity

        return Lead if self.target == Target.LEADS else Opportunity

    # --- SQL -----------------------------------------------------------------------------------------
    def open_q(self) -> Q:
        if self.target == Target.LEADS:
            from baton.leads.models import OPEN_LEAD_STATUSES

            return Q(status__in=OPEN_LEAD_STATUSES)
        return Q(status="open")

    def open_where(self) -> str:
        """`open_q()` as literal SQL for `.extra(where=...)`: SQLite matches a partial index only against the
        very same literal terms (bound parameters never match), so the scanner spells them out."""
        from django.db import connection

        table = connection.ops.quote_name(self.model._meta.db_table)
        if self.target == Target.LEADS:
            from baton.leads.models import OPEN_LEAD_STATUSES

            values = ", ".join(f"'{s}'" for s in OPEN_LEAD_STATUSES)  # constants of the code, not user input
            return f'{table}."status" IN ({values})'
        return f"{table}.\"status\" = 'open'"

    def running(self, qs, event: str):
        """`qs` (annotated with `_sla_start`) without the rows whose clock stopped; positive IS NULL terms
        where possible, which the partial indexes on open items are written with."""
        if event == "assigned":
            return qs.filter(owner__isnull=True)
        if event == "first_contact":
            return qs.filter(first_contact_at__isnull=True)
        return qs.exclude(self.stopped_q(event))

    def start_expr(self, event: str):
        dt = DateTimeField()
        if event == "created":
            return F("created_at")
        if event == "assigned":
            return F("assigned_at")
        if event == "stage_entered":
            return F("stage_entered_at")
        if self.target == Target.LEADS:  # last_update
            return Greatest("created_at", Coalesce("status_changed_at", "created_at", output_field=dt),
                            Coalesce("last_activity_at", "created_at", output_field=dt), output_field=dt)
        return Greatest("updated_at", "stage_entered_at", output_field=dt)

    def stopped_q(self, event: str) -> Q:
        """Rows whose clock has stopped; the row is annotated with `_sla_start`."""
        if event == "assigned":
            return Q(owner__isnull=False)
        if event == "first_contact":
            return Q(first_contact_at__isnull=False)
        if event == "stage_left":
            return Q(stage_entered_at__gt=F("_sla_start"))
        if self.target == Target.LEADS:  # any_update
            return Q(status_changed_at__gt=F("_sla_start")) | Q(last_activity_at__gt=F("_sla_start"))
        return Q(updated_at__gt=F("_sla_start"))

    # --- Python --------------------------------------------------------------------------------------
    def is_open(self, obj) -> bool:
        return obj.is_open if self.target == Target.LEADS else obj.status == "open"

    def start(self, obj, event: str):
        if event == "created":
            return obj.created_at
        if event == "assigned":
            return obj.assigned_at
        if event == "stage_entered":
            return obj.stage_entered_at
        if self.target == Target.LEADS:
            return _max(obj.created_at, obj.status_changed_at, obj.last_activity_at)
        return _max(obj.updated_at, obj.stage_entered_at)

    def stop(self, obj, event: str, start):
        if event == "assigned":
            return (obj.assigned_at or start) if obj.owner_id else None
        if event == "first_contact":
            return obj.first_contact_at
        if event == "stage_left":
            return obj.stage_entered_at if obj.stage_entered_at > start else None
        if self.target == Target.LEADS:
            last = _max(obj.status_changed_at, obj.last_activity_at)
        else:
            last = obj.updated_at
        return last if last is not None and last > start else None


LEADS = ItemSpec(Target.LEADS)
OPPORTUNITIES = ItemSpec(Target.OPPORTUNITIES)


def spec_for(target: str) -> ItemSpec:
    return LEADS if target == Target.LEADS else OPPORTUNITIES


def calendar_for(policy: SlaPolicy, overrides: dict | None = None) -> Calendar:
    if policy.calendar != CalendarKind.WORKING_HOURS:
        return Calendar()
    if overrides is None:
        overrides = dict(HolidayOverride.objects.values_list("date", "is_workday"))
    return Calendar(kind="working_hours", work_start=policy.work_start, work_end=policy.work_end,
                    overrides=overrides)


def _active_policies(target: str):
    """(active policies of `target` by name, their compiled conditions by id, their calendars by id), per
    process until the configuration changes (`core.config_cache`; holiday overrides are watched too)."""
    def load():
        from baton.conditions.compiler import to_predicate

        policies = list(SlaPolicy.objects.filter(active=True, target=target).order_by("name"))
        predicates = {p.pk: to_predicate(spec_for(target).model, p.condition) for p in policies if p.condition}
        overrides = {}
        if any(p.calendar == CalendarKind.WORKING_HOURS for p in policies):
            overrides = dict(HolidayOverride.objects.values_list("date", "is_workday"))
        return policies, predicates, {p.pk: calendar_for(p, overrides) for p in policies}
    return config_cache.cached(f"sla:{target}", load)


def clocks_for(obj, *, policies=None, now=None, overrides=None) -> list[dict]:
    """The running or stopped clocks of one lead or opportunity: [{"policy", "state", "due_at"}]."""
    from baton.conditions.compiler import to_predicate
    from baton.leads.models import Lead

    target = Target.LEADS if isinstance(obj, Lead) else Target.OPPORTUNITIES
    spec = spec_for(target)
    now = now or clock.now()
    predicates, calendars = {}, {}
    if policies is None and overrides is None:  # every lead and deal JSON carries its clocks: kept compiled
        policies, predicates, calendars = _active_policies(target)
    elif policies is None:
        policies = list(SlaPolicy.objects.filter(active=True, target=target).order_by("name"))
    out = []
    for policy in policies:
        pred = predicates.get(policy.pk)
        if pred is None and policy.condition:
            pred = to_predicate(spec.model, policy.condition)
        if pred is not None and not pred(obj):
            continue
        start = spec.start(obj, policy.start_event)
        if start is None:
            continue
        stop = spec.stop(obj, policy.stop_event, start)
        if stop is None and not spec.is_open(obj):
            stop = start
        calendar = calendars.get(policy.pk)
        if calendar is None:
            if overrides is None and policy.calendar == CalendarKind.WORKING_HOURS:
                overrides = dict(HolidayOverride.objects.values_list("date", "is_workday"))
            calendar = calendar_for(policy, overrides or {})
        st = clock_state(start=start, stop=stop, calendar=calendar, target_seconds=policy.target_seconds,
                         now=now, warning_pct=policy.warning_pct)
        out.append({"policy": policy.name, "state": st.state, "due_at": st.due_at})
    return out
