"""The ceiling for `POST /api/leads`: a minimal Django endpoint that validates a JSON lead and inserts one
row into the same indexed lead table (no auth, no rules, no assignment, no audit)."""

import contextlib
import json
import re

from django.db import transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from baton.core import clock
from baton.leads.models import Lead, LeadSource

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SOURCES = set(LeadSource.values)


def _validated(request):
    """(company, email, phone, source) of a POSTed JSON lead, or the JsonResponse refusing it."""
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "bad JSON"}, status=400)
    company, email = str(data.get("company", ""))[:200], str(data.get("email", ""))
    source = data.get("source", "other")
    if source not in _SOURCES or (email and not _EMAIL.match(email)):
        return JsonResponse({"detail": "invalid"}, status=422)
    return company, email, str(data.get("phone", ""))[:30], source


@csrf_exempt
def bare_lead(request):
    values = _validated(request)
    if isinstance(values, JsonResponse):
        return values
    company, email, phone, source = values
    now = clock.now()
    with transaction.atomic():
        lead = Lead.objects.create(company=company, email=email, email_norm=email.lower(), source=source,
                                   phone=phone, created_at=now, updated_at=now)
    return JsonResponse({"id": lead.pk}, status=201)


urlpatterns = [path("api/bare-leads", bare_lead)]


# --- The floor: a full intake's database work with none of its logic --------------------------------------
# Same statements as `POST /api/leads` on the shipped defaults (token read, duplicate lookup, members, pool lock
# with today's counts, the rotation and counts, the lead with its tags, evaluation, assignment and three audit
# rows, one transaction), with fixed values instead of validation, rules, decisions and the JSON answer. Its ratio
# to the bare endpoint bounds what any implementation of the full request can reach on this stack.
_floor: dict = {}


def _floor_setup():
    from django.contrib.contenttypes.models import ContentType

    from baton.assignment.models import Assignment, Pool
    from baton.core.models import AuditEntry
    from baton.core.rawsql import RawInserter
    from baton.leads.models import Tag
    from baton.rules.models import LeadEvaluation

    if not _floor:  # filled in one step: the server's threads may read it while another builds it
        _floor.update({
            "inserters": [RawInserter(Lead), RawInserter(Lead.tags.through, with_ids=False),
                          RawInserter(LeadEvaluation, with_ids=False), RawInserter(Assignment),
                          RawInserter(AuditEntry, with_ids=False)],
            "pool": Pool.objects.get(name="Bench catch-all").pk,
            "tags": list(Tag.objects.order_by("id").values_list("id", flat=True)[:2]),
            "ct": ContentType.objects.get_for_model(Lead).pk})
    return _floor


@csrf_exempt
def floor_lead(request, pool_lock=True, minimal=False):
    """`pool_lock=False` (`/api/floor-leads-unlocked`): the same without the pool's lock and rotation write, the
    pick taken from the request's company instead: what a design that never queues intakes on the pool could
    reach at best (it does not keep caps; a measurement only).
    `minimal=True` (`/api/floor-leads-minimal`): only what the issue's own list of steps cannot do without
    (token read, duplicate lookups, then the lead and one audit row in one transaction): no pool, members,
    tags, evaluation or assignment row at all. A lower bound for any implementation, whatever it stores."""
    from django.db import connection

    from baton.assignment.services import day_bounds
    from baton.capture.selectors import _statements
    from baton.core.rawsql import insert_linked
    from baton.org.services import _token_statement, hash_token

    values = _validated(request)
    if isinstance(values, JsonResponse):
        return values
    company, email, phone, source = values
    setup, now, vendor = _floor_setup(), clock.now(), connection.vendor
    sql = _statements(vendor)
    phone_norm, email_norm, company_norm = "+86" + phone, email.lower(), company[:12]
    start, _end = day_bounds()
    with connection.cursor() as cursor:
        cursor.execute(_token_statement(vendor), [hash_token(request.headers.get("Authorization", "")[7:])])
        if cursor.fetchone() is None:
            return JsonResponse({"detail": "unauthorised"}, status=401)
        cursor.execute(sql["matches"] + sql["phone"] + " OR " + sql["email"] + sql["newest_first"],
                       [phone_norm, email_norm, 100])
        cursor.fetchall()
        prefix = company_norm[:2]
        cursor.execute(sql["candidates"], ([prefix, prefix + "\U0010ffff"] if vendor == "sqlite" else [prefix + "%"])
                       + [200])
        cursor.fetchall()
    if minimal:
        return _floor_minimal(setup, company, email, phone, source, phone_norm, email_norm, company_norm, now)
    # On PostgreSQL the pick is read without a lock and swapped in, committed on its own, then the rows go out in
    # one statement (as `assignment.services.assignment_reserve` and `leads.express`); on SQLite it is taken
    # in the lead's transaction.
    reserved, state = None, None
    if pool_lock and vendor == "postgresql":
        with connection.cursor() as cursor:
            while reserved is None:
                reserved = _floor_pick(cursor, setup, company, pool_lock, vendor, start, swap=True, state=state)
                cursor.execute(*reserved[2].pop())
                swapped, last, counts = cursor.fetchone()
                if not swapped:  # the state another pick wrote first: picked again from it
                    reserved, state = None, (last, json.loads(counts) if isinstance(counts, str) else counts)
    with contextlib.nullcontext() if reserved else transaction.atomic(), connection.cursor() as cursor:
        user, position, rotation = reserved or _floor_pick(cursor, setup, company, pool_lock, vendor, start)
        row = {"company": company, "email": email, "phone": phone, "phone_norm": phone_norm, "email_norm": email_norm,
               "company_norm": company_norm, "source": source, "status": "assigned", "owner_id": user, "score": 40,
               "grade": "C", "created_at": now, "updated_at": now, "assigned_at": now, "status_changed_at": now}
        explanation = [{"rule": "floor", "rule_id": 1, "version": 1, "kind": "static", "points": 40}]
        audits = [{"at": now, "actor_id": None, "source": "api", "action": action, "content_type_id": setup["ct"],
                   "object_id": None, "object_repr": company, "changes": {"company": [None, company]}, "message": ""}
                  for action in ("create", "update", "update")]
        lead_rows, tag_rows, evaluation_rows, assignment_rows, audit_rows = setup["inserters"]
        linked = [(tag_rows, [{"lead_id": None, "tag_id": t} for t in setup["tags"]],
                   "lead_id", False),
                  (evaluation_rows, [{
                      "lead_id": None, "score_explanation": explanation, "tag_explanation": [], "auto_tags": [],
                      "raw_score": 40, "grade_bands_version": 1, "evaluated_at": now}], "lead_id", False),
                  (assignment_rows, [{
                      "lead_id": None, "pool_id": setup["pool"], "user_id": user, "kind": "auto", "at": now,
                      "strategy": "round_robin", "rotation_position": position, "skipped": [],
                      "explanation": "floor"}], "lead_id", True),
                  (audit_rows, audits, "object_id", False)]
        if vendor == "postgresql":
            pk, _ids = insert_linked(lead_rows, row, linked, also=rotation)
        else:
            for statement in rotation:
                cursor.execute(*statement)
            pk = lead_rows.insert_values([row])[0]
            for inserter, rows, link, _want in linked:
                inserter.insert_values([{**r, link: pk} for r in rows])
    return JsonResponse({"id": pk}, status=201)


def _floor_pick(cursor, setup, company, pool_lock, vendor, start, swap=False, state=None):
    """(user, position, [rotation statement]) as `assignment.services.assignment_decide` picks; `swap`: the
    state read without a lock (or `state`, returned by the last swap), the statement written over the state
    read and returning the current state when it is not (`pool_rotation_swap`)."""
    # the members are kept per process, as `assignment.services.pool_members` keeps them; today's counts come
    # with the pool's state
    if "members" not in _floor:
        cursor.execute("SELECT m.user_id, EXISTS(SELECT 1 FROM assignment_memberabsence x WHERE x.user_id = "
                       "m.user_id AND x.date_from <= %s AND x.date_to >= %s) FROM assignment_poolmember m "
                       "WHERE m.pool_id = %s ORDER BY m.id", [start.date(), start.date(), setup["pool"]])
        _floor["members"] = [r[0] for r in cursor.fetchall()]
    users = _floor["members"]
    last, counts = None, {}
    if state is not None:
        last, counts = state
    elif pool_lock:
        lock = " FOR NO KEY UPDATE" if vendor == "postgresql" and not swap else ""
        cursor.execute(f"SELECT rotation_last_user_id, day_counts FROM assignment_pool WHERE id = %s{lock}",
                       [setup["pool"]])
        last, counts = cursor.fetchone()
        counts = json.loads(counts) if isinstance(counts, str) else counts
    before = counts
    position = ((users.index(last) + 1) % len(users) if last in users else 0) if pool_lock else (
        hash(company) % len(users))
    user = users[position]
    counts = {**counts, str(user): counts.get(str(user), 0) + 1}
    rotation = [("UPDATE assignment_pool SET rotation_last_user_id = %s, day_counts = %s WHERE id = %s",
                 [user, json.dumps(counts), setup["pool"]])] if pool_lock else []
    if swap:
        rotation = [("WITH swapped AS (UPDATE assignment_pool SET rotation_last_user_id = %s, day_counts = %s "
                     "WHERE id = %s AND rotation_last_user_id IS NOT DISTINCT FROM %s AND day_counts = %s::jsonb "
                     "AND set_config('synchronous_commit', 'off', true) IS NOT NULL RETURNING 1) "
                     "SELECT EXISTS(SELECT 1 FROM swapped), rotation_last_user_id, day_counts FROM assignment_pool "
                     "WHERE id = %s",
                     [user, json.dumps(counts), setup["pool"], last, json.dumps(before), setup["pool"]])]
    return user, position, rotation


def _floor_minimal(setup, company, email, phone, source, phone_norm, email_norm, company_norm, now):
    from django.db import connection

    from baton.core.rawsql import insert_linked

    lead_rows, _tags, _evaluations, _assignments, audit_rows = setup["inserters"]
    row = {"company": company, "email": email, "phone": phone, "phone_norm": phone_norm, "email_norm": email_norm,
           "company_norm": company_norm, "source": source, "status": "new", "score": 40, "grade": "C",
           "created_at": now, "updated_at": now, "status_changed_at": now}
    audit = {"at": now, "actor_id": None, "source": "api", "action": "create", "content_type_id": setup["ct"],
             "object_id": None, "object_repr": company, "changes": {"company": [None, company]}, "message": ""}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            pk, _ids = insert_linked(lead_rows, row, [(audit_rows, [audit], "object_id", False)])
        else:
            pk = lead_rows.insert_values([row])[0]
            audit_rows.insert_values([{**audit, "object_id": pk}])
    return JsonResponse({"id": pk}, status=201)


urlpatterns += [path("api/floor-leads", floor_lead),
                path("api/floor-leads-unlocked", floor_lead, {"pool_lock": False}),
                path("api/floor-leads-minimal", floor_lead, {"minimal": True})]
