import pytest

from baton.assignment.models import Assignment, Pool
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient

pytestmark = pytest.mark.django_db


def test_pool_members_board_and_reassign():
    ops = f.make_user(roles=("ops",))
    client = ApiClient(ops)
    resp = client.post("/api/pools", {"name": "华东", "strategy": "round_robin",
                                      "condition": {"all": [{"field": "source", "op": "eq", "value": "referral"}]}})
    assert resp.status_code == 201, resp.content
    pool_id = resp.json()["id"]
    reps = [f.make_user() for _ in range(2)]
    for rep in reps:
        resp = client.post(f"/api/pools/{pool_id}/members", {"user_id": rep.pk, "daily_cap": 3})
        assert resp.status_code == 201, resp.content
    board = client.get("/api/pools/board").json()
    assert [m["cap"] for m in board["pools"][0]["members"]] == [3, 3]

    lead = f.lead(owner=reps[0])
    resp = client.post("/api/pools/reassign", {"lead_id": lead.pk, "to_user_id": reps[1].pk,
                                               "reason_code": "workload"})
    assert resp.status_code == 200, resp.content
    lead.refresh_from_db()
    assert lead.owner == reps[1]
    assert Assignment.objects.get().reason_code == "workload"
    resp = client.post("/api/pools/reassign", {"lead_id": lead.pk, "to_user_id": reps[0].pk,
                                               "reason_code": "nope"})
    assert resp.status_code == 422


def test_invalid_pool_condition_422_and_rep_forbidden():
    client = ApiClient(f.make_user(roles=("ops",)))
    resp = client.post("/api/pools", {"name": "x", "condition": {"all": [{"field": "nope", "op": "eq"}]}})
    assert resp.status_code == 422
    rep_client = ApiClient(f.make_user(roles=("rep",)))
    assert rep_client.post("/api/pools", {"name": "y"}).status_code == 403
    assert rep_client.get("/api/pools/board").status_code == 403
    assert not Pool.objects.exists()
