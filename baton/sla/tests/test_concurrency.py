"""Two workers scanning at the same moment never fire a step twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from baton.core.clock import parse_now as at
from baton.core.testing.factories import make_user
from baton.leads.models import Lead
from baton.notifications.models import Notification
from baton.sla.models import SlaCrossing, SlaPolicy
from baton.sla.services import sla_install_defaults, sla_scan

NOW = at("2026-03-09T15:00")


@pytest.mark.django_db(transaction=True)
def test_two_workers_scanning_at_once_fire_each_crossing_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections: SQLite serialises writers on one file lock, "
                    "so two scanners there cannot overlap; run with DATABASE_URL=postgres://…")
    sla_install_defaults()
    SlaPolicy.objects.exclude(code="unassigned").update(active=False)
    ops = make_user(roles=("ops",))
    Lead.objects.bulk_create([Lead(company=f"L{i}", created_at=NOW - timedelta(hours=3)) for i in range(300)])
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(sla_scan(NOW))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert SlaCrossing.objects.count() == 600  # warning + breach for each lead, once
    assert sum(r["new"] for r in results) == 600
    # the breach tells ops once per lead (the warning is skipped when one scan records both)
    assert sum(r["fired"] for r in results) == 300
    assert Notification.objects.filter(recipient=ops).count() == 300
    assert sla_scan(NOW)["new"] == 0
