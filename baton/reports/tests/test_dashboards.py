"""The three shipped dashboards render every chart with its lineage (as of, who refreshed, source tables)."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from baton.reports import dashboards, store

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", list(dashboards.DASHBOARDS))
def test_dashboard_renders_each_chart_with_lineage(sales, key):
    store.sync(triggered_by="schedule")
    c = Client()
    c.force_login(sales["boss"])
    r = c.get(f"/reports/dashboards/{key}/")
    assert r.status_code == 200
    html = r.content.decode()
    charts = json.loads(html.split('id="dashboard-charts" type="application/json">')[1].split("</script>")[0])
    assert len(charts) == len(dashboards.DASHBOARDS[key]["charts"])
    for chart in charts:
        assert not chart["error"], chart
        lineage = chart["lineage"]
        assert lineage["engine"] == "duckdb" and lineage["refreshed_by"] == "schedule" and lineage["data_as_of"]
        assert lineage["source_tables"] and lineage["drilldown"]["url"] == "/api/pivot/rows"
    assert html.count('class="small text-secondary lineage"') >= len(charts)
    assert c.get("/reports/dashboards/nope/").status_code == 404


def test_dashboard_numbers_are_the_pivots_and_drill_to_rows(sales):
    """The intake chart's bars add up to the leads of the last 8 weeks; a bar drills to exactly its rows."""
    from baton.core import clock, scoping
    from baton.leads.models import Lead
    from baton.reports import selectors

    store.sync(triggered_by="schedule")
    board = dashboards.render("lead-health", user=sales["boss"])
    intake = next(c for c in board["charts"] if c["key"] == "intake")
    since = clock.now() - timedelta(days=56)
    visible = scoping.restrict(Lead.objects.all(), sales["boss"], "view")  # the director sees his region
    expected = visible.filter(duplicate_of__isnull=True, created_at__gte=since).count()
    assert 0 < expected < Lead.objects.count()
    assert sum(r["lead_count"] for r in intake["rows"]) == expected
    bar = max(intake["rows"], key=lambda r: r["lead_count"])
    rows = selectors.pivot_rows(user=sales["boss"], source="leads", dimensions=intake["request"]["dimensions"],
                                cell=bar["_keys"], filters=intake["request"]["filters"])
    assert rows["total"] == bar["lead_count"]


def test_newcomer_growth_is_by_week_since_hire_for_newcomers_only(sales):
    """Only reps hired within the newcomer window appear, each as its own series over weeks since hire."""
    from baton.leads.models import Lead

    store.sync(triggered_by="schedule")
    alice = sales["reps"][0]  # hired 2025-05-01, 60 days before "now": the only newcomer
    board = dashboards.render("newcomer-growth", user=sales["boss"])
    for chart in board["charts"]:
        assert not chart["error"], chart
        assert "weeks_since_hire" in chart["request"]["dimensions"]
        assert {r["_keys"]["owner"] for r in chart["rows"]} <= {alice.pk}
    activities = next(c for c in board["charts"] if c["key"] == "activities")
    assert activities["rows"]
    from django.utils import timezone

    leads = Lead.objects.filter(owner=alice, duplicate_of__isnull=True)
    response = next(c for c in board["charts"] if c["key"] == "response")
    weeks = sorted({(timezone.localtime(lead.created_at).date() - alice.hire_date).days // 7 for lead in leads})
    assert [r["_keys"]["weeks_since_hire"] for r in response["rows"]] == weeks
