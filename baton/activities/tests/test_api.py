"""`/api/activities` and `/api/tasks`."""

import pytest

from baton.activities.models import Activity, Task
from baton.core.testing.api import ApiClient
from baton.core.testing.factories import make_activity, make_lead, make_task, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return make_user(roles=["rep"], team=make_team())


@pytest.fixture
def api(rep):
    return ApiClient(rep)


def test_activity_crud_stamps_the_lead(rep, api):
    lead = make_lead(owner=rep)
    created = api.post("/api/activities", {"kind": "call", "outcome": "connected", "lead": lead.pk,
                                           "occurred_at": "2030-03-01T10:00:00+08:00", "duration_minutes": 5})
    assert created.status_code == 201, created.content
    activity = created.json()
    assert activity["author"] == rep.pk and activity["lead"] == lead.pk
    lead.refresh_from_db()
    assert lead.first_contact_at is not None and lead.status == "contacted"
    patched = api.patch(f"/api/activities/{activity['id']}", {"note": "约了下周拜访"})
    assert patched.status_code == 200 and patched.json()["note"] == "约了下周拜访"
    assert api.get("/api/activities", {"lead": lead.pk}).json()["count"] == 1
    assert api.get("/api/activities", {"kind": "visit"}).json()["count"] == 0
    manager = make_user(roles=["manager"], team=rep.team)
    assert ApiClient(manager).delete(f"/api/activities/{activity['id']}").status_code == 204
    assert not Activity.objects.exists()


def test_activity_validation_and_scope(rep, api):
    assert api.post("/api/activities", {"kind": "telepathy"}).status_code == 422
    assert api.post("/api/activities", {"kind": "call", "duration_minutes": -3}).status_code == 422
    hidden_lead = make_lead(owner=make_user(roles=["rep"], team=make_team()))
    response = api.post("/api/activities", {"kind": "call", "lead": hidden_lead.pk})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "lead"
    other = make_activity(author=make_user(roles=["rep"], team=make_team()))
    assert api.get(f"/api/activities/{other.pk}").status_code == 404
    assert api.get("/api/activities").json()["count"] == 0


def test_task_crud(rep, api):
    lead = make_lead(owner=rep)
    created = api.post("/api/tasks", {"title": "回访", "due_at": "2030-03-02T09:00:00+08:00",
                                      "linked_type": "leads.lead", "linked_id": lead.pk})
    assert created.status_code == 201, created.content
    task = created.json()
    assert task["assignee"] == rep.pk and task["linked_type"] == "leads.lead" and task["linked_id"] == lead.pk
    done = api.patch(f"/api/tasks/{task['id']}", {"status": "done"})
    assert done.status_code == 200 and done.json()["completed_at"]
    assert api.get("/api/tasks", {"status": "done"}).json()["count"] == 1
    assert api.get("/api/tasks", {"status": "open"}).json()["count"] == 0
    manager = make_user(roles=["manager"], team=rep.team)
    assert ApiClient(manager).delete(f"/api/tasks/{task['id']}").status_code == 204
    assert not Task.objects.exists()


def test_task_validation_and_scope(rep, api):
    assert api.post("/api/tasks", {"title": "x", "status": "someday"}).status_code == 422
    assert api.post("/api/tasks", {"title": "x", "assignee": 999999}).status_code == 422
    response = api.post("/api/tasks", {"title": "x", "linked_type": "leads.lead", "linked_id": 999999})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "linked_id"
    other = make_task(assignee=make_user(roles=["rep"], team=make_team()))
    assert api.get(f"/api/tasks/{other.pk}").status_code == 404
    assert api.patch(f"/api/tasks/{other.pk}", {"title": "mine now"}).status_code == 404
