"""Reads for the timeliness board and the clock badges: always from the user's scope."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Subquery

from baton.core import clock, scoping

from .clocks import calendar_for, clocks_for, spec_for
from .models import HolidayOverride, SlaCrossing, SlaPolicy, Target

LEVEL_RANK = {"warning": 0, "breach": 1}
GRADE_RANK = {"A": 0, "B": 1, "C": 2}
BOARD_LIMIT = 5000  # open clocks considered per board view (sorted in Python: due times need calendars)


def level_rank(level: str) -> int:
    if level in LEVEL_RANK:
        return LEVEL_RANK[level]
    return 1 + int(level.rsplit("_", 1)[-1]) if level.startswith("escalation_") else 0


@dataclass
class BoardRow:
    item_type: str
    item: object
    policy: SlaPolicy
    level: str  # highest open level of this clock
    state: str  # warning | breached
    due_at: datetime  # when the clock is (was) due: 100 %
    seconds: int  # > 0 overdue by, < 0 left
    cycle_start: datetime
    crossing_ids: list

    @property
    def key(self) -> str:
        return f"{self.item_type}:{self.item.pk}"

    @property
    def dom_id(self) -> str:
        return f"sla-row-{self.item_type}-{self.item.pk}-{self.policy.pk}"

    @property
    def grade(self) -> str:
        return getattr(self.item, "grade", "") or ""

    @property
    def owner(self):
        return getattr(self.item, "owner", None)


def scoped_items(user, target: str, *, owner=None, team=None):
    spec = spec_for(target)
    # user None: the company's view (scheduled reports), everything.
    qs = spec.model.objects.all() if user is None else scoping.restrict(spec.model.objects.all(), user, "view")
    if owner:
        qs = qs.filter(owner_id=owner)
    if team:
        qs = qs.filter(owner__team_id=team)
    return qs


def board_rows(user, *, policy=None, state=None, team=None, owner=None, item=None, sort="overdue",
               now=None) -> list[BoardRow]:
    """Every clock in warning or breach (an open crossing) on items the user may see, one row per clock."""
    now = now or clock.now()
    targets = [Target.LEADS, Target.OPPORTUNITIES]
    item_type = item_id = None
    if item:
        item_type, _sep, raw = item.partition(":")
        item_id = int(raw) if raw.isdigit() else -1
        targets = [t for t in targets if t == item_type]
    overrides = dict(HolidayOverride.objects.values_list("date", "is_workday"))
    rows: list[BoardRow] = []
    for target in targets:
        items_qs = scoped_items(user, target, owner=owner, team=team)
        if item_id is not None:
            items_qs = items_qs.filter(pk=item_id)
        crossings = SlaCrossing.objects.filter(item_type=target, resolved_at__isnull=True,
                                               item_id__in=Subquery(items_qs.values("pk")))
        if policy:
            crossings = crossings.filter(policy_id=policy)
        crossings = list(crossings.select_related("policy").order_by("cycle_start", "id")[:BOARD_LIMIT])
        if not crossings:
            continue
        clocks: dict[tuple, list[SlaCrossing]] = {}
        for c in crossings:
            clocks.setdefault((c.item_id, c.policy_id, c.cycle_start), []).append(c)
        model = spec_for(target).model
        related = ["owner__team"] + (["account"] if target == Target.OPPORTUNITIES else [])
        objs = model.objects.select_related(*related).in_bulk({k[0] for k in clocks})
        for (pk, _pid, start), group in clocks.items():
            obj = objs.get(pk)
            if obj is None:
                continue
            top = max(group, key=lambda c: level_rank(c.level))
            pol = top.policy
            due = calendar_for(pol, overrides).add(start, pol.target_seconds)
            st = "breached" if level_rank(top.level) >= 1 else "warning"
            rows.append(BoardRow(item_type=target, item=obj, policy=pol, level=top.level, state=st, due_at=due,
                                 seconds=int((now - due).total_seconds()), cycle_start=start,
                                 crossing_ids=[c.pk for c in group]))
    if state in ("warning", "breached"):
        rows = [r for r in rows if r.state == state]
    if sort == "grade":
        rows.sort(key=lambda r: (GRADE_RANK.get(r.grade, 9), -r.seconds))
    elif sort == "due":
        rows.sort(key=lambda r: r.seconds)
    else:  # overdue most first
        rows.sort(key=lambda r: (-r.seconds, GRADE_RANK.get(r.grade, 9)))
    return rows


def item_clocks(obj, *, now=None, policies=None, overrides=None) -> list[dict]:
    """The item's clocks for badges: policy, state, due_at and signed seconds (> 0 overdue)."""
    now = now or clock.now()
    out = []
    for c in clocks_for(obj, now=now, policies=policies, overrides=overrides):
        out.append({**c, "seconds": int((now - c["due_at"]).total_seconds())})
    return out
