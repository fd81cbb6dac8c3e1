"""Behaviour events matched to leads by id, (source, external id), normalised e-mail or phone."""

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from baton.capture import dedupe
from baton.core import clock
from baton.leads.models import Lead

log = logging.getLogger(__name__)


def _match(event: dict, by_id, by_ext, by_email, by_phone):
    if event.get("lead_id") is not None:
        return by_id.get(event["lead_id"]), _("No lead with this id.")
    if event.get("external_id"):
        if not event.get("source"):
            return None, _("An external id needs its source.")
        return by_ext.get((event["source"], event["external_id"])), _("No lead with this external id.")
    if event.get("email"):
        return by_email.get(dedupe.normalise_email(event["email"])), _("No lead with this e-mail.")
    if event.get("phone"):
        return by_phone.get(dedupe.normalise_phone(event["phone"])), _("No lead with this phone.")
    return None, _("The event names no lead (lead_id, external_id + source, email or phone).")


def events_ingest(*, events: list[dict], actor) -> dict:
    """Store the events that match a lead; report the others by their index. Four indexed queries per batch.

    Events are data, not user edits: they are not audited one by one. Matching ignores the actor's data
    scope (tracking integrations post for the whole company) but needs an authenticated caller.
    """
    from baton.conditions.models import LeadEvent

    ids = {e["lead_id"] for e in events if e.get("lead_id") is not None}
    exts = {(e["source"], e["external_id"]) for e in events if e.get("external_id") and e.get("source")}
    emails = {dedupe.normalise_email(e["email"]) for e in events if e.get("email")} - {""}
    phones = {dedupe.normalise_phone(e["phone"]) for e in events if e.get("phone")} - {""}
    by_id = {pk: pk for pk in Lead.objects.filter(pk__in=ids).values_list("pk", flat=True)} if ids else {}
    by_ext = {}
    for source in {s for s, _x in exts}:
        wanted = [x for s, x in exts if s == source]
        for pk, ext in Lead.objects.filter(source=source, external_id__in=wanted).values_list("pk", "external_id"):
            by_ext[(source, ext)] = pk
    by_email, by_phone = {}, {}
    # Oldest lead wins when several share an e-mail or phone (the original, not a later duplicate).
    for pk, key in Lead.objects.filter(email_norm__in=emails).order_by("-created_at", "-pk").values_list(
            "pk", "email_norm") if emails else []:
        by_email[key] = pk
    for pk, key in Lead.objects.filter(phone_norm__in=phones).order_by("-created_at", "-pk").values_list(
            "pk", "phone_norm") if phones else []:
        by_phone[key] = pk

    rows, unmatched = [], []
    now = clock.now()
    for index, event in enumerate(events):
        lead_id, reason = _match(event, by_id, by_ext, by_email, by_phone)
        if lead_id is None:
            unmatched.append({"index": index, "reason": str(reason)})
            continue
        rows.append(LeadEvent(lead_id=lead_id, type=event["type"], occurred_at=event.get("occurred_at") or now,
                              payload=event.get("payload") or {}))
    with transaction.atomic():
        LeadEvent.objects.bulk_create(rows, batch_size=500)
        if rows:
            lead_ids = sorted({r.lead_id for r in rows})
            transaction.on_commit(lambda: _queue_rescore(lead_ids))
    return {"accepted": len(rows), "unmatched": unmatched}


def _queue_rescore(lead_ids: list[int]) -> None:
    """Once the events are committed, re-score their leads in the background (the API answers first)."""
    from baton.capture.tasks import events_rescore

    try:
        events_rescore(lead_ids)
    except Exception:  # the queue being down must not fail an accepted batch; the hourly re-score catches up
        log.exception("could not queue the re-score of %d leads after behaviour events", len(lead_ids))
