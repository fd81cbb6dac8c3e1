"""Small helpers that make test data. Rows are written through the ORM (fast, no audit rows);
tests that need history write through the services instead."""

import itertools
from decimal import Decimal

from baton.core import clock

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def region(name=None, code=None):
    from baton.org.models import Region

    n = _n()
    return Region.objects.create(name=name or f"Region {n}", code=code or f"r{n}")


def team(name=None, region_=None, manager=None):
    from baton.org.models import Team

    return Team.objects.create(name=name or f"Team {_n()}", region=region_ or region(), manager=manager)


def user(username=None, *, roles=("rep",), password="pw-12345678", language="zh-hans", **extra):
    """A user holding `roles` (role codes). Roles are created when missing (transactional tests flush them)."""
    from baton.org.models import Role, User

    u = User.objects.create_user(username=username or f"user{_n()}", password=password, language=language,
                                 **extra)
    for code in roles:
        role, _ = Role.objects.get_or_create(code=code)
        u.roles.add(role)
    return u


def tag(name=None, color="blue"):
    from baton.leads.models import Tag

    return Tag.objects.create(name=name or f"tag{_n()}", color=color)


def industry(name=None, code=None):
    from baton.accounts.models import Industry

    n = _n()
    return Industry.objects.create(name=name or f"Industry {n}", code=code or f"ind{n}")


def lead(*, owner=None, tags=(), **fields):
    from baton.leads.models import Lead

    fields.setdefault("company", f"Company {_n()}")
    fields.setdefault("contact_name", "张三")
    obj = Lead.objects.create(owner=owner, **fields)
    if tags:
        obj.tags.set(tags)
    return obj


def account(*, owner=None, **fields):
    from baton.accounts.models import Account

    fields.setdefault("name", f"Account {_n()}")
    return Account.objects.create(owner=owner, **fields)


def contact(*, account_=None, owner=None, **fields):
    from baton.accounts.models import Contact

    fields.setdefault("name", f"Contact {_n()}")
    return Contact.objects.create(account=account_ or account(owner=owner), **fields)


def opportunity(*, owner=None, account_=None, stage=None, **fields):
    from baton.opportunities.models import Opportunity, Stage
    from baton.opportunities.services import pipeline_ensure_default

    if stage is None:
        pipeline = pipeline_ensure_default()
        stage = pipeline.stages.filter(kind=Stage.Kind.OPEN).order_by("position").first()
    fields.setdefault("name", f"Deal {_n()}")
    fields.setdefault("amount", Decimal("10000"))
    return Opportunity.objects.create(owner=owner, account=account_, pipeline=stage.pipeline, stage=stage,
                                      **fields)


def activity(*, author, **fields):
    from baton.activities.models import Activity

    fields.setdefault("kind", Activity.Kind.CALL)
    fields.setdefault("occurred_at", clock.now())
    return Activity.objects.create(author=author, **fields)


def task(*, assignee, linked=None, **fields):
    from django.contrib.contenttypes.models import ContentType

    from baton.activities.models import Task

    fields.setdefault("title", f"Task {_n()}")
    if linked is not None:
        fields["linked_type"] = ContentType.objects.get_for_model(linked)
        fields["linked_id"] = linked.pk
    return Task.objects.create(assignee=assignee, **fields)
