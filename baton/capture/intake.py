"""Web-form intake: rate limit, store the raw submission, then map it to a lead through `lead_capture`."""

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F

from baton.capture.models import IntakeForm, IntakeRateCounter, IntakeSubmission
from baton.capture.services import lead_capture
from baton.core import clock
from baton.core.models import ChangeSource

log = logging.getLogger(__name__)

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Lead fields a form may fill (directly by name, or through the form's field mapping).
LEAD_FIELDS = ("company", "contact_name", "phone", "email", "notes", "external_id", "budget", *UTM_FIELDS)
PAGE_URL_FIELDS = ("page_url", "referrer", "url")
MAX_ATTEMPTS = 3


def origin_allowed(form: IntakeForm, origin: str | None) -> bool:
    """No Origin header (a server posting) is allowed; a browser origin must be listed (or "*" listed)."""
    if not origin:
        return True
    allowed = [o.rstrip("/") for o in (form.allowed_origins or [])]
    return "*" in allowed or origin.rstrip("/") in allowed


def rate_limited(form: IntakeForm, ip: str) -> bool:
    """Count this submission in the (form, IP, minute) window; True when over the form's limit."""
    now = clock.now()
    window = now.replace(second=0, microsecond=0)
    ip = ip or "-"
    with transaction.atomic():
        updated = IntakeRateCounter.objects.filter(form=form, ip=ip, window_start=window).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    IntakeRateCounter.objects.create(form=form, ip=ip, window_start=window, count=1)
            except IntegrityError:  # a parallel worker created the window first
                IntakeRateCounter.objects.filter(form=form, ip=ip, window_start=window).update(count=F("count") + 1)
        count = IntakeRateCounter.objects.filter(form=form, ip=ip, window_start=window).values_list(
            "count", flat=True).first() or 0
    if now.second == 0 and now.microsecond < 100_000:  # now and then, forget old windows
        IntakeRateCounter.objects.filter(window_start__lt=window - timedelta(minutes=10)).delete()
    return count > form.rate_limit_per_minute


def map_payload(form: IntakeForm, payload: dict, referrer: str = "") -> dict:
    """Lead field values from a raw submission, per the form's mapping; UTM tags from the payload, else
    from the query string of the page the form was on (a `page_url` field, or the Referer header)."""
    data: dict = {}
    custom: dict = {}
    mapping = form.field_mapping or {}
    for key, value in payload.items():
        if key == form.honeypot_field:
            continue
        target = mapping.get(key) or (key if key in LEAD_FIELDS else None)
        if not target:
            continue
        value = value if not isinstance(value, str) else value.strip()
        if target.startswith("custom:"):
            custom[target.removeprefix("custom:")] = value
        elif target in LEAD_FIELDS:
            data[target] = "" if value is None else str(value) if target != "budget" else value
    if custom:
        data["custom_fields"] = custom
    page_url = next((payload[k] for k in PAGE_URL_FIELDS if isinstance(payload.get(k), str) and payload[k]),
                    referrer)
    if page_url:
        query = parse_qs(urlsplit(page_url).query)
        for name in UTM_FIELDS:
            if not data.get(name) and query.get(name):
                data[name] = query[name][0][:100]
    data["source"] = form.default_source
    return data


def process_submission(submission_id: int) -> IntakeSubmission:
    """Turn a pending (or failed, retryable) submission into a lead; safe to call twice."""
    with transaction.atomic():
        sub = (IntakeSubmission.objects.select_for_update().select_related("form").get(pk=submission_id))
        if sub.status not in (IntakeSubmission.Status.PENDING, IntakeSubmission.Status.FAILED):
            return sub
        try:
            with transaction.atomic():
                data = map_payload(sub.form, sub.payload, sub.referrer)
                result = lead_capture(data=data, actor=None, source_channel="web_form", source=ChangeSource.API)
                sub.lead = result.lead
                sub.status = IntakeSubmission.Status.PROCESSED
                sub.processed_at = clock.now()
                sub.error = ""
        except Exception as exc:  # recorded on the row; the periodic re-drive retries it
            log.warning("intake submission %s failed: %s", sub.pk, exc)
            sub.status = IntakeSubmission.Status.FAILED
            sub.error = f"{type(exc).__name__}: {getattr(exc, 'errors', None) or exc}"[:2000]
        sub.attempts += 1
        sub.save(update_fields=["lead", "status", "processed_at", "error", "attempts"])
    return sub


def redrive(older_than_seconds: int = 60) -> int:
    """Process submissions a crash left pending, and retry failed ones a few times. Returns how many."""
    cutoff = clock.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        IntakeSubmission.objects.filter(received_at__lt=cutoff, attempts__lt=MAX_ATTEMPTS,
                                        status__in=[IntakeSubmission.Status.PENDING, IntakeSubmission.Status.FAILED])
        .order_by("received_at").values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        process_submission(pk)
    return len(ids)
