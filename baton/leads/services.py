from django.db import models, transaction
from django.utils.translation import gettext as _

from baton.accounts.models import Account, Contact
from baton.core import clock
from baton.core.errors import ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import DeferredWrites, create_object, delete_object, update_object
from baton.leads.models import Lead, LeadStatus


def _stamp(lead: Lead | None, data: dict, now) -> dict:
    """Clock stamps that follow from a change: assignment and status changes start and stop SLA clocks."""
    data = dict(data)
    old_owner = lead.owner_id if lead else None
    new_owner = data.get("owner", lead.owner if lead else None)
    new_owner_id = getattr(new_owner, "pk", new_owner)
    if new_owner_id and new_owner_id != old_owner:
        data["assigned_at"] = now
        status = data.get("status", lead.status if lead else LeadStatus.NEW)
        if status == LeadStatus.NEW:
            data["status"] = LeadStatus.ASSIGNED
    if lead is None or ("status" in data and data["status"] != lead.status):
        data["status_changed_at"] = now
    return data


def _normalised_keys(data: dict) -> dict:
    """phone_norm / email_norm / company_norm for the duplicate lookup (baton.capture.dedupe)."""
    from baton.capture.dedupe import normalised_keys

    return normalised_keys(data)


def _prefetch_from(lead: Lead, data: dict) -> list:
    """Fill the tags / industries prefetch cache of a just-created lead from the instances it was created
    with (the rules engine tests both; order does not matter there), instead of reading them back. Only
    when every value is an instance. Returns the names filled."""
    caches = {}
    for name in ("tags", "industries"):
        values = list(data.get(name) or [])
        if not all(isinstance(v, models.Model) for v in values):
            return []
        qs = getattr(lead, name).all()
        qs._result_cache, qs._prefetch_done = values, True
        caches[name] = qs
    lead._prefetched_objects_cache = {**getattr(lead, "_prefetched_objects_cache", {}), **caches}
    return list(caches)


def lead_create(*, actor, source=ChangeSource.UI, process=True, savepoint=True, **data) -> Lead:
    """Create a lead; unless `process=False` (bulk demo/import paths) it is tagged, scored, graded and
    assigned in the same transaction, before this returns. `savepoint=False` for a caller whose own
    transaction fails as a whole if this does (lead capture)."""
    now = clock.now()
    data.setdefault("created_at", now)
    if "lead_source" in data:  # the Lead.source field; `source` here is the audit's change source
        data["source"] = data.pop("lead_source")
    data.update(_normalised_keys(data))
    if process:
        from baton.leads import express

        if express.accepts(data, actor):
            return express.lead_create_express(actor=actor, source=source, data=_stamp(None, data, now),
                                               savepoint=savepoint)
    with transaction.atomic(savepoint=savepoint):
        # No savepoints inside: the lead, its evaluation and its assignment stand or fall together.
        lead = create_object(Lead, actor=actor, source=source, data=_stamp(None, data, now), savepoint=False)
        lead._inserted_now = True
        if process:
            # The engines' writes (tags/score/grade, then owner/status) reach the row as one UPDATE at the end.
            writes = lead._engine_writes = DeferredWrites()
            try:
                _process_new_lead(lead, data, actor=actor, source=source)
            finally:
                del lead._engine_writes
            writes.flush(lead)
        lead._inserted_now = False  # later writes to this instance are ordinary updates again
    return lead


def _process_new_lead(lead: Lead, data: dict, *, actor, source) -> None:
    """Tag, score, grade and assign a lead inserted in the current transaction."""
    from baton.assignment.services import explained_new_lead, lead_auto_assign
    from baton.core import config_cache
    from baton.rules.services import RuleSet, lead_evaluate

    token = config_cache.current_token()  # one read for the rules and the pools
    fabricated = _prefetch_from(lead, data)
    lead_evaluate(lead=lead, actor=None, source=source, new=True, rules=RuleSet.current(token))
    for name in fabricated:  # in Python order, not the database's collation: readers query afresh
        if data.get(name):  # (an empty list has no order: it stays)
            getattr(lead, "_prefetched_objects_cache", {}).pop(name, None)
    assignment = lead_auto_assign(lead=lead, actor=actor, new=True, config_token=token)
    if assignment is not None:
        lead._assignment_explained = explained_new_lead(assignment)  # the API's response shows it, unread


def lead_update(*, lead: Lead, actor, source=ChangeSource.UI, message="", **data) -> dict:
    if "lead_source" in data:  # the Lead.source field; `source` here is the audit's change source
        data["source"] = data.pop("lead_source")
    return _lead_write(lead, actor=actor, source=source, message=message, data=data, validate=True)


def lead_engine_write(*, lead: Lead, source, message="", **data) -> dict:
    """`lead_update` for values an engine computed itself, written for the company (actor None).

    Same audit row, clock stamps, `updated_at` rule and SLA resolution as `lead_update`, without `full_clean`
    (and its unique-check queries) and in one UPDATE. Safe because nothing here comes from user input: tags
    are `Tag` rows the rules engine fetched or created, score is clamped to 0–100, grade comes from the grade
    bands, owner is a user the pool engine picked from its members, status is a `LeadStatus` value.
    """
    return _lead_write(lead, actor=None, source=source, message=message, data=data, validate=False)


def _lead_write(lead: Lead, *, actor, source, message, data, validate) -> dict:
    now = clock.now()
    data = _stamp(lead, data, now)
    # The duplicate keys follow phone / e-mail / company and, like updated_at, stay out of the history.
    touch = {**_normalised_keys(data), "updated_at": now}
    defer = None if validate else getattr(lead, "_engine_writes", None)
    changes = update_object(lead, actor=actor, source=source, data=data, message=message, validate=validate,
                            touch=touch, defer=defer)
    # The stop event of some clocks: their alerts resolve now (a lead inserted in this transaction has none).
    if {"owner", "status"} & set(changes) and not getattr(lead, "_inserted_now", False):
        from baton.sla.services import sla_resolve_on_commit

        sla_resolve_on_commit(lead)
    return changes


def lead_delete(*, lead: Lead, actor, source=ChangeSource.UI) -> None:
    delete_object(lead, actor=actor, source=source)


def lead_convert(*, lead: Lead, actor, source=ChangeSource.UI, opportunity_name: str = "",
                 amount=None, pipeline=None, account: Account | None = None) -> dict:
    """Turn a lead into an account (new or given), a contact and an opportunity, in one transaction.

    Returns {"account", "contact", "opportunity"}.
    """
    from baton.accounts.services import account_create, contact_create
    from baton.opportunities.services import opportunity_create

    if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
        raise ValidationFailed(errors=[("status", _("A converted or disqualified lead cannot be converted."))])
    owner = lead.owner or actor
    with transaction.atomic():
        if account is None:
            if not lead.company:
                raise ValidationFailed(errors=[("company", _("A lead needs a company name to become an account."))])
            account = account_create(actor=actor, source=source, name=lead.company, region=lead.region,
                                     owner=owner, industries=list(lead.industries.all()))
        contact: Contact | None = None
        if lead.contact_name:
            contact = contact_create(actor=actor, source=source, account=account, name=lead.contact_name,
                                     phone=lead.phone, email=lead.email)
        opportunity = opportunity_create(
            actor=actor, source=source, name=opportunity_name or f"{account.name}",
            account=account, contact=contact, lead=lead, owner=owner,
            amount=amount if amount is not None else (lead.budget or 0), pipeline=pipeline,
        )
        lead_update(lead=lead, actor=actor, source=source, status=LeadStatus.CONVERTED, account=account,
                    contact=contact, message=_("Converted to opportunity %(name)s") % {"name": opportunity.name})
    return {"account": account, "contact": contact, "opportunity": opportunity}


def lead_touch(*, lead: Lead, occurred_at, is_contact: bool) -> None:
    """Stamp a lead when an activity is logged on it (called by activities.services, audited there)."""
    updates = {}
    if lead.last_activity_at is None or occurred_at > lead.last_activity_at:
        updates["last_activity_at"] = occurred_at
    if is_contact and (lead.first_contact_at is None or occurred_at < lead.first_contact_at):
        updates["first_contact_at"] = occurred_at
    if is_contact and lead.status in (LeadStatus.NEW, LeadStatus.ASSIGNED):
        updates["status"] = LeadStatus.CONTACTED
        updates["status_changed_at"] = clock.now()
    if updates:
        for key, value in updates.items():
            setattr(lead, key, value)
        Lead.objects.filter(pk=lead.pk).update(**updates)

