"""The write path of a new lead from capture (the API, web forms, the UI): tags, score, grade and pool are
decided on the unsaved row first (`leads.unsaved.RowView`, the same engines as `lead_evaluate` and
`lead_auto_assign`), then the lead is inserted once with its final values and its evaluation, tags,
assignment and audit rows follow in one statement per table.

`lead_create` inserts, then lets each engine update the row it wrote. That costs an UPDATE, model
instances and ORM query building for about twenty statements, which made a captured lead cost ten times
a plain insert. The rows written here are the same (the tests hold both paths equal); the audit keeps its
three entries (created, re-scored, assigned) so a lead's history reads the same whichever path wrote it.
On PostgreSQL the member is picked and committed before the lead is written (`assignment_reserve`, without
holding the pool's lock), so concurrent intakes into a pool do not wait for each other's insert and commit.

Only the plain capture shape takes this path (`accepts`); anything else (tags or an owner given by the
caller, custom fields, a status other than new, a caller whose scope is not the whole company, whose
check needs the row in the database) goes through `lead_create`'s general path.
"""

import contextlib
import logging

from django.db import connection, transaction
from django.utils.translation import gettext as _

from baton.core import clock, config_cache, scoping
from baton.core.models import AuditEntry, ChangeSource
from baton.core.rawsql import RawInserter, insert_linked
from baton.core.services import _full_clean, _plain, audit_values, snapshot
from baton.leads.models import Lead, LeadStatus
from baton.leads.unsaved import RowView

# The fields a plain capture carries (plus the stamps and duplicate keys `lead_create` adds).
_FIELDS = frozenset({
    "source", "external_id", "company", "contact_name", "phone", "email", "budget", "region", "notes",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "duplicate_of", "status",
    "created_at", "phone_norm", "email_norm", "company_norm"})
_INSERTERS: dict = {}
logger = logging.getLogger(__name__)


def _inserter(model, **kw) -> RawInserter:
    key = (model, tuple(sorted(kw.items())))
    inserter = _INSERTERS.get(key)
    if inserter is None:
        inserter = _INSERTERS[key] = RawInserter(model, **kw)
    return inserter


def accepts(data: dict, actor) -> bool:
    """Whether `lead_create` may take the express path for `data` (its keywords, normalised)."""
    if not data.keys() <= _FIELDS or data.get("status", LeadStatus.NEW) != LeadStatus.NEW:
        return False
    # The scope check of a created row reads it back from the database: only a company-wide scope skips it.
    return actor is None or scoping.scope_for(actor, Lead, "change") == scoping.ALL


def lead_create_express(*, actor, source, data: dict, savepoint: bool) -> Lead:
    """Create, tag, score, grade and assign a lead as `lead_create(process=True)` does (`data` holds its
    keywords after normalisation and stamping: `created_at`, `status_changed_at`, duplicate keys)."""
    from baton.assignment.services import assignment_members_first, assignment_release, assignment_reserve
    from baton.rules.services import RuleSet, evaluate_new

    lead = Lead(**data)
    # A related row given as an instance was read from the database in this request: no existence query.
    _full_clean(lead, exclude=[name for name in ("region", "duplicate_of") if data.get(name) is not None])
    created = snapshot(lead, list(data))
    token = config_cache.current_token()
    now = clock.now()
    view = RowView(data, now)
    rules = RuleSet.current(token)
    ev = evaluate_new(view, rules)

    # Everything that does not depend on the assignment is built before the transaction starts (on SQLite it
    # holds the one write lock) and before the pool is locked (on PostgreSQL, concurrent intakes into one pool
    # queue on its row until the transaction ends).
    audit_rows = [audit_values(lead, actor=actor, source=source, action=AuditEntry.Action.CREATE,
                               changes={k: [None, v] for k, v in created.items() if v not in (None, "", [], {})})]
    tag_names = sorted(t.name for t in ev["tags"])
    rescored = {}
    if tag_names:
        rescored["tags"] = [[], tag_names]
        if rules.scoring_reads_tags:  # lead_evaluate writes the tags first, on their own
            audit_rows.append(audit_values(lead, actor=None, source=source, action=AuditEntry.Action.UPDATE,
                                           changes=rescored, message=_("re-tagged")))
            rescored = {}
    if ev["score"] != lead.score:
        rescored["score"] = [lead.score, ev["score"]]
    if ev["grade"] != lead.grade:
        rescored["grade"] = [lead.grade, ev["grade"]]
    lead.score, lead.grade = ev["score"], ev["grade"]
    if rescored:
        audit_rows.append(audit_values(lead, actor=None, source=source, action=AuditEntry.Action.UPDATE,
                                       changes=rescored, message=_("re-scored")))
    lead.updated_at = now
    row = _columns(lead)
    tag_rows = [{"lead_id": None, "tag_id": t.pk} for t in ev["tags"]]
    evaluation = {"lead_id": None, "score_explanation": ev["score_explanation"],
                  "tag_explanation": ev["tag_explanation"], "auto_tags": sorted({t.name for t in ev["tags"]}),
                  "raw_score": ev["raw"], "grade_bands_version": rules.bands.version, "evaluated_at": now}

    members = assignment_members_first(view, token)

    # On PostgreSQL, outside a caller's transaction, the pick is reserved first, committed on its own without
    # locking the pool (`assignment_reserve`), so concurrent intakes into the pool do not queue while this one
    # inserts and commits. Elsewhere it is taken under the pool's lock in the lead's transaction: on SQLite
    # that transaction holds the database's one write lock anyway, and a caller's transaction (an idempotent
    # request) keeps the pick and the lead together.
    postgres = connection.vendor == "postgresql"
    reserved = None
    if postgres and not connection.in_atomic_block:
        reserved = assignment_reserve(view, token, members=members)
    try:
        _write(lead, view, token, members, reserved, row, tag_rows, evaluation, audit_rows, now, savepoint)
    except BaseException:
        if reserved is not None:
            try:
                assignment_release(reserved)
            except Exception:  # the write's own error is the one to answer with; this one is logged
                logger.exception("could not give back the pick of pool %s: the member's count of the day stays "
                                 "one over", reserved.pool.pk)
        raise

    # What the API answers with, without reading anything back.
    lead._prefetched_objects_cache = {"tags": _cached(lead, "tags", sorted(ev["tags"], key=lambda t: t.name)),
                                      "industries": _cached(lead, "industries", [])}
    lead._score_explanation = ev["score_explanation"]
    return lead


def _write(lead, view, token, members, reserved, row, tag_rows, evaluation, audit_rows, now, savepoint):
    """`lead_create_express`'s transaction: the decision (`reserved`, or taken here under the pool's lock) and
    every row, on `lead`."""
    from baton.assignment.models import Assignment, PoolBacklog
    from baton.assignment.services import (
        assignment_decide,
        explained_new_lead,
        pool_rotation_save,
        pool_rotation_statement,
    )
    from baton.rules.models import LeadEvaluation

    postgres = connection.vendor == "postgresql"
    # After a reservation the rows go out in one statement (below), atomic by itself: no transaction block,
    # whose BEGIN and COMMIT would be two round trips more.
    with contextlib.nullcontext() if reserved else transaction.atomic(savepoint=savepoint):
        decision = reserved or assignment_decide(view, token, save_rotation=False, members=members)
        assigned = _assignment_changes(lead, decision, now)
        if assigned:  # written by the engine for the company, like lead_auto_assign's
            audit_rows.append(audit_values(lead, actor=None, source=ChangeSource.SYSTEM,
                                           action=AuditEntry.Action.UPDATE, changes=assigned,
                                           message=decision.explanation))
            row.update({name: getattr(lead, name) for name in _DECIDED})
        rotation = ([pool_rotation_statement(decision.pool)]
                    if decision.kind == Assignment.Kind.AUTO and reserved is None else [])
        assignment = _assignment_row(lead, decision, now)
        assigned_row = _columns(assignment)
        backlog = ([{"pool_id": decision.pool.pk, "lead_id": None, "since": now}]
                   if decision.kind == Assignment.Kind.BACKLOG else [])
        linked = [(_inserter(Lead.tags.through, with_ids=False), tag_rows, "lead_id", False),
                  (_inserter(LeadEvaluation, with_ids=False), [evaluation], "lead_id", False),
                  (_inserter(Assignment), [assigned_row], "lead_id", True),
                  (_inserter(PoolBacklog, with_ids=False), backlog, "lead_id", False),
                  (_inserter(AuditEntry, with_ids=False), audit_rows, "object_id", False)]
        if postgres:  # one round trip for the six tables and the rotation
            lead.pk, (assignment_ids,) = insert_linked(_inserter(Lead), row, linked, also=rotation)
            assignment.pk = assignment_ids[0]
        else:  # SQLite runs in-process: a statement per table costs no round trip
            if rotation:
                pool_rotation_save(decision.pool)
            lead.pk = _inserter(Lead).insert_values([row])[0]
            for inserter, rows, link, want_ids in linked:
                ids = inserter.insert_values([{**r, link: lead.pk} for r in rows])
                if want_ids:
                    assignment.pk = ids[0]
        lead._state.adding, lead._state.db = False, transaction.get_connection().alias
    lead._assignment_explained = explained_new_lead(assignment)


# The lead's fields an assignment decision sets (`_assignment_changes`).
_DECIDED = ("owner_id", "assigned_at", "status", "status_changed_at")


def _columns(obj) -> dict:
    """An unsaved row's column values by attname (its database-generated id left out)."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if not f.primary_key}


def _assignment_changes(lead: Lead, decision, now) -> dict:
    """The lead's new owner / status from the decision, applied to `lead`; the audit's changes as
    `lead_engine_write` records them (with the clock stamps of `leads.services._stamp`)."""
    from baton.assignment.models import Assignment

    if decision.kind == Assignment.Kind.AUTO:
        user = decision.pick.user
        changes = {"owner": [None, {"id": user.pk, "label": str(user)}],
                   "assigned_at": [None, _plain(now)], "status": [lead.status, LeadStatus.ASSIGNED.value]}
        lead.owner, lead.assigned_at, lead.status = user, now, LeadStatus.ASSIGNED
    elif decision.kind == Assignment.Kind.NURTURE:
        changes = {"status": [lead.status, LeadStatus.NURTURING.value]}
        lead.status = LeadStatus.NURTURING
    else:
        return {}
    before, after = _plain(lead.status_changed_at), _plain(now)
    lead.status_changed_at = now
    if before != after:
        changes["status_changed_at"] = [before, after]
    return changes


def _assignment_row(lead: Lead, decision, now):
    from baton.assignment.models import Assignment

    kind, pool = decision.kind, decision.pool
    row = Assignment(lead=lead, pool=pool, kind=kind, at=now, explanation=decision.explanation)
    if kind == Assignment.Kind.AUTO:
        pick = decision.pick
        row.user, row.strategy, row.rotation_position, row.skipped = (pick.user, pool.strategy, pick.position,
                                                                     pick.skipped)
    elif kind == Assignment.Kind.BACKLOG:
        row.strategy, row.skipped = pool.strategy, decision.skipped
    return row


def _cached(lead, name, items):
    qs = getattr(lead, name).all()
    qs._result_cache, qs._prefetch_done = items, True
    return qs

