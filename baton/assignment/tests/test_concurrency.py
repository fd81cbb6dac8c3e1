"""Parallel intake: no member exceeds the daily cap and no lead gets two owners, on the general write path and on
the express one (the API's capture shape), whose pick is reserved in a transaction of its own on PostgreSQL."""

import threading
from collections import Counter

import pytest
from django.db import close_old_connections, connection

from baton.assignment.models import Assignment, Pool, PoolBacklog, PoolMember
from baton.assignment.services import CAPPED_KINDS
from baton.core import clock
from baton.core.models import ChangeSource
from baton.core.testing import factories as f
from baton.leads.models import Lead
from baton.leads.services import lead_create

THREADS = 8
LEADS_PER_THREAD = 4


def _general(ops, n, i):  # a field the express write does not take: `lead_create` then `lead_auto_assign`
    return lead_create(actor=ops, company=f"并发{n}-{i}", lead_source="web_form")


def _express(ops, n, i):
    return lead_create(actor=ops, source=ChangeSource.API, company=f"并发{n}-{i}", phone=f"1390{n:03d}{i:04d}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", [_general, _express])
def test_parallel_intake_respects_caps_and_gives_each_lead_one_owner(write):
    if connection.vendor != "postgresql":
        pytest.skip("row locks only mean something on PostgreSQL; SQLite runs one writer at a time "
                    "(IMMEDIATE transactions), run with DATABASE_URL=postgres://… to exercise this")
    pool = Pool.objects.create(name="intake", strategy="round_robin")
    reps = [f.user(username=f"rep{i}") for i in range(3)]
    caps = [5, 7, 9]  # 21 places for 32 leads: 11 must wait in the backlog
    for rep, cap in zip(reps, caps, strict=True):
        PoolMember.objects.create(pool=pool, user=rep, daily_cap=cap)
    ops = f.user(roles=("ops",))
    start = threading.Barrier(THREADS)
    errors = []

    def intake(n):
        try:
            with clock.frozen("2026-03-02T10:00:00"):
                start.wait()
                for i in range(LEADS_PER_THREAD):
                    write(ops, n, i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=intake, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    total = THREADS * LEADS_PER_THREAD
    assert Lead.objects.count() == total
    given = Assignment.objects.filter(user__isnull=False)
    per_user = Counter(given.values_list("user", flat=True))
    assert {u.pk: per_user[u.pk] for u in reps} == {u.pk: c for u, c in zip(reps, caps, strict=True)}
    per_lead = Counter(given.values_list("lead", flat=True))
    assert max(per_lead.values()) == 1
    for lead in Lead.objects.filter(pk__in=per_lead):
        assert lead.owner_id == given.get(lead=lead).user_id
    assert PoolBacklog.objects.count() == total - sum(caps)
    assert Lead.objects.filter(owner__isnull=True).count() == total - sum(caps)
    # the counts kept on the pool are the rows' (the express write reserved each pick before writing its lead)
    pool.refresh_from_db()
    rows = Counter(Assignment.objects.filter(pool=pool, kind__in=CAPPED_KINDS).values_list("user", flat=True))
    assert pool.day_counts == {str(u.pk): rows[u.pk] for u in reps}
