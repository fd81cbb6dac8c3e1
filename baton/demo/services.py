"""Loading the demo company, and a digest of the business data (to prove a seed always gives the same rows)."""

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field

from django.db import models, transaction

from baton.core import clock
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import record
from baton.leads.models import Lead


@dataclass
class DemoResult:
    loaded: bool
    counts: dict = field(default_factory=dict)
    logins: dict = field(default_factory=dict)
    password: str = ""
    seconds: float = 0.0


def demo_load(*, seed: int = 42, password: str | None = None, now=None, scale: float = 1.0,
              if_empty: bool = False) -> DemoResult:
    """Build the demo company in one transaction. With `if_empty`, do nothing when any lead exists.

    Raises `Conflict` when the database already holds leads and `if_empty` is not set: the demo is meant
    for an empty install and would otherwise mix with real data.
    """
    from baton.core.errors import Conflict
    from baton.demo.builder import DemoBuilder

    if Lead.objects.exists():
        if if_empty:
            return DemoResult(loaded=False)
        raise Conflict("The database already holds leads: the demo company loads only into an empty one.")
    password = password or secrets.token_urlsafe(9)
    now = now or clock.now()
    started = time.perf_counter()
    with clock.frozen(now), transaction.atomic():
        builder = DemoBuilder(seed=seed, now=now, scale=scale, password=password)
        built = builder.build()
        from baton.core.defaults import install_defaults

        install_defaults()  # the shipped rules, pools and policies, as a fresh install gets them
        summary = ", ".join(f"{k} {v}" for k, v in built.counts.items())
        record(builder.admin, actor=None, source=ChangeSource.SYSTEM, action=AuditEntry.Action.EVENT,
               message=f"demo company loaded (seed {seed}, scale {scale:g}): {summary}")
    return DemoResult(loaded=True, counts=built.counts, logins=built.logins, password=password,
                      seconds=time.perf_counter() - started)


def _digest_models():
    from baton.accounts.models import Account, Contact
    from baton.activities.models import Activity, Task
    from baton.opportunities.models import Opportunity, StageChange
    from baton.org.models import Team, User

    return [Team, User, User.roles.through, Account, Account.industries.through, Contact, Lead,
            Lead.industries.through, Lead.tags.through, Opportunity, StageChange, Activity, Task]


def demo_digest() -> str:
    """SHA-256 over every demo row, with ids made relative to each table's first id (database sequences
    do not restart, so two identical loads get different absolute ids) and secrets left out."""
    from django.contrib.contenttypes.models import ContentType

    from baton.activities.models import Task
    from baton.org.models import Role

    models_ = _digest_models()
    base = {}
    for model in models_:
        base[model] = model._default_manager.aggregate(m=models.Min("pk"))["m"] or 0
    h = hashlib.sha256()
    labels: dict = {}

    def label(target, pk):
        if (target, pk) not in labels:
            labels[target, pk] = str(target._default_manager.get(pk=pk))
        return labels[target, pk]

    for model in models_:
        fields = [f for f in model._meta.concrete_fields if f.name not in ("password", "last_login")]
        names = [f.attname for f in fields]
        for row in model._default_manager.order_by("pk").values_list(*[f.attname for f in fields]):
            out = []
            for f, value in zip(fields, row, strict=True):
                target = f.related_model if f.is_relation else (model if f.primary_key else None)
                if target is None or value is None:
                    pass
                elif target is Role:
                    value = label(Role, value)
                elif target in base:
                    value = value - base[target]
                else:  # region, industry, tag, stage, content type: by name
                    value = label(target, value)
                out.append(value)
            if model is Task and row[names.index("linked_id")] is not None:  # a generic link: relative too
                linked_model = ContentType.objects.get_for_id(row[names.index("linked_type_id")]).model_class()
                out[names.index("linked_id")] = row[names.index("linked_id")] - base[linked_model]
            h.update(json.dumps(out, default=str, ensure_ascii=False).encode())
    return h.hexdigest()
