import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from baton.core.testing import factories as fx

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 30, 12, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def analytics_store(settings, tmp_path):
    settings.BATON_ANALYTICS_PATH = tmp_path / "analytics.duckdb"
    return settings.BATON_ANALYTICS_PATH


@pytest.fixture
def frozen_now():
    from baton.core import clock

    with clock.frozen(NOW):
        yield NOW


@pytest.fixture
def sales(db, frozen_now):
    """Two regions, three teams, six reps with hire dates, ~120 leads (some duplicates), deals, activities."""
    from baton.activities.models import Activity
    from baton.opportunities.models import Opportunity, Pipeline, Stage

    rnd = random.Random(7)
    east, west = fx.region("华东", "east"), fx.region("West", "west")
    t1, t2, t3 = fx.team("East A", east), fx.team("East B", east), fx.team("West A", west)
    boss = fx.user("boss", roles=("director",), region=east)
    reps = [
        fx.user("alice", region=east, team=t1, manager=boss, hire_date=date(2025, 5, 1), display_name="Alice"),
        fx.user("bob", region=east, team=t1, manager=boss, hire_date=date(2024, 1, 1)),
        fx.user("carol", region=east, team=t2, manager=boss, hire_date=date(2022, 3, 1)),
        fx.user("dan", region=west, team=t3, hire_date=date(2025, 2, 1)),
        fx.user("erin", region=west, team=t3, hire_date=None),
        fx.user("frank", region=None, team=None, hire_date=date(2024, 10, 1)),
    ]
    inds = [fx.industry("制造", "mfg"), fx.industry("Retail", "retail")]
    pipeline = Pipeline.objects.create(name="Main", is_default=True)
    stages = [Stage.objects.create(pipeline=pipeline, name=n, position=i, kind=k)
              for i, (n, k) in enumerate([("Prospecting", "open"), ("Engaging", "open"), ("Won", "won"),
                                          ("Lost", "lost")])]
    sources = ["web_form", "phone", "referral", "advertising"]
    leads = []
    for _i in range(120):
        created = NOW - timedelta(days=rnd.randint(0, 170), hours=rnd.randint(0, 23), minutes=rnd.randint(0, 59))
        owner = rnd.choice(reps + [None])
        first = created + timedelta(hours=rnd.choice([1, 2, 3, 5, 8, 13, 30])) if rnd.random() < 0.7 else None
        lead = fx.lead(owner=owner, source=rnd.choice(sources), grade=rnd.choice(["A", "B", "C", ""]),
                       region=rnd.choice([east, west, None]), created_at=created, updated_at=created,
                       first_contact_at=first)
        if rnd.random() < 0.4:
            lead.industries.set(rnd.sample(inds, rnd.randint(1, 2)))
        if leads and rnd.random() < 0.1:
            lead.duplicate_of = rnd.choice(leads)
            lead.save()
        leads.append(lead)
        for j in range(rnd.randint(0, 3)):
            Activity.objects.create(kind=rnd.choice(["call", "visit", "note", "wechat"]),
                                    outcome=rnd.choice(["connected", "no_answer", "done", "busy", ""]),
                                    occurred_at=created + timedelta(hours=j * 5 + 1), lead=lead,
                                    author=owner or reps[0], created_at=created + timedelta(hours=j * 5 + 1))
    for i in range(60):
        owner = rnd.choice(reps + [None])
        created = NOW - timedelta(days=rnd.randint(20, 170))
        stage = rnd.choice(stages)
        status = {"open": "open", "won": "won", "lost": "lost"}[stage.kind]
        closed = created + timedelta(days=rnd.randint(1, 19), hours=rnd.randint(0, 23)) if status != "open" else None
        account = fx.account(owner=owner, region=rnd.choice([east, west, None]))
        Opportunity.objects.create(
            name=f"Deal {i}", owner=owner, pipeline=pipeline, stage=stage, status=status,
            lost_reason="price" if status == "lost" else "", amount=Decimal(rnd.randint(1, 500) * 100) / 4,
            lead=rnd.choice(leads) if rnd.random() < 0.5 else None, account=account,
            custom_fields={"product": rnd.choice(["GTX", "MG", ""])} if rnd.random() < 0.8 else {},
            created_at=created, updated_at=created, stage_entered_at=created, closed_at=closed)
    return {"reps": reps, "boss": boss, "east": east, "west": west, "teams": (t1, t2, t3), "stages": stages,
            "leads": leads, "industries": inds}
