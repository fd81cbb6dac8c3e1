"""Assign new leads to reps: the first eligible pool (by priority) with an available member wins.

Concurrency: an assignment locks the lead row, then the pool row (`pool_lock`), so on PostgreSQL two intakes
into one pool queue up and the second reads the first's counts; on SQLite every transaction already takes the
write lock up front (IMMEDIATE). A member's capped count is per pool and kept on the pool's row (`day_counts`,
written with the rotation), so the pool's lock covers it and the lock statement itself returns it: member rows
are neither locked nor counted under the lock. Pools are locked in (priority, id) order, so two assignments
never wait on each other in a cycle.
"""

import copy
import weakref
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from baton.core import clock, config_cache, rawread
from baton.core.errors import Conflict, PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import create_object, record, update_object
from baton.leads.models import Lead
from baton.leads.unsaved import RowView
from baton.org.models import User
from baton.rules import conditions

from .models import (
    Assignment,
    MemberAbsence,
    Pool,
    PoolAction,
    PoolBacklog,
    PoolMember,
    ReassignReason,
    Strategy,
)

# Assignments that use a member's daily capacity (a manager's reassignment is outside the caps).
CAPPED_KINDS = (Assignment.Kind.AUTO, Assignment.Kind.DRAIN)
DYNAMIC_KINDS = {"top_newcomers"}
DYNAMIC_METRICS = {"first_contact_success_rate"}
DEFAULT_REASONS = [  # labels translated at install time (gettext_noop: extracted by makemessages)
    ("absent", gettext_noop("Rep absent")),
    ("workload", gettext_noop("Workload balance")),
    ("wrong_region", gettext_noop("Wrong region or industry")),
    ("customer_request", gettext_noop("Customer request")),
    ("performance", gettext_noop("No follow-up in time")),
    ("other", gettext_noop("Other")),
]


def _require(actor, roles=("ops", "director")):
    if actor is None:
        return
    if not (actor.is_superuser or any(actor.has_role(r) for r in roles)):
        raise PermissionDenied()


def day_bounds(day=None):
    """Start and end of a calendar day in the company time zone (settings.TIME_ZONE)."""
    day = day or clock.today()
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), tz)
    return start, end


# --- Candidates ---------------------------------------------------------------------------------------


@dataclass
class Candidate:
    user: User
    weight: int
    cap: int
    active: bool
    member_id: int | None = None
    today: int = 0
    unavailable: str = ""  # "", "inactive", "absent", "capped"


@dataclass
class Pick:
    user: User | None = None
    position: int | None = None
    candidate: Candidate | None = None
    skipped: list = field(default_factory=list)
    candidates: list = field(default_factory=list)


def _newcomers_ranked(pool: Pool, rule: dict) -> list[User]:
    today = clock.today()
    earliest = today - timedelta(days=settings.BATON_NEWCOMER_DAYS - 1)
    users = User.objects.filter(is_active=True, hire_date__gte=earliest, hire_date__lte=today)
    if pool.region_id:
        users = users.filter(region_id=pool.region_id)
    users = [u for u in users.order_by("id") if u.is_newcomer(today)]
    stats = {row["owner"]: row for row in Lead.objects.filter(owner__in=users).values("owner").annotate(
        total=Count("id"), contacted=Count("id", filter=Q(first_contact_at__isnull=False)))}

    def rate(u):
        row = stats.get(u.pk)
        return row["contacted"] / row["total"] if row and row["total"] else 0.0

    users.sort(key=lambda u: (-rate(u), u.pk))
    return users[: int(rule.get("n", 3))]


# SQL text and value converters of the hand-written reads below, built once per database connection.
_raw: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _once(key, build):
    per_connection = _raw.get(connections[DEFAULT_DB_ALIAS])
    if per_connection is None:
        per_connection = _raw[connections[DEFAULT_DB_ALIAS]] = {}
    if key not in per_connection:
        per_connection[key] = build()
    return per_connection[key]


_MEMBER_FIELDS = ("id", "weight", "daily_cap", "active")


def _members_read():
    """(SQL, converters, user attnames) of the fixed members' read. Columns: `_MEMBER_FIELDS`, the user's
    concrete fields, absent today. Parameters: today, today, pool id."""
    qn = connection.ops.quote_name
    m, u, x = (qn(model._meta.db_table) for model in (PoolMember, User, MemberAbsence))

    def col(table, model, name):
        return f"{table}.{qn(model._meta.get_field(name).column)}"

    fields = [PoolMember._meta.get_field(name) for name in _MEMBER_FIELDS] + list(User._meta.concrete_fields)
    member_user = col(m, PoolMember, "user")
    absent = (f"EXISTS(SELECT 1 FROM {x} WHERE {col(x, MemberAbsence, 'user')} = {member_user} "
              f"AND {col(x, MemberAbsence, 'date_from')} <= %s AND {col(x, MemberAbsence, 'date_to')} >= %s)")
    columns = ", ".join([*(f"{qn(f.model._meta.db_table)}.{qn(f.column)}" for f in fields), absent])
    sql = (f"SELECT {columns} FROM {m} INNER JOIN {u} ON {col(u, User, 'id')} = {member_user} "
           f"WHERE {col(m, PoolMember, 'pool')} = %s ORDER BY {col(m, PoolMember, 'id')}")
    return sql, rawread.converters(fields), [f.attname for f in User._meta.concrete_fields]


def _fixed_members(pool: Pool, today) -> list[tuple[Candidate, bool]]:
    # Fixed members with today's absence in one statement, written by hand: compiling the ORM query and
    # building its rows cost many times the query itself.
    sql, converters, user_fields = _once("members", _members_read)
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(sql, [ops.adapt_datefield_value(today), ops.adapt_datefield_value(today), pool.pk])
        rows = cursor.fetchall()
    out = []
    for row in rows:
        member_id, weight, cap, active, *values = rawread.convert(row, converters)
        user = User.from_db(connection.alias, user_fields, values[:-1])
        out.append((Candidate(user=user, weight=weight, cap=cap, active=active, member_id=member_id),
                    bool(values[-1])))  # SQLite's EXISTS gives 0 or 1
    return out


def pool_members(pool: Pool) -> list[tuple[Candidate, bool]]:
    """The pool's members in rotation order (fixed members, then dynamic ones), each with whether they are
    absent today; no counts. Membership is configuration: an intake reads it before it locks the pool.

    The fixed members are kept per process for the day and the configuration in force: members, absences and
    users are watched by `core.config_cache`, so any change to them is seen by the next request. The
    candidates and their users are shared by the process's threads: callers copy a candidate before they
    change it (`pool_candidates`) and never change a user."""
    today = clock.today()
    kept = config_cache.cached(f"pool_members:{pool.pk}", dict)
    out = kept.get(today)
    if out is None:
        out = _fixed_members(pool, today)
        kept.clear()  # another day's
        kept[today] = out
    out = list(out)
    rule = pool.dynamic_rule or {}
    if rule.get("kind") == "top_newcomers":
        seen = {c.user.pk for c, _absent in out}
        extra = _newcomers_ranked(pool, rule)
        extra += list(User.objects.filter(pk__in=rule.get("plus_users") or []).order_by("id"))
        dynamic = []
        for user in extra:
            if user.pk not in seen:
                seen.add(user.pk)
                dynamic.append(Candidate(user=user, weight=int(rule.get("weight", 1)),
                                         cap=int(rule.get("daily_cap", 8)), active=True))
        if dynamic:
            away = set(MemberAbsence.objects.filter(date_from__lte=today, date_to__gte=today,
                                                    user__in=[c.user.pk for c in dynamic])
                       .values_list("user", flat=True))
            out += [(c, c.user.pk in away) for c in dynamic]
    return out


def counted_today(pool: Pool, user_ids: list, start, end) -> dict:
    """{user id: capped assignments of `pool` today}, from the assignment rows."""
    return dict(Assignment.objects.filter(pool=pool, user__in=user_ids, kind__in=CAPPED_KINDS, at__gte=start,
                                          at__lt=end).values("user").annotate(n=Count("id"))
                .values_list("user", "n"))


def pool_candidates(pool: Pool, *, count_today=None, members=None) -> list[Candidate]:
    """`pool_members` (or `members`, read by the caller) with today's counts and availability.

    Counts come from the pool's own `day_counts` when they are today's; else from today's assignment rows, and
    they then become the pool's `day_counts` (saved with its rotation by whoever picks). They are exact for a
    caller holding the pool's row lock (`pool_lock`), which re-reads them. `count_today(pool, user_ids, start,
    end) -> {user id: n}` replaces both: the bulk import keeps the counts of its long run up to date itself."""
    members = pool_members(pool) if members is None else members
    # New candidates each call: the caller's `members` may be reused, and picks change `today`.
    out = [(copy.copy(c), absent) for c, absent in members]
    ids = [c.user.pk for c, _absent in out]
    today = clock.today()
    if count_today is not None:
        counts = count_today(pool, ids, *day_bounds(today))
    elif pool.counts_day == today and all(str(pk) in pool.day_counts for pk in ids):
        counts = {pk: pool.day_counts[str(pk)] for pk in ids}
    else:  # the day's first pick (or a member new today): count the rows once, keep the counts on the pool
        counts = counted_today(pool, ids, *day_bounds(today))
        kept = pool.day_counts if pool.counts_day == today else {}
        pool.counts_day, pool.day_counts = today, {**kept, **{str(pk): counts.get(pk, 0) for pk in ids}}
    for c, absent_today in out:
        c.today = counts.get(c.user.pk, 0)
        if not c.active or not c.user.is_active:
            c.unavailable = "inactive"
        elif absent_today:
            c.unavailable = "absent"
        elif c.today >= c.cap:
            c.unavailable = "capped"
    return [c for c, _absent in out]


def _count_pick(pool: Pool, pick: "Pick") -> None:
    """Record a capped assignment (automatic or from the backlog) in the pool's `day_counts`; the caller saves
    them with the rotation, in the transaction that writes the assignment."""
    key = str(pick.user.pk)
    pool.day_counts = {**pool.day_counts, key: pool.day_counts.get(key, 0) + 1}


def _skip(c: Candidate) -> dict:
    return {"user": c.user.pk, "name": str(c.user), "reason": c.unavailable, "today": c.today, "cap": c.cap}


def _pick(pool: Pool, members=None) -> Pick:
    """Choose the next member by the pool's strategy; updates the rotation state on `pool` (caller saves).
    `members`: `pool_members(pool)`, read by the caller before it locked the pool."""
    cands = pool_candidates(pool, members=members)
    pick = Pick(candidates=cands)
    if not cands:
        return pick
    if pool.strategy == Strategy.ROUND_ROBIN:
        ids = [c.user.pk for c in cands]
        start = ids.index(pool.rotation_last_user_id) + 1 if pool.rotation_last_user_id in ids else 0
        for step in range(len(cands)):
            i = (start + step) % len(cands)
            c = cands[i]
            if c.unavailable:
                pick.skipped.append(_skip(c))
                continue
            pick.user, pick.position, pick.candidate = c.user, i, c
            pool.rotation_last_user_id = c.user.pk
            break
        return pick
    available = [(i, c) for i, c in enumerate(cands) if not c.unavailable]
    pick.skipped = [_skip(c) for c in cands if c.unavailable]
    if not available:
        return pick
    if pool.strategy == Strategy.WEIGHTED:
        # Smooth weighted round robin (as in nginx): spreads picks evenly in proportion to weights.
        state = {k: v for k, v in (pool.weighted_state or {}).items()}
        total = sum(c.weight for _i, c in available)
        best = None
        for i, c in available:
            key = str(c.user.pk)
            state[key] = state.get(key, 0) + c.weight
            if best is None or state[key] > state[str(best[1].user.pk)]:
                best = (i, c)
        state[str(best[1].user.pk)] -= total
        pool.weighted_state = state
    else:  # least loaded today, then rotation order
        best = min(available, key=lambda ic: (ic[1].today, ic[0]))
    pick.position, pick.candidate = best
    pick.user = best[1].user
    pool.rotation_last_user_id = pick.user.pk
    return pick


def _reason_label(code: str) -> str:
    return {"capped": _("daily cap reached"), "absent": _("absent"), "inactive": _("inactive")}.get(code, code)


def _explain(pool: Pool, pick: Pick) -> str:
    parts = []
    if pick.user is not None:
        parts.append(_("Pool “%(pool)s” (%(strategy)s): position %(pos)s → %(user)s, %(n)s of %(cap)s today.") % {
            "pool": pool.name, "strategy": pool.get_strategy_display(), "pos": (pick.position or 0) + 1,
            "user": pick.user, "n": pick.candidate.today + 1, "cap": pick.candidate.cap})
    elif not pick.candidates:
        parts.append(_("Pool “%(pool)s” has no members.") % {"pool": pool.name})
    else:
        parts.append(_("Pool “%(pool)s”: nobody available.") % {"pool": pool.name})
    if pick.skipped:
        parts.append(_("Skipped: %(list)s.") % {"list": ", ".join(
            f"{s['name']} ({_reason_label(s['reason'])})" for s in pick.skipped)})
    return " ".join(parts)


# The pool's run-time state: read under its lock by `pool_lock`, written back with each pick.
ROTATION_FIELDS = ["rotation_last_user_id", "weighted_state", "counts_day", "day_counts"]


def pool_lock(pool: Pool, *, lock: bool = True) -> Pool:
    """A copy of `pool` with its rotation state re-read under the pool row's lock (held until the transaction
    ends; SQLite: the transaction already holds the write lock). Its other fields stay as given: the pools
    come from the per-process cache, whose objects threads share and nobody may change.
    `lock=False`: the state as committed, for a pick that `pool_rotation_swap` writes only if it is unchanged."""
    def build(locking):
        qn = connection.ops.quote_name
        fields = [Pool._meta.get_field(name) for name in ROTATION_FIELDS]
        sql = (f"SELECT {', '.join(qn(f.column) for f in fields)} FROM {qn(Pool._meta.db_table)} "
               f"WHERE {qn(Pool._meta.pk.column)} = %s")
        # NO KEY UPDATE: the lock the rotation write takes anyway. Unlike FOR UPDATE it lets other
        # transactions' foreign-key checks (an assignment or backlog row naming this pool) pass meanwhile.
        if locking and connection.features.has_select_for_no_key_update:
            sql += " FOR NO KEY UPDATE"
        elif locking and connection.features.has_select_for_update:
            sql += " FOR UPDATE"
        return sql, rawread.converters(fields)

    sql, converters = _once(("pool_lock", lock), lambda: build(lock))
    with connection.cursor() as cursor:
        cursor.execute(sql, [pool.pk])
        row = cursor.fetchone()
    if row is None:
        raise Pool.DoesNotExist("Pool matching query does not exist.")
    return _pool_in_state(pool, rawread.convert(row, converters))


def _pool_in_state(pool: Pool, state) -> Pool:
    """A copy of `pool` (shared by threads: never changed) with `state`, its `ROTATION_FIELDS` in order."""
    pool = copy.copy(pool)
    pool.rotation_last_user_id, pool.weighted_state, pool.counts_day, pool.day_counts = state
    return pool


def pool_rotation_statement(pool: Pool) -> tuple[str, list]:
    """(SQL, parameters) writing the rotation state `_pick` left on `pool` (locked with `pool_lock`):
    `save(update_fields=...)` without the ORM's query building (the configuration cache ignores these fields'
    saves anyway). The express intake sends it in its insert statement on PostgreSQL."""
    fields = [Pool._meta.get_field(name) for name in ROTATION_FIELDS]

    def build():
        qn = connection.ops.quote_name
        return (f"UPDATE {qn(Pool._meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)} "
                f"WHERE {qn(Pool._meta.pk.column)} = %s")

    return _once("pool_save", build), [*(f.get_db_prep_save(getattr(pool, f.attname), connection)
                                         for f in fields), pool.pk]


def pool_rotation_save(pool: Pool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(*pool_rotation_statement(pool))


def pool_rotation_swap(pool: Pool, before: tuple) -> tuple | None:
    """PostgreSQL, outside a transaction: write the rotation state `_pick` left on `pool` if the pool's state
    is still `before` (its `ROTATION_FIELDS` as read). None when written; else the state another pick wrote
    first, as this statement's snapshot saw it: the next pick starts from it without reading it again. When
    the write that won was still in progress at the snapshot, that state is already old and the next swap
    fails too (more swaps are lost than with a fresh read, but each retry costs one statement, not two). One statement, committed on its
    own and asynchronously (see `assignment_reserve`): the row is locked only while the server runs it."""
    fields = [Pool._meta.get_field(name) for name in ROTATION_FIELDS]

    def build():
        qn = connection.ops.quote_name
        table, pk = qn(Pool._meta.db_table), qn(Pool._meta.pk.column)
        same = " AND ".join(f"{qn(f.column)} IS NOT DISTINCT FROM %s" for f in fields)
        # set_config(…, true) holds for the statement's own transaction: its commit does not wait for the WAL
        # flush (SET LOCAL needs a transaction block, which would cost two round trips more). The outer SELECT
        # sees the row as it was when the statement started, not the update.
        return (f"WITH swapped AS (UPDATE {table} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)} "
                f"WHERE {pk} = %s AND {same} AND set_config('synchronous_commit', 'off', true) IS NOT NULL "
                f"RETURNING 1) SELECT EXISTS(SELECT 1 FROM swapped), {', '.join(qn(f.column) for f in fields)} "
                f"FROM {table} WHERE {pk} = %s"), rawread.converters(fields)

    sql, converters = _once("pool_swap", build)
    params = [*(f.get_db_prep_save(getattr(pool, f.attname), connection) for f in fields), pool.pk,
              *(f.get_db_prep_save(value, connection) for f, value in zip(fields, before, strict=True)), pool.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        swapped, *state = cursor.fetchone()
    return None if swapped else tuple(rawread.convert(state, converters))


def _active_pools(token: str | None = None) -> list[tuple[Pool, object]]:
    """(pool, compiled condition) of the active pools in priority order, as configured: kept per process
    until the configuration changes (`core.config_cache`; a custom field's change counts too, as conditions
    compile against the field registry). The pools' rotation state is stale by design: a pick locks and
    re-reads its pool."""
    def load():
        return [(pool, conditions.to_predicate(Lead, pool.condition))
                for pool in Pool.objects.filter(active=True).order_by("priority", "id")]
    return config_cache.cached("pools", load, token)


def _eligible_pools(lead: Lead, token: str | None = None) -> list[Pool]:
    # A new lead's row view (`leads.unsaved.RowView`, its fields final once evaluated) is asked twice, for
    # the members read ahead and for the decision: its answer is kept on it.
    kept = lead.__dict__.get("_eligible_pools")
    if kept is not None and kept[0] == token:
        return kept[1]
    pools = [pool for pool, accepts in _active_pools(token)
             if (not pool.region_id or pool.region_id == lead.region_id) and accepts(lead)]
    if isinstance(lead, RowView):
        lead._eligible_pools = (token, pools)
    return pools


def _give(*, lead, pool, pick, kind, source, actor=None, explanation, reason_code="", note="",
          new=False) -> Assignment:
    from baton.leads.services import lead_update

    previous = lead.owner
    # The engine writes for the company (actor None) so a rep's intake can hand the lead to a colleague.
    if actor is None:  # owner picked from the pool's members by the engine: no full_clean needed
        from baton.leads.services import lead_engine_write

        lead_engine_write(lead=lead, source=source, owner=pick.user if pick else None, message=explanation[:500])
    else:
        lead_update(lead=lead, actor=actor, source=source, owner=pick.user if pick else None,
                    message=explanation[:500])
    if not new:  # a lead created in this transaction waits in no backlog
        PoolBacklog.objects.filter(lead=lead).delete()
    return Assignment.objects.create(
        lead=lead, pool=pool, user=pick.user, previous_user=previous, kind=kind, at=clock.now(),
        strategy=pool.strategy if pool else "", rotation_position=pick.position, skipped=pick.skipped,
        explanation=explanation, reason_code=reason_code, note=note[:500],
        actor=actor if actor is not None and actor.is_authenticated else None)


def _nurture(*, lead, pool, source, explanation, new=False) -> Assignment:
    """A nurture pool: the lead leaves the sales queue (status nurturing), keeps no owner, waits nowhere."""
    from baton.leads.models import LeadStatus
    from baton.leads.services import lead_engine_write

    lead_engine_write(lead=lead, source=source, status=LeadStatus.NURTURING, message=explanation[:500])
    if not new:
        PoolBacklog.objects.filter(lead=lead).delete()
    return Assignment.objects.create(lead=lead, pool=pool, kind=Assignment.Kind.NURTURE, at=clock.now(),
                                     explanation=explanation)


@dataclass
class Decision:
    """Where an unowned open lead goes: AUTO (to `pick.user` of `pool`), NURTURE (by `pool`), BACKLOG (waits
    in `pool`: nobody available in any eligible pool) or UNMATCHED (no pool accepts it)."""

    kind: str
    pool: Pool | None = None
    pick: Pick | None = None
    explanation: str = ""
    skipped: list = field(default_factory=list)
    # AUTO: the pool's `ROTATION_FIELDS` as read before this pick (for `pool_rotation_swap`, `assignment_release`)
    state_before: tuple | None = None


def assignment_members_first(lead, config_token: str | None = None) -> dict:
    """{pool id: `pool_members`} of the first pool `assignment_decide` will try for `lead`, read ahead by a
    caller before its transaction starts (on SQLite a transaction holds the one write lock from its start)."""
    for pool in _eligible_pools(lead, config_token):
        return {} if pool.action == PoolAction.NURTURE else {pool.pk: pool_members(pool)}
    return {}


def assignment_decide(lead, config_token: str | None = None, *, save_rotation: bool = True,
                      members: dict | None = None, lock: bool = True, states: dict | None = None) -> Decision:
    """Choose the pool and member for `lead` (a Lead, or a `leads.unsaved.RowView` of one about to be
    inserted). Locks each pool it tries and stores the rotation of the pool that picks (call it inside the
    transaction that writes the decision); writes nothing about the lead itself. `save_rotation=False`: the
    caller writes `pool_rotation_statement(decision.pool)` itself, in that transaction. `members`: from
    `assignment_members_first`, read ahead. `lock=False`: the pools are read, neither locked nor written (the
    caller swaps the rotation in, `assignment_reserve`); `states`: {pool id: state} already known, not read."""
    members_ahead = members or {}
    pools = _eligible_pools(lead, config_token)
    if not pools:
        return Decision(Assignment.Kind.UNMATCHED, explanation=_("No active pool accepts this lead."))
    tried, skipped = [], []
    for pool in pools:
        if pool.action == PoolAction.NURTURE:
            if tried:  # an assigning pool wanted the lead first: it waits there rather than being parked
                break
            return Decision(Assignment.Kind.NURTURE, pool=pool, explanation=_(
                "Pool “%(pool)s” nurtures its leads: status set to nurturing, no owner.") % {"pool": pool.name})
        # before the lock: other intakes into the pool need not wait for it
        members = members_ahead.get(pool.pk) or pool_members(pool)
        known = (states or {}).get(pool.pk)
        pool = pool_lock(pool, lock=lock) if known is None else _pool_in_state(pool, known)
        before = tuple(getattr(pool, name) for name in ROTATION_FIELDS)
        pick = _pick(pool, members)
        if pick.user is not None:
            _count_pick(pool, pick)
            if save_rotation and lock:
                pool_rotation_save(pool)
            return Decision(Assignment.Kind.AUTO, pool=pool, pick=pick, state_before=before,
                            explanation=" ".join(tried + [_explain(pool, pick)]))
        tried.append(_explain(pool, pick))
        skipped += [{**s, "pool": pool.pk} for s in pick.skipped]
    first = next(p for p in pools if p.action == PoolAction.ASSIGN)
    return Decision(Assignment.Kind.BACKLOG, pool=first, skipped=skipped, explanation=" ".join(
        tried + [_("The lead waits in the backlog of “%(pool)s”.") % {"pool": first.name}]))


RESERVE_ATTEMPTS = 20


def assignment_reserve(lead, config_token: str | None = None, *, members: dict | None = None) -> Decision:
    """PostgreSQL, outside a transaction: `assignment_decide` committed before the caller writes the lead. The
    pick is counted against the member's cap and the rotation moves on at once; the caller must write the
    decision next, or call `assignment_release` if that write fails.

    Why: `assignment_decide` holds the pool's row lock until the end of the caller's transaction. Held through
    the lead's insert and its synchronous commit, it let one intake into a pool proceed at a time, and its
    transaction cost round trips of its own (BEGIN, the lock, COMMIT). Here the pool's state is read without a
    lock, the member picked from it, and the new state written in one statement only if the state is still
    the one read (`pool_rotation_swap`); when another pick came first, the pick is made again from the new
    state. Caps hold as under the lock: a count is only ever written over the count it was computed from.

    The swap commits asynchronously (no wait for its WAL flush): the lead's statement commits after it,
    synchronously, and its flush covers all WAL written before it, the swap's included. A crash in between
    loses nothing the client was told was saved; at worst the member's count of the day is one higher than
    the rows (the cap is reached one lead early)."""
    states: dict = {}
    for _attempt in range(RESERVE_ATTEMPTS):
        decision = assignment_decide(lead, config_token, members=members, lock=False, states=states)
        if decision.kind != Assignment.Kind.AUTO:
            return decision
        current = pool_rotation_swap(decision.pool, decision.state_before)
        if current is None:
            return decision
        states[decision.pool.pk] = current
    # A pool this busy: queue on its lock instead of trying again.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        return assignment_decide(lead, config_token, members=members)


def assignment_release(decision: Decision) -> None:
    """Give back what `assignment_reserve` took for a lead that was not written: the member's count of the
    day, and the rotation's turn if no pick has moved it since."""
    if decision.kind != Assignment.Kind.AUTO:
        return
    reserved = decision.pool
    with transaction.atomic():
        pool = pool_lock(reserved)
        key = str(decision.pick.user.pk)
        if pool.counts_day == reserved.counts_day and pool.day_counts.get(key, 0) > 0:
            pool.day_counts = {**pool.day_counts, key: pool.day_counts[key] - 1}
        if (pool.rotation_last_user_id, pool.weighted_state) == (reserved.rotation_last_user_id,
                                                                 reserved.weighted_state):
            pool.rotation_last_user_id, pool.weighted_state = decision.state_before[:2]
        pool_rotation_save(pool)


def lead_auto_assign(*, lead: Lead, actor=None, source=ChangeSource.SYSTEM, new=False,
                     config_token: str | None = None) -> Assignment | None:
    """Give an unowned open lead to a member of the first eligible pool that has someone available.

    Nobody available anywhere → the lead waits in the first eligible pool's backlog (no owner).
    Returns the Assignment row written (None when the lead already has an owner or is closed).
    `new=True` (from `lead_create`, in the transaction that inserted `lead`): no other transaction can see
    the row yet, so it is neither re-read nor locked, and it has no backlog entry to clear.
    """
    with transaction.atomic(savepoint=not new):
        if not new:
            lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.owner_id or not lead.is_open:
            return None
        now = clock.now()
        decision = assignment_decide(lead, config_token)
        if decision.kind == Assignment.Kind.UNMATCHED:
            return Assignment.objects.create(lead=lead, kind=decision.kind, at=now, explanation=decision.explanation)
        if decision.kind == Assignment.Kind.NURTURE:
            return _nurture(lead=lead, pool=decision.pool, source=source, explanation=decision.explanation, new=new)
        if decision.kind == Assignment.Kind.AUTO:
            return _give(lead=lead, pool=decision.pool, pick=decision.pick, kind=decision.kind, source=source,
                         explanation=decision.explanation, new=new)
        first = decision.pool
        PoolBacklog.objects.get_or_create(lead=lead, defaults={"pool": first, "since": now})
        return Assignment.objects.create(lead=lead, pool=first, kind=decision.kind, at=now,
                                         strategy=first.strategy, skipped=decision.skipped,
                                         explanation=decision.explanation)


def explained_new_lead(assignment: Assignment) -> dict:
    """What `assignment.selectors.lead_explanations` returns for a lead whose only decision is `assignment`
    (just written by `lead_auto_assign` for a new lead), built without reading it back."""
    a = assignment
    row = {"at": a.at, "kind": str(a.kind), "pool": a.pool.name if a.pool else None, "pool_id": a.pool_id,
           "user": str(a.user) if a.user else None, "user_id": a.user_id, "strategy": a.strategy,
           "rotation_position": a.rotation_position, "skipped": a.skipped, "explanation": a.explanation,
           "reason_code": a.reason_code, "note": a.note, "actor": str(a.actor) if a.actor else None}
    backlog = None
    if a.kind == Assignment.Kind.BACKLOG:  # the backlog row was created with since = the decision's time
        backlog = {"pool": a.pool.name, "pool_id": a.pool_id, "since": a.at}
    return {"assignment_explanation": [row], "backlog": backlog}


def pool_drain_backlog(pool: Pool, *, source=ChangeSource.JOB) -> int:
    """Assign waiting leads of `pool` (oldest first) while members have capacity. Returns how many."""
    assigned = 0
    with transaction.atomic():
        pool = Pool.objects.select_for_update().get(pk=pool.pk)
        if not pool.active:
            return 0
        for entry in list(PoolBacklog.objects.filter(pool=pool).order_by("since", "id")):
            # skip_locked: a lead someone is working on right now is left for the next drain.
            lead = Lead.objects.select_for_update(skip_locked=True).filter(pk=entry.lead_id).first()
            if lead is None:
                continue
            if lead.owner_id or not lead.is_open:
                entry.delete()
                continue
            pick = _pick(pool)
            if pick.user is None:
                break
            _count_pick(pool, pick)
            pool.save(update_fields=ROTATION_FIELDS)
            waited = _("Waited in the backlog since %(since)s.") % {
                "since": timezone.localtime(entry.since).strftime("%Y-%m-%d %H:%M")}
            _give(lead=lead, pool=pool, pick=pick, kind=Assignment.Kind.DRAIN, source=source,
                  explanation=f"{waited} {_explain(pool, pick)}")
            assigned += 1
    return assigned


def pools_drain_all(*, source=ChangeSource.JOB) -> int:
    ids = PoolBacklog.objects.values_list("pool_id", flat=True).distinct()
    return sum(pool_drain_backlog(pool, source=source) for pool in Pool.objects.filter(pk__in=list(ids),
                                                                                       active=True))


# --- Manager reassignment -------------------------------------------------------------------------------


def reassign_reasons() -> list[ReassignReason]:
    if not ReassignReason.objects.exists():
        assignment_install_defaults()
    return list(ReassignReason.objects.filter(active=True))


def assignment_install_defaults() -> int:
    created = 0
    for code, label in DEFAULT_REASONS:
        _obj, was_created = ReassignReason.objects.get_or_create(code=code, defaults={"label": _(label)})
        created += was_created
    return created


def lead_reassign(*, lead: Lead, actor, reason_code: str, to_user: User | None = None, pool: Pool | None = None,
                  note: str = "", source=ChangeSource.UI) -> Assignment:
    """A manager moves a lead to a person or back through a pool; the reason is required and audited."""
    from baton.core import scoping

    _require(actor, roles=("manager", "director", "ops"))
    if (to_user is None) == (pool is None):
        raise ValidationFailed(errors=[("to_user", _("Choose either a person or a pool."))])
    if reason_code not in {r.code for r in reassign_reasons()}:
        raise ValidationFailed(errors=[("reason_code", _("Choose a reason from the list."))])
    if actor is not None and not scoping.restrict(Lead.objects.filter(pk=lead.pk), actor, "change").exists():
        raise PermissionDenied()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        reason = ReassignReason.objects.get(code=reason_code)
        if to_user is not None:
            if not to_user.is_active:
                raise ValidationFailed(errors=[("to_user", _("This user is inactive."))])
            if to_user.pk == lead.owner_id:
                raise ValidationFailed(errors=[("to_user", _("The lead already belongs to this user."))])
            pick = Pick(user=to_user)
            explanation = _("Reassigned by %(actor)s to %(user)s: %(reason)s.") % {
                "actor": actor or _("system"), "user": to_user, "reason": reason.label}
            return _give(lead=lead, pool=None, pick=pick, kind=Assignment.Kind.MANUAL, source=source,
                         actor=actor, explanation=explanation, reason_code=reason_code, note=note)
        pool = Pool.objects.select_for_update().get(pk=pool.pk)
        pick = _pick(pool)
        if pick.user is None:
            raise Conflict(_explain(pool, pick), code="nobody_available")
        pool.save(update_fields=ROTATION_FIELDS)  # a manager's pick uses no capacity: counts unchanged
        explanation = _("Reassigned by %(actor)s through a pool: %(reason)s.") % {
            "actor": actor or _("system"), "reason": reason.label} + " " + _explain(pool, pick)
        return _give(lead=lead, pool=pool, pick=pick, kind=Assignment.Kind.MANUAL, source=source, actor=actor,
                     explanation=explanation, reason_code=reason_code, note=note)


# --- Configuration: pools, members, absences --------------------------------------------------------------


def _validate_pool_data(data):
    if "condition" in data:
        data["condition"] = data["condition"] or {}
        conditions.validate_or_raise(Lead, data["condition"])
    rule = data.get("dynamic_rule")
    if rule:
        errors = []
        if rule.get("kind") not in DYNAMIC_KINDS:
            errors.append(("dynamic_rule.kind", _("Unknown dynamic membership kind.")))
        if rule.get("metric", "first_contact_success_rate") not in DYNAMIC_METRICS:
            errors.append(("dynamic_rule.metric", _("Unknown metric.")))
        n = rule.get("n", 3)
        if not isinstance(n, int) or n < 0 or n > 100:
            errors.append(("dynamic_rule.n", _("Give a number from 0 to 100.")))
        plus = rule.get("plus_users") or []
        if not isinstance(plus, list) or not all(isinstance(i, int) for i in plus):
            errors.append(("dynamic_rule.plus_users", _("Give a list of user ids.")))
        elif User.objects.filter(pk__in=plus).count() != len(set(plus)):
            errors.append(("dynamic_rule.plus_users", _("Unknown user.")))
        if errors:
            raise ValidationFailed(errors=errors)
    elif "dynamic_rule" in data:
        data["dynamic_rule"] = {}
    return data


def pool_create(*, actor, source=ChangeSource.UI, **data) -> Pool:
    _require(actor)
    data = _validate_pool_data(dict(data))
    return create_object(Pool, actor=actor, source=source, data=data, check_scope=False)


def pool_update(*, pool: Pool, actor, source=ChangeSource.UI, **data) -> dict:
    _require(actor)
    data = _validate_pool_data(dict(data))
    changes = update_object(pool, actor=actor, source=source, data=data, check_scope=False)
    if changes:
        transaction.on_commit(lambda: pool_drain_backlog(pool))
    return changes


def pool_delete(*, pool: Pool, actor, source=ChangeSource.UI) -> None:
    _require(actor)
    with transaction.atomic():
        record(pool, actor=actor, source=source, action=AuditEntry.Action.DELETE, message=str(pool))
        pool.delete()


def member_add(*, pool: Pool, user: User, actor, source=ChangeSource.UI, weight=1, daily_cap=8,
               active=True) -> PoolMember:
    _require(actor, roles=("ops", "director", "manager"))
    with transaction.atomic():
        member = create_object(PoolMember, actor=actor, source=source, check_scope=False, data={
            "pool": pool, "user": user, "weight": weight, "daily_cap": daily_cap, "active": active})
        transaction.on_commit(lambda: pool_drain_backlog(pool))
    return member


def member_update(*, member: PoolMember, actor, source=ChangeSource.UI, **data) -> dict:
    _require(actor, roles=("ops", "director", "manager"))
    data = {k: v for k, v in data.items() if k in {"weight", "daily_cap", "active"}}
    changes = update_object(member, actor=actor, source=source, data=data, check_scope=False)
    if changes:
        pool = member.pool
        transaction.on_commit(lambda: pool_drain_backlog(pool))
    return changes


def member_remove(*, member: PoolMember, actor, source=ChangeSource.UI) -> None:
    _require(actor, roles=("ops", "director", "manager"))
    with transaction.atomic():
        record(member, actor=actor, source=source, action=AuditEntry.Action.DELETE, message=str(member))
        member.delete()


def absence_create(*, user: User, date_from, date_to, actor, reason=MemberAbsence.Reason.LEAVE, note="",
                   source=ChangeSource.UI) -> MemberAbsence:
    if actor is not None and actor.pk != user.pk:
        _require(actor, roles=("ops", "director", "manager"))
    return create_object(MemberAbsence, actor=actor, source=source, check_scope=False, data={
        "user": user, "date_from": date_from, "date_to": date_to, "reason": reason, "note": note})


def absence_delete(*, absence: MemberAbsence, actor, source=ChangeSource.UI) -> None:
    if actor is not None and actor.pk != absence.user_id:
        _require(actor, roles=("ops", "director", "manager"))
    user_id = absence.user_id
    with transaction.atomic():
        record(absence, actor=actor, source=source, action=AuditEntry.Action.DELETE, message=str(absence))
        absence.delete()
        pool_ids = list(PoolMember.objects.filter(user_id=user_id).values_list("pool_id", flat=True))
        transaction.on_commit(lambda: [pool_drain_backlog(p) for p in Pool.objects.filter(pk__in=pool_ids)])


# --- Shipped default pools ------------------------------------------------------------------------------

GRADE_A = {"all": [{"field": "grade", "op": "eq", "value": "A"}]}
GRADE_B = {"all": [{"field": "grade", "op": "eq", "value": "B"}]}
GRADE_C = {"all": [{"field": "grade", "op": "eq", "value": "C"}]}
NEWCOMER_CONDITION = {"all": [{"field": "grade", "op": "eq", "value": "B"},
                              {"field": "source", "op": "in", "value": ["web_form", "api"]}]}


def _reps(region=None):
    qs = User.objects.filter(is_active=True, roles__code="rep").distinct()
    if region is not None:
        qs = qs.filter(region=region)
    return list(qs.order_by("hire_date", "id"))


def _senior_reps(region):
    """The longest-serving non-newcomer reps of a region (users without a hire date come last)."""
    today = clock.today()
    reps = [u for u in _reps(region) if not u.is_newcomer(today)]
    reps.sort(key=lambda u: (u.hire_date is None, u.hire_date or today, u.pk))
    return reps


def pools_install_defaults(*, actor=None) -> dict:
    """Install the shipped pools, tried in priority order:

    10 "A channel" (grade A, weighted): the two most senior reps of each region, weight 2, cap 8;
    20 "Newcomers + mentor" (grade B from the web form or the API): the top 3 newcomers by first-contact
       success rate plus one mentor, resolved at assignment time;
    30 one round-robin pool per region for grade B: that region's reps;
    90 "Nurturing" (grade C): status nurturing, no owner, no backlog.

    Idempotent: pools are found by their key and never changed once present (they are the user's to
    edit), except that a default pool still without members gets its default members (a fresh install
    creates the pools before anyone is hired). Returns {"pools": created, "members": created}.
    """
    from django.utils import translation

    from baton.org.models import Region

    created = {"pools": 0, "members": 0}

    def ensure(key, name, members=(), **data):
        pool = Pool.objects.filter(key=key).first()
        if pool is None:
            if Pool.objects.filter(name=name).exists():  # a pool of the user's already has this name
                return None
            pool = create_object(Pool, actor=actor, source=ChangeSource.SYSTEM, check_scope=False,
                                 data={"name": name, **data})
            Pool.objects.filter(pk=pool.pk).update(key=key)
            created["pools"] += 1
        if members and not PoolMember.objects.filter(pool=pool).exists():
            for user, weight in members:
                create_object(PoolMember, actor=actor, source=ChangeSource.SYSTEM, check_scope=False, data={
                    "pool": pool, "user": user, "weight": weight, "daily_cap": 8, "active": True})
                created["members"] += 1
        return pool

    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        regions = list(Region.objects.order_by("id"))
        seniors = [u for r in regions for u in _senior_reps(r)[:2]]
        ensure("pool.a_channel", _("A channel"), members=[(u, 2) for u in seniors], priority=10,
               condition=GRADE_A, strategy=Strategy.WEIGHTED)
        mentor = User.objects.filter(is_active=True, roles__code="mentor").order_by("id").first()
        ensure("pool.newcomers", _("Newcomers + mentor"), priority=20,
                           condition=NEWCOMER_CONDITION, strategy=Strategy.LEAST_LOADED,
                           dynamic_rule={"kind": "top_newcomers", "n": 3, "metric": "first_contact_success_rate",
                                         "plus_users": [mentor.pk] if mentor else [], "daily_cap": 8})
        for region in regions:
            ensure(f"pool.region.{region.code}", _("Grade B · %(region)s") % {"region": region.name},
                   members=[(u, 1) for u in _reps(region)], priority=30, condition=GRADE_B, region=region,
                   strategy=Strategy.ROUND_ROBIN)
        ensure("pool.nurturing", _("Nurturing"), priority=90, condition=GRADE_C, action=PoolAction.NURTURE,
               strategy=Strategy.ROUND_ROBIN)
    return created
