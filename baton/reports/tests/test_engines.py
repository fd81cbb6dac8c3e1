"""Both engines (the DuckDB store and the database itself) give the same answers, scoped and filtered."""

from datetime import timedelta
from decimal import Decimal

import pytest

from baton.core.testing import factories as fx
from baton.reports import engine, metrics, store

pytestmark = pytest.mark.django_db

COMBOS = {
    "leads": [[], ["region"], ["owner", "month"], ["source", "grade"], ["industry"], ["team", "tenure_band"],
              ["week"], ["quarter", "status"], ["manager"],
              ["weeks_since_hire", "owner"]],
    "opportunities": [[], ["region", "stage"], ["owner"], ["product", "month"], ["team", "close_month"],
                      ["source"], ["manager", "status"], ["tenure_band"], ["close_quarter", "pipeline"], ["week", "grade"], ["quarter", "close_week"],
                      ["weeks_since_hire"]],
    "activities": [[], ["owner"], ["kind", "outcome"], ["region", "week"], ["team", "month"], ["tenure_band", "manager"], ["quarter"],
                   ["weeks_since_hire", "kind"]],
}


def both(user, source, dims, mets, filters=None):
    a = engine.pivot(user=user, source=source, dimensions=dims, metrics=mets, filters=filters, engine="duckdb")
    b = engine.pivot(user=user, source=source, dimensions=dims, metrics=mets, filters=filters, engine="db")
    assert a["lineage"]["engine"] == "duckdb" and b["lineage"]["engine"] == "db"
    return a, b


def assert_same(a, b):
    assert [r["_keys"] for r in a["rows"]] == [r["_keys"] for r in b["rows"]]
    for ra, rb in zip(a["rows"], b["rows"], strict=True):
        assert ra.keys() == rb.keys()
        for k in ra:
            if isinstance(ra[k], float) or isinstance(rb[k], float):
                assert ra[k] == pytest.approx(rb[k], abs=0.011), (k, ra, rb)
            else:
                assert ra[k] == rb[k], (k, ra, rb)


@pytest.fixture
def admin(db):
    return fx.user("admin", roles=("ops",))


@pytest.mark.parametrize("source", list(COMBOS))
def test_every_metric_and_dimension_agrees(sales, admin, source):
    store.sync(triggered_by="test")
    mets = list(metrics.metrics_for(source))
    seen = set()
    for dims in COMBOS[source]:
        seen |= set(dims)
        a, b = both(admin, source, dims, mets)
        assert a["rows"], dims
        assert_same(a, b)
    assert seen == set(metrics.dimensions_for(source)), "every dimension is exercised"


def test_weeks_since_hire_counts_a_newcomers_leads_by_week(db, admin, frozen_now):
    """A rep hired on Monday 2025-06-02 gets leads on days 0 and 6 (week 0), 7 (week 1) and 21, 27 (week 3),
    one the day before hire (week -1); a rep with no hire date has the empty key; both engines agree."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    hired = date(2025, 6, 2)
    newbie = fx.user("newbie", hire_date=hired)
    nodate = fx.user("nodate", hire_date=None)
    for days, hour in [(0, 9), (6, 23), (7, 0), (21, 12), (27, 23), (-1, 10)]:
        at = datetime.combine(hired + timedelta(days=days), datetime.min.time(), tz).replace(hour=hour, minute=30)
        fx.lead(owner=newbie, created_at=at, updated_at=at)
    fx.lead(owner=nodate, created_at=frozen_now - timedelta(days=3), updated_at=frozen_now)
    store.sync(triggered_by="test")
    a, b = both(admin, "leads", ["weeks_since_hire", "owner"], ["lead_count"])
    assert_same(a, b)
    expected = [(-1, newbie.pk, 1), (0, newbie.pk, 2), (1, newbie.pk, 1), (3, newbie.pk, 2), (None, nodate.pk, 1)]
    for out in (a, b):
        got = [(r["_keys"]["weeks_since_hire"], r["_keys"]["owner"], r["lead_count"]) for r in out["rows"]]
        assert got == expected
    drill = engine.drill_rows(user=admin, source="leads", dimensions=["weeks_since_hire"],
                              cell={"weeks_since_hire": 3})
    assert drill["total"] == 2


def test_answers_are_the_hand_counted_ones(sales, admin):
    from baton.leads.models import Lead
    from baton.opportunities.models import Opportunity

    store.sync(triggered_by="test")
    out = engine.pivot(user=admin, source="opportunities", dimensions=[],
                       metrics=["deal_count", "won_amount", "win_rate", "pipeline_amount"], engine="duckdb")
    row = out["rows"][0]
    deals = list(Opportunity.objects.all())
    won = [d for d in deals if d.status == "won"]
    lost = [d for d in deals if d.status == "lost"]
    assert row["deal_count"] == len(deals)
    assert row["won_amount"] == float(sum(d.amount for d in won))
    assert row["win_rate"] == round(len(won) / (len(won) + len(lost)), 4)
    assert row["pipeline_amount"] == float(sum(d.amount for d in deals if d.status == "open"))
    leads = engine.pivot(user=admin, source="leads", dimensions=[], metrics=["lead_count"], engine="duckdb")
    assert leads["rows"][0]["lead_count"] == Lead.objects.filter(duplicate_of__isnull=True).count()
    assert Lead.objects.filter(duplicate_of__isnull=False).exists()


def test_region_of_a_deal_is_the_owning_reps_region(sales, admin):
    store.sync(triggered_by="test")
    out = engine.pivot(user=admin, source="opportunities", dimensions=["region"], metrics=["deal_count"])
    from baton.opportunities.models import Opportunity

    by_region = {r["region"]: r["deal_count"] for r in out["rows"]}
    assert by_region["华东"] == Opportunity.objects.filter(owner__region=sales["east"]).count()
    assert by_region[None] == Opportunity.objects.filter(owner__region__isnull=True).count()


@pytest.mark.parametrize("who", ["alice", "bob_manager", "director_east", "rep_nobody"])
def test_scoped_viewers_see_only_their_rows_and_engines_agree(sales, who):
    from baton.opportunities.models import Opportunity
    from baton.org.models import Role

    reps = sales["reps"]
    if who == "alice":
        user = reps[0]
    elif who == "bob_manager":
        user = reps[1]
        user.roles.add(Role.objects.get_or_create(code="manager")[0])
    elif who == "director_east":
        user = sales["boss"]
    else:
        user = fx.user("nobody", roles=())
    store.sync(triggered_by="test")
    for source in COMBOS:
        mets = list(metrics.metrics_for(source))
        a, b = both(user, source, ["owner"], mets)
        assert_same(a, b)
    out = engine.pivot(user=user, source="opportunities", dimensions=[], metrics=["deal_count"], engine="duckdb")
    from baton.core import scoping

    assert out["rows"][0]["deal_count"] == scoping.restrict(Opportunity.objects.all(), user).count()


FILTERS = [
    ("leads", {"field": "source", "op": "in", "value": ["web_form", "phone"]}),
    ("leads", {"field": "grade", "op": "ne", "value": "A"}),
    ("leads", {"any": [{"field": "region", "op": "eq", "value": "east"}, {"field": "grade", "op": "is_empty"}]}),
    ("leads", {"not": {"field": "first_contact_at", "op": "within_last", "value": "P30D"}}),
    ("leads", {"field": "industries", "op": "has_any", "value": ["mfg"]}),  # not in the fact table: id set
    ("opportunities", {"field": "amount", "op": "gte", "value": "5000"}),
    ("opportunities", {"all": [{"field": "stage", "op": "contains", "value": "o"},
                               {"field": "owner.region", "op": "ne", "value": "east"}]}),
    ("activities", {"field": "kind", "op": "not_in", "value": ["note"]}),
    ("activities", {"field": "author.region", "op": "eq", "value": "west"}),
]


@pytest.mark.parametrize("source,condition", FILTERS)
def test_filters_agree(sales, admin, source, condition):
    store.sync(triggered_by="test")
    dims = {"leads": ["source"], "opportunities": ["stage"], "activities": ["kind"]}[source]
    a, b = both(admin, source, dims, list(metrics.metrics_for(source)), condition)
    assert_same(a, b)
    unfiltered = engine.pivot(user=admin, source=source, dimensions=[], metrics=[
        next(iter(metrics.metrics_for(source)))], engine="db")
    filtered = engine.pivot(user=admin, source=source, dimensions=[], metrics=[
        next(iter(metrics.metrics_for(source)))], filters=condition, engine="duckdb")
    assert 0 < list(filtered["rows"][0].values())[0] < list(unfiltered["rows"][0].values())[0]


def test_incremental_sync_follows_changes_and_deletes(sales, admin, frozen_now):
    from baton.activities import services as activity_services
    from baton.activities.models import Activity
    from baton.core import clock
    from baton.leads import services as lead_services
    from baton.leads.models import Lead
    from baton.opportunities.models import Opportunity
    from baton.reports.models import SyncState

    first = store.sync(triggered_by="test")
    assert {s.table for s in first} == set(store.FACT_TABLES)
    lead = Lead.objects.filter(duplicate_of__isnull=True, activities__isnull=False).first()
    with clock.frozen(frozen_now + timedelta(minutes=5)):
        lead_services.lead_update(lead=lead, actor=admin, grade="A" if lead.grade != "A" else "B")
        deal = Opportunity.objects.filter(status="won").first()
        Opportunity.objects.filter(pk=deal.pk).update(amount=Decimal("123456.00"), updated_at=clock.now())
        act = Activity.objects.filter(lead=lead).order_by("occurred_at").first()
        activity_services.activity_update(activity=act, actor=admin, outcome="connected" if act.outcome != "connected"
                                          else "busy")
        gone = Lead.objects.filter(duplicate_of__isnull=True).exclude(pk=lead.pk).exclude(duplicates__isnull=False)\
            .filter(opportunities__isnull=True).first()
        lead_services.lead_delete(lead=gone, actor=admin)
        fx.lead(owner=sales["reps"][2], source="phone", created_at=clock.now(), updated_at=clock.now())
    with clock.frozen(frozen_now + timedelta(minutes=6)):
        states = {s.table: s for s in store.sync(triggered_by="user:admin")}
    assert states["leads_fact"].last_full_at == first[0].last_full_at, "incremental, not a full refresh"
    assert states["leads_fact"].deleted >= 1
    assert states["leads_fact"].changed < 10
    assert SyncState.objects.get(table="leads_fact").triggered_by == "user:admin"
    for source in COMBOS:
        for dims in (["owner"], ["month"], []):
            a, b = both(admin, source, dims, list(metrics.metrics_for(source)))
            assert_same(a, b)
    out = engine.pivot(user=admin, source="opportunities", dimensions=[], metrics=["won_amount"], engine="duckdb")
    assert out["rows"][0]["won_amount"] == float(sum(o.amount for o in Opportunity.objects.filter(status="won")))


def test_a_new_store_file_is_filled_from_scratch(sales, admin, settings, tmp_path):
    store.sync(triggered_by="test")
    settings.BATON_ANALYTICS_PATH = tmp_path / "other.duckdb"
    assert not store.synced(["leads_fact"])
    states = store.sync(triggered_by="test")
    assert all(s.changed == s.rows for s in states)
    a, b = both(admin, "leads", ["owner"], ["lead_count"])
    assert_same(a, b)


def test_auto_engine_uses_the_store_once_synced(sales, admin):
    out = engine.pivot(user=admin, source="leads", dimensions=[], metrics=["lead_count"])
    assert out["lineage"]["engine"] == "db"
    store.sync(triggered_by="schedule")
    out = engine.pivot(user=admin, source="leads", dimensions=[], metrics=["lead_count"])
    assert out["lineage"]["engine"] == "duckdb"
    assert out["lineage"]["refreshed_by"] == "schedule"
    assert out["lineage"]["data_as_of"]


def test_validation_names_the_bad_dimension_and_metric(admin):
    from baton.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        engine.pivot(user=admin, source="opportunities", dimensions=["region", "colour"],
                     metrics=["deal_count", "lead_count", "nope"])
    fields = dict(exc.value.errors)
    assert set(fields) == {"dimensions[1]", "metrics[1]", "metrics[2]"}
    assert "colour" in fields["dimensions[1]"] and "leads" in fields["metrics[1]"]


def test_catalogue_is_complete():
    for m in metrics._METRICS:
        assert m.label_zh and m.label_en and m.definition_zh and m.definition_en and m.sources and m.unit
    assert "Won ÷ (Won + Lost)" in metrics.find_metric("win_rate").definition_en
    for name in ("lead_count", "response_hours_median", "response_hours_p90", "first_contact_success_rate",
                 "conversion_rate", "deal_count", "won_amount", "win_rate", "pipeline_amount", "avg_deal_size",
                 "sales_cycle_days_median", "activities_per_rep"):
        assert metrics.find_metric(name), name
