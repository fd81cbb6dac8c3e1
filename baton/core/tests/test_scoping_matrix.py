"""Who sees what: every cell of role × record type × action, generated from `scoping.POLICY`/`OVERRIDES`.

A fixed small world (my team, a teammate, another team of my region, another region, my reports, a team
I manage, my own boss, unowned rows in both regions) holds one record of each type per person. For each
cell the expected rows are worked out here from the scope words alone, and compared with what
`scoping.restrict` lets through.
"""

from dataclasses import dataclass, field

import pytest

from baton.accounts.models import Account, Contact
from baton.activities.models import Activity, Task
from baton.core import scoping
from baton.core.models import Attachment
from baton.core.testing import factories as f
from baton.leads.models import Lead
from baton.opportunities.models import Opportunity
from baton.org.models import Role, User

MODELS = [Lead, Account, Contact, Opportunity, Activity, Task, Attachment]
ROLES = list(scoping.POLICY)

TEAMS = {"T1": "R1", "T2": "R1", "T3": "R2", "T4": "R2"}  # team -> region
MANAGED_BY_ME = {"T4"}
# person -> (team, region, manager). "me" is the user under test.
PEOPLE = {
    "boss": (None, "R1", None),
    "me": ("T1", "R1", "boss"),
    "teammate": ("T1", "R1", "boss"),
    "other_team": ("T2", "R1", None),
    "other_region": ("T3", "R2", None),
    "report": ("T3", "R2", "me"),  # my direct report, sitting in another region's team
    "report_of_report": (None, "R2", "report"),
    "managed_member": ("T4", "R2", None),  # member of a team I manage
}


def team_scope_people() -> set[str]:
    """My team, the teams I manage, and everyone below me in the manager chain (and me)."""
    my_teams = {PEOPLE["me"][0]} | MANAGED_BY_ME
    people = {p for p, (team, _, _) in PEOPLE.items() if team in my_teams} | {"me"}
    frontier = {"me"}
    while frontier:
        frontier = {p for p, (_, _, mgr) in PEOPLE.items() if mgr in frontier} - people
        people |= frontier
    return people


def expected_people(scope: str) -> set[str] | None:
    if scope == scoping.ALL:
        return None
    if scope == scoping.NONE:
        return set()
    if scope == scoping.OWN:
        return {"me"}
    if scope == scoping.TEAM:
        return team_scope_people()
    if scope == scoping.REGION:
        return {p for p, (_, region, _) in PEOPLE.items() if region == PEOPLE["me"][1]}
    raise AssertionError(scope)


@dataclass
class World:
    users: dict = field(default_factory=dict)
    # model -> list of (owner person or None, region name, pk)
    rows: dict = field(default_factory=dict)

    def add(self, model, owner, region, obj):
        self.rows.setdefault(model, []).append((owner, region, obj.pk))


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    w = World()
    regions = {name: f.make_region(name=f"区域{name}", code=name.lower()) for name in ("R1", "R2")}
    teams = {name: f.make_team(name=name, region=regions[r]) for name, r in TEAMS.items()}
    for person, (team, region, _) in PEOPLE.items():
        w.users[person] = f.make_user(username=person, roles=(), team=teams[team] if team else None,
                                      region=regions[region])
    for person, (_, _, manager) in PEOPLE.items():
        if manager:
            User.objects.filter(pk=w.users[person].pk).update(manager=w.users[manager])
    for name in MANAGED_BY_ME:
        teams[name].manager = w.users["me"]
        teams[name].save()
    for person, user in w.users.items():
        region = PEOPLE[person][1]
        lead = f.make_lead(owner=user, region=regions[region])
        account = f.make_account(owner=user, region=regions[region])
        contact = f.make_contact(account=account)
        opp = f.make_opportunity(owner=user, account=account)
        w.add(Lead, person, region, lead)
        w.add(Account, person, region, account)
        w.add(Contact, person, region, contact)
        w.add(Opportunity, person, region, opp)
        w.add(Activity, person, region, f.make_activity(author=user, lead=lead))
        w.add(Task, person, region, f.make_task(assignee=user, linked=lead))
        w.add(Attachment, person, region, f.make_attachment(uploaded_by=user, linked=lead))
    for region_name, region in regions.items():  # rows waiting in a region's pool
        w.add(Lead, None, region_name, f.make_lead(owner=None, region=region))
        account = f.make_account(owner=None, region=region)
        w.add(Account, None, region_name, account)
        w.add(Contact, None, region_name, f.make_contact(account=account))
        w.add(Opportunity, None, region_name, f.make_opportunity(owner=None, account=account))
    return w


def cells():
    for role in ROLES:
        for model in MODELS:
            for action in scoping.ACTIONS:
                scope = scoping.role_scope(role, model._meta.label_lower, action)
                yield pytest.param(role, model, action, scope,
                                   id=f"{role}-{model._meta.model_name}-{action}-{scope}")


@pytest.mark.parametrize(("role", "model", "action", "scope"), list(cells()))
def test_scope_cell(world, role, model, action, scope):
    me = User.objects.get(pk=world.users["me"].pk)
    me.roles.set([Role.objects.get_or_create(code=role)[0]])
    assert scoping.scope_for(me, model, action) == scope

    people = expected_people(scope)
    rows = world.rows[model]
    if people is None:
        expected = {pk for _, _, pk in rows}
    else:
        expected = {pk for owner, _, pk in rows if owner in people}
        if scope == scoping.REGION:
            expected |= {pk for owner, region, pk in rows if owner is None and region == PEOPLE["me"][1]}
    got = set(scoping.restrict(model.objects.all(), me, action).values_list("pk", flat=True))
    assert got == expected


def test_matrix_covers_every_role_model_and_action():
    assert {r.value for r in Role.Code} == set(ROLES)
    assert len(list(cells())) == len(ROLES) * len(MODELS) * len(scoping.ACTIONS)


def test_several_roles_take_the_widest_scope(world):
    me = User.objects.get(pk=world.users["me"].pk)
    me.roles.set([Role.objects.get_or_create(code=c)[0] for c in ("rep", "director")])
    got = set(scoping.restrict(Lead.objects.all(), me, "delete").values_list("pk", flat=True))
    assert got == {pk for owner, region, pk in world.rows[Lead]
                   if (owner is None and region == "R1") or (owner and PEOPLE[owner][1] == "R1")}


def test_inactive_or_anonymous_user_sees_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    me = User.objects.get(pk=world.users["me"].pk)
    me.roles.set([Role.objects.get_or_create(code="ops")[0]])
    me.is_active = False
    assert not scoping.restrict(Lead.objects.all(), me, "view").exists()
    assert not scoping.restrict(Lead.objects.all(), AnonymousUser(), "view").exists()


def test_director_without_region_sees_only_own(world):
    me = User.objects.get(pk=world.users["me"].pk)
    me.roles.set([Role.objects.get_or_create(code="director")[0]])
    me.region = None
    got = set(scoping.restrict(Lead.objects.all(), me, "view").values_list("pk", flat=True))
    assert got == {pk for owner, _, pk in world.rows[Lead] if owner == "me"}
