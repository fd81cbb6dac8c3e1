"""Process compliance against a hand-computed fixture, its drill-down, the API, and the capability radar."""

from datetime import timedelta

import pytest

from baton.core import clock
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.process import selectors
from baton.process.models import ActionAlert, ActionTemplate, DwellAlert, RequiredAction

pytestmark = pytest.mark.django_db

Q2 = (clock.parse_now("2025-04-01T00:00"), clock.parse_now("2025-07-01T00:00"))
NOW = clock.parse_now("2025-06-15T12:00")


def add(deal, due: str, status="open", on_time=None, template=None):
    due_at = clock.parse_now(due)
    template = template or ActionTemplate.objects.get(code="competitor-filing")
    done = status == "done"
    return RequiredAction.objects.create(
        opportunity=deal, template=template, owner=deal.owner, dedupe_key=f"{due}-{RequiredAction.objects.count()}",
        triggered_at=due_at - timedelta(hours=24), warn_at=due_at - timedelta(hours=6), due_at=due_at,
        status=status, completed_on_time=on_time if done else None,
        completed_at=(due_at + (timedelta(hours=-1) if on_time else timedelta(hours=5))) if done else None)


@pytest.fixture
def world(pipeline):
    r1, r2 = f.make_region(name="华东"), f.make_region(name="华南")
    ta, tb = f.make_team(name="A组", region=r1), f.make_team(name="B组", region=r2)
    director = f.make_user(roles=["ops"])
    a1 = f.make_user(username="a1", team=ta, display_name="甲一")
    a2 = f.make_user(username="a2", team=ta, display_name="甲二")
    b1 = f.make_user(username="b1", team=tb, display_name="乙一")
    d = {u: f.make_opportunity(owner=u) for u in (a1, a2, b1)}
    # a1: 3 on time + 1 late = 3/4; a waived one and two outside the quarter do not count.
    for day in ("2025-04-02T10:00", "2025-05-02T10:00", "2025-06-02T10:00"):
        add(d[a1], day, "done", True)
    add(d[a1], "2025-06-03T10:00", "done", False)
    add(d[a1], "2025-06-04T10:00", "waived")
    add(d[a1], "2025-03-31T10:00", "done", False)
    add(d[a1], "2025-07-05T10:00", "done", True)
    # a2: 1 on time + 1 overdue, never done = 1/2.
    add(d[a2], "2025-05-10T10:00", "done", True)
    add(d[a2], "2025-05-11T10:00", "overdue")
    # b1: 3 on time = 3/3; one more due after "now" is not due yet.
    for day in ("2025-04-10T10:00", "2025-04-11T10:00", "2025-06-14T10:00"):
        add(d[b1], day, "done", True)
    add(d[b1], "2025-06-20T10:00", "open")
    return type("W", (), {"a1": a1, "a2": a2, "b1": b1, "ta": ta, "tb": tb, "r1": r1, "r2": r2,
                          "director": director, "deals": d})


def figures(rows):
    return {r["label"]: (r["on_time"], r["due"], r["rate"]) for r in rows}


def test_compliance_per_rep_team_region_hand_computed(world):
    args = {"user": world.director, "start": Q2[0], "end": Q2[1], "now": NOW}
    assert figures(selectors.compliance(group="rep", **args)) == {
        "甲一": (3, 4, 0.75), "甲二": (1, 2, 0.5), "乙一": (3, 3, 1.0)}
    assert figures(selectors.compliance(group="team", **args)) == {"A组": (4, 6, 0.6667), "B组": (3, 3, 1.0)}
    assert figures(selectors.compliance(group="region", **args)) == {"华东": (4, 6, 0.6667), "华南": (3, 3, 1.0)}
    drill = selectors.compliance_drill(group="team", key=world.ta.pk, **args)
    assert sorted(a.due_at.strftime("%m-%d") for a in drill) == ["04-02", "05-02", "05-10", "05-11", "06-02",
                                                                 "06-03"]


def test_compliance_is_scoped(world):
    rows = selectors.compliance(user=world.a2, group="rep", start=Q2[0], end=Q2[1], now=NOW)
    assert figures(rows) == {"甲二": (1, 2, 0.5)}


def test_compliance_api(world, client):
    api = ApiClient(world.director)
    with clock.frozen(NOW):
        r = api.get("/api/process/compliance", {"group": "team", "from": "2025-04-01", "to": "2025-06-30"})
    assert r.status_code == 200, r.content
    rows = {row["label"]: row for row in r.json()["rows"]}
    assert rows["A组"]["due"] == 6 and rows["A组"]["on_time"] == 4 and len(rows["A组"]["actions"]) == 6
    assert api.get("/api/process/compliance", {"group": "galaxy"}).status_code == 422


def test_compliance_page_with_drill_down(world, client):
    client.force_login(world.director)
    with clock.frozen(NOW):
        r = client.get("/process/compliance/", {"group": "rep", "from": "2025-04-01", "to": "2025-06-30",
                                                "key": world.a2.pk})
    html = r.content.decode()
    assert r.status_code == 200 and "甲二" in html and "50.0%" in html and "05-11" in html


def test_radar_axes(world, client):
    a1 = world.a1
    alert_action = RequiredAction.objects.filter(owner=a1).first()
    ActionAlert.objects.create(action=alert_action, level="overdue", crossed_at=clock.parse_now("2025-05-01T10:00"),
                               scan_token="t", owner_id_at_crossing=a1.pk)
    deal = world.deals[a1]
    DwellAlert.objects.create(opportunity=deal, stage=deal.stage, stage_entered_at=deal.stage_entered_at,
                              due_at=NOW, crossed_at=clock.parse_now("2025-05-02T10:00"), scan_token="t",
                              owner_id_at_crossing=a1.pk)
    values = selectors.radar(user=world.director, rep_ids=[a1.pk, world.a2.pk], start=Q2[0], end=Q2[1], now=NOW)
    assert values[a1.pk]["alerts"] == 2 and values[world.a2.pk]["alerts"] == 0
    assert values[a1.pk]["compliance"] == 0.75
    avg = selectors.team_average(values)
    assert avg["compliance"] == 0.625
    client.force_login(world.director)
    with clock.frozen(NOW):
        r = client.get(f"/process/reps/{a1.pk}/radar/", {"from": "2025-04-01", "to": "2025-06-30"})
        assert r.status_code == 200 and "echarts" in r.content.decode()
        r = client.get(f"/process/teams/{world.ta.pk}/radar/", {"from": "2025-04-01", "to": "2025-06-30"})
        assert r.status_code == 200 and "甲二" in r.content.decode()
