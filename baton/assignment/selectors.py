"""Reads of the assignment app: pools, the manager's board, and a lead's assignment explanation."""

from django.db.models import Count

from baton.core import clock
from baton.core.errors import PermissionDenied

from .models import Assignment, MemberAbsence, Pool, PoolBacklog, PoolMember, ReassignReason
from .services import pool_candidates

BOARD_ROLES = ("manager", "director", "ops")


def _may_see_board(user) -> bool:
    return user is not None and user.is_authenticated and (
        user.is_superuser or any(user.has_role(r) for r in BOARD_ROLES))


def pool_list():
    return Pool.objects.annotate(backlog_count=Count("backlog", distinct=True)).order_by("priority", "id")


def pool_members(pool):
    return PoolMember.objects.filter(pool=pool).select_related("user").order_by("id")


def absence_list(*, user=None):
    qs = MemberAbsence.objects.select_related("user")
    return qs.filter(user=user) if user is not None else qs


def reason_list():
    return ReassignReason.objects.filter(active=True)


def backlog_list(pool):
    return PoolBacklog.objects.filter(pool=pool).select_related("lead").order_by("since", "id")


def assignment_board(*, user) -> dict:
    """Today's load of each pool member against the cap, who is away, and how many leads wait per pool.

    {"date": date, "pools": [{"id", "name", "strategy", "active", "backlog": n,
      "members": [{"user_id", "name", "today", "cap", "status": "" | "capped" | "absent" | "inactive",
                   "dynamic": bool}]}], "backlog_total": n}
    """
    if not _may_see_board(user):
        raise PermissionDenied()
    pools = []
    for pool in pool_list():
        members = [{"user_id": c.user.pk, "name": str(c.user), "today": c.today, "cap": c.cap,
                    "status": c.unavailable, "dynamic": c.member_id is None}
                   for c in pool_candidates(pool)]
        pools.append({"id": pool.pk, "name": pool.name, "strategy": pool.strategy, "active": pool.active,
                      "backlog": pool.backlog_count, "members": members})
    return {"date": clock.today(), "pools": pools, "backlog_total": sum(p["backlog"] for p in pools)}


def lead_explanations(lead) -> dict:
    """How the lead got its owner: every assignment decision, newest first.

    {"assignment_explanation": [{"at", "kind", "pool", "pool_id", "user", "user_id", "strategy",
      "rotation_position", "skipped", "explanation", "reason_code", "note", "actor"}],
     "backlog": {"pool", "pool_id", "since"} | None}
    """
    rows = Assignment.objects.filter(lead_id=lead.pk).select_related("pool", "user", "actor")
    out = [{"at": a.at, "kind": a.kind, "pool": a.pool.name if a.pool else None, "pool_id": a.pool_id,
            "user": str(a.user) if a.user else None, "user_id": a.user_id, "strategy": a.strategy,
            "rotation_position": a.rotation_position, "skipped": a.skipped, "explanation": a.explanation,
            "reason_code": a.reason_code, "note": a.note, "actor": str(a.actor) if a.actor else None}
           for a in rows]
    entry = PoolBacklog.objects.filter(lead_id=lead.pk).select_related("pool").first()
    backlog = {"pool": entry.pool.name, "pool_id": entry.pool_id, "since": entry.since} if entry else None
    return {"assignment_explanation": out, "backlog": backlog}
