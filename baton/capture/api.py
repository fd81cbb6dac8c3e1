"""`POST /api/intake/<form_key>` (public web forms) and `POST /api/events` (behaviour events, batched)."""

import json
from datetime import datetime
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from baton.capture import intake
from baton.capture.events import events_ingest
from baton.capture.models import IntakeForm, IntakeSubmission
from baton.core.api import DEFAULT_AUTH

router = Router(tags=["capture"])

MAX_EVENTS = 1000


def _error(status: int, message: str, code: str = "refused") -> JsonResponse:
    return JsonResponse({"detail": str(message), "errors": [{"field": None, "message": str(message), "code": code}]},
                        status=status)


def _cors(response, origin: str | None):
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


def _payload(request) -> dict | None:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return {k: (v if len(v) > 1 else v[0]) for k, v in request.POST.lists()}


@router.api_operation(["POST", "OPTIONS"], "/intake/{form_key}", auth=None, operation_id="intake_submit",
                      summary="Submit a public web form (202: stored; processed into a lead)")
def intake_submit(request, form_key: str):
    form = IntakeForm.objects.filter(key=form_key, active=True).first()
    if form is None:
        return _error(404, _("Not found."), "not_found")
    origin = request.headers.get("Origin")
    if not intake.origin_allowed(form, origin):
        return _error(403, _("This origin may not post to this form."), "origin_refused")
    if request.method == "OPTIONS":  # CORS preflight
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
        return _cors(response, origin)
    ip = request.META.get("REMOTE_ADDR") or ""
    if intake.rate_limited(form, ip):
        response = _error(429, _("Too many submissions, please try again in a minute."), "rate_limited")
        response["Retry-After"] = "60"
        return _cors(response, origin)
    payload = _payload(request)
    if payload is None:
        return _cors(_error(400, _("The body must be a JSON object or a form."), "bad_body"), origin)
    spam = bool(form.honeypot_field and payload.get(form.honeypot_field))
    # Stored (committed) before anything else happens: an accepted submission is never lost.
    submission = IntakeSubmission.objects.create(
        form=form, payload=payload, ip=ip or None, user_agent=request.headers.get("User-Agent", "")[:500],
        referrer=request.headers.get("Referer", "")[:1000],
        status=IntakeSubmission.Status.SPAM if spam else IntakeSubmission.Status.PENDING,
    )
    if not spam:
        intake.process_submission(submission.pk)
    return _cors(JsonResponse({"status": "accepted", "id": submission.pk}, status=202), origin)


class EventIn(Schema):
    type: str = Field(..., min_length=1, max_length=50)
    occurred_at: datetime | None = None
    lead_id: int | None = None
    external_id: str | None = None
    source: str | None = None
    email: str | None = None
    phone: str | None = None
    payload: dict[str, Any] = {}


class EventsIn(Schema):
    events: list[EventIn] = Field(..., max_length=MAX_EVENTS)


class Unmatched(Schema):
    index: int
    reason: str


class EventsOut(Schema):
    accepted: int
    unmatched: list[Unmatched]


@router.post("/events", auth=DEFAULT_AUTH, response={200: EventsOut}, operation_id="events_ingest",
             summary="Record up to 1,000 behaviour events, matched to leads")
def events_post(request, body: EventsIn):
    return events_ingest(events=[e.model_dump() for e in body.events], actor=request.auth)
