"""Small helpers that make test data. Rows are written through the ORM (fast, no audit rows);
tests that need history write through the services instead."""

import itertools
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile

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


# --- make_* helpers (the scoping matrix and service tests use these; same rules: ORM rows, no audit) -------


def make_region(*, name=None, code=None):
    from baton.org.models import Region

    n = _n()
    return Region.objects.create(name=name or f"区域{n}", code=code or f"region-{n}")


def make_team(*, name=None, region=None, manager=None):
    from baton.org.models import Team

    return Team.objects.create(name=name or f"团队{_n()}", region=region or make_region(), manager=manager)


_hashes: dict[str, str] = {}


def _password_hash(raw: str) -> str:
    """Hash each test password once per run: the real hasher takes ~0.3 s per call by design."""
    from django.contrib.auth.hashers import make_password

    if raw not in _hashes:
        _hashes[raw] = make_password(raw)
    return _hashes[raw]


def make_user(*, username=None, roles=("rep",), team=None, region=None, manager=None, mentor=None,
              hire_date=None, password="pass12345", display_name="", **extra):
    """A user holding `roles` (codes). The region follows the team unless given."""
    from baton.org.models import Role, User

    username = username or f"user{_n()}"
    if region is None and team is not None:
        region = team.region
    user = User(username=username, team=team, region=region, manager=manager, mentor=mentor,
                hire_date=hire_date, display_name=display_name, password=_password_hash(password), **extra)
    user.save()
    for code in roles or ():
        role, _ = Role.objects.get_or_create(code=code)
        user.roles.add(role)
    return user


def make_industry(*, name=None, code=None):
    from baton.accounts.models import Industry

    n = _n()
    return Industry.objects.create(name=name or f"行业{n}", code=code or f"industry-{n}")


def make_account(*, name=None, owner=None, region=None, industries=(), **extra):
    from baton.accounts.models import Account

    if region is None and owner is not None:
        region = owner.region
    account = Account.objects.create(name=name or f"测试公司{_n()}有限公司", owner=owner, region=region, **extra)
    if industries:
        account.industries.set(industries)
    return account


def make_contact(*, account=None, name=None, owner=None, **extra):
    from baton.accounts.models import Contact

    account = account or make_account(owner=owner)
    return Contact.objects.create(account=account, name=name or f"联系人{_n()}", **extra)


def make_lead(*, company=None, owner=None, region=None, status=None, industries=(), tags=(), **extra):
    from baton.leads.models import Lead, LeadStatus

    if region is None and owner is not None:
        region = owner.region
    if status is None:
        status = LeadStatus.ASSIGNED if owner else LeadStatus.NEW
    now = clock.now()
    extra.setdefault("created_at", now)
    if owner is not None:
        extra.setdefault("assigned_at", extra["created_at"])
    lead = Lead.objects.create(company=company if company is not None else f"线索公司{_n()}",
                               owner=owner, region=region, status=status, **extra)
    if industries:
        lead.industries.set(industries)
    if tags:
        lead.tags.set(tags)
    return lead


def make_opportunity(*, name=None, owner=None, account=None, stage=None, amount=Decimal("100000"), **extra):
    from baton.opportunities.models import Opportunity, Stage, StageChange
    from baton.opportunities.services import pipeline_ensure_default

    if stage is None:
        stage = pipeline_ensure_default().stages.order_by("position").first()
    if account is None:
        account = make_account(owner=owner)
    status = {Stage.Kind.WON: "won", Stage.Kind.LOST: "lost"}.get(stage.kind, "open")
    if status == "lost":
        extra.setdefault("lost_reason", "价格")
    now = clock.now()
    opp = Opportunity.objects.create(name=name or f"商机{_n()}", owner=owner, account=account, stage=stage,
                                     pipeline=stage.pipeline, amount=amount, status=status,
                                     probability=stage.probability, stage_entered_at=now, created_at=now,
                                     updated_at=now, closed_at=None if status == "open" else now, **extra)
    StageChange.objects.create(opportunity=opp, from_stage=None, to_stage=stage, at=now, actor=owner)
    return opp


def make_activity(*, author, kind="call", lead=None, account=None, opportunity=None, **extra):
    from baton.activities.models import Activity

    extra.setdefault("occurred_at", clock.now())
    return Activity.objects.create(author=author, kind=kind, lead=lead, account=account,
                                   opportunity=opportunity, **extra)


def make_task(*, assignee, title=None, linked=None, created_by=None, **extra):
    from baton.activities.models import Task

    if linked is not None:
        extra["linked_type"] = ContentType.objects.get_for_model(linked)
        extra["linked_id"] = linked.pk
    return Task.objects.create(title=title or f"任务{_n()}", assignee=assignee, created_by=created_by, **extra)


def make_attachment(*, uploaded_by, linked, name=None, content=b"baton test file", **extra):
    """An attachment with a real (tiny) stored file. Needs MEDIA_ROOT writable (tests: use `settings`)."""
    import hashlib

    from baton.core.models import Attachment

    name = name or f"file{_n()}.txt"
    att = Attachment(name=name, sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                     content_type=extra.pop("content_type", "text/plain"),
                     linked_type=ContentType.objects.get_for_model(linked), linked_id=linked.pk,
                     uploaded_by=uploaded_by, uploaded_at=extra.pop("uploaded_at", clock.now()), **extra)
    att.file.save(name, ContentFile(content), save=False)
    att.save()
    return att
