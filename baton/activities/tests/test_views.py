"""Activity and task pages through the Django test client."""

import pytest
from django.urls import reverse

from baton.activities.models import Activity, Task
from baton.core.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return f.user("act_rep", roles=("rep",))


@pytest.fixture
def signed_in(client, rep):
    client.force_login(rep)
    return client


def test_activity_list_filter_and_scope(signed_in, rep):
    f.activity(author=rep, kind="call", subject="My call")
    f.activity(author=rep, kind="visit", subject="My visit")
    f.activity(author=f.user(), kind="call", subject="Their call")
    html = signed_in.get(reverse("activities:list"), {"kind": "call"}).content.decode()
    assert "My call" in html and "My visit" not in html and "Their call" not in html


def test_activity_detail_edit_delete(signed_in, rep, client):
    activity = f.activity(author=rep, subject="Editable")
    assert "Editable" in signed_in.get(reverse("activities:detail", args=[activity.pk])).content.decode()
    response = signed_in.post(reverse("activities:edit", args=[activity.pk]),
                              {"kind": "meeting", "subject": "Edited", "occurred_at": "2026-03-01T10:00"})
    activity.refresh_from_db()
    assert response.status_code == 302 and activity.subject == "Edited" and activity.kind == "meeting"
    # Reps may not delete; managers may, for their team.
    assert signed_in.post(reverse("activities:delete", args=[activity.pk])).status_code == 403
    manager = f.user("act_mgr", roles=("manager",))
    own = f.activity(author=manager)
    client.force_login(manager)
    assert client.post(reverse("activities:delete", args=[own.pk])).status_code == 302
    assert not Activity.objects.filter(pk=own.pk).exists()


def test_activity_cannot_be_linked_to_an_unseen_lead(signed_in):
    foreign = f.lead(owner=f.user())
    response = signed_in.post(reverse("activities:create"), {"kind": "call", "subject": "x", "lead": foreign.pk})
    assert response.status_code == 200
    assert not Activity.objects.filter(subject="x").exists()


def test_negative_duration_is_refused(signed_in):
    response = signed_in.post(reverse("activities:create"),
                              {"kind": "call", "subject": "Neg", "duration_minutes": "-3"})
    assert response.status_code == 200 and "invalid-feedback" in response.content.decode()


def test_out_of_scope_activity_and_task_are_404(signed_in):
    other = f.user()
    assert signed_in.get(reverse("activities:detail", args=[f.activity(author=other).pk])).status_code == 404
    assert signed_in.get(reverse("activities:task_detail", args=[f.task(assignee=other).pk])).status_code == 404


def test_task_pages(signed_in, rep):
    lead = f.lead(owner=rep, company="Task Target")
    url = reverse("activities:task_create") + f"?linked=lead:{lead.pk}"
    response = signed_in.post(url, {"title": "Call back", "assignee": rep.pk, "status": "open",
                                    "due_at": "2026-05-01T09:30"})
    task = Task.objects.get(title="Call back")
    assert response.status_code == 302 and task.linked_object == lead
    assert "Call back" in signed_in.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    html = signed_in.get(reverse("activities:task_list"), {"status": "open"}).content.decode()
    assert "Call back" in html and "Task Target" in html
    response = signed_in.post(reverse("activities:task_edit", args=[task.pk]),
                              {"title": "Call back", "assignee": rep.pk, "status": "done"})
    task.refresh_from_db()
    assert response.status_code == 302 and task.status == "done" and task.completed_at is not None
    table = signed_in.get(reverse("activities:task_list"), {"status": "open"}, HTTP_HX_REQUEST="true")
    assert "Call back" not in table.content.decode()


def test_task_cannot_be_linked_to_an_unseen_record(signed_in, rep):
    foreign = f.lead(owner=f.user())
    url = reverse("activities:task_create") + f"?linked=lead:{foreign.pk}"
    response = signed_in.post(url, {"title": "Sneaky", "assignee": rep.pk, "status": "open"})
    assert response.status_code == 404 and not Task.objects.filter(title="Sneaky").exists()
