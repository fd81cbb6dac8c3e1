"""`POST /api/intake/<form_key>` (public web forms), `POST /api/events` (behaviour events, batched), and the
capture settings sales ops manage: `/api/dedupe-policies`, `/api/intake-forms`."""

import json
from datetime import datetime
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from baton.capture import intake, selectors, services
from baton.capture.events import events_ingest
from baton.capture.models import DedupePolicy, IntakeForm, IntakeSubmission
from baton.core.api import DEFAULT_AUTH, SOURCE, InputSchema, choices, partial, responses
from baton.core.errors import NotFound
from baton.leads.models import LeadSource

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


# --- Settings (sales ops) ------------------------------------------------------------------------------------


def _config(model, pk, user):
    services._require_ops(user)
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


class DedupePolicyOut(Schema):
    id: int
    source: str = Field(..., description="lead source; empty: the default for every other source")
    action: str
    fuzzy_threshold: int
    active: bool


class DedupePolicyIn(InputSchema):
    source: choices([*LeadSource.values, ""]) = ""
    action: choices(DedupePolicy.Action.values) = DedupePolicy.Action.FLAG
    fuzzy_threshold: int = Field(90, ge=50, le=100)
    active: bool = True


DedupePolicyPatch = partial(DedupePolicyIn, "DedupePolicyPatch")


def _policy_kwargs(payload, exclude_unset=False) -> dict:
    data = payload.dict(exclude_unset=exclude_unset)
    if "source" in data:
        data["lead_source"] = data.pop("source") or ""
    return data


@router.get("/dedupe-policies", response=responses(200, list[DedupePolicyOut]), operation_id="dedupe_policy_list",
            summary="De-duplication policies (ops)")
def dedupe_policy_list(request):
    services._require_ops(request.auth)
    return list(selectors.dedupe_policies())


@router.post("/dedupe-policies", response=responses(201, DedupePolicyOut), operation_id="dedupe_policy_create",
             summary="Create a de-duplication policy for a source (ops)")
def dedupe_policy_create(request, payload: DedupePolicyIn):
    policy = services.dedupe_policy_create(actor=request.auth, source=SOURCE, **_policy_kwargs(payload))
    return Status(201, policy)


@router.get("/dedupe-policies/{policy_id}", response=responses(200, DedupePolicyOut),
            operation_id="dedupe_policy_detail", summary="One de-duplication policy (ops)")
def dedupe_policy_detail(request, policy_id: int):
    return _config(DedupePolicy, policy_id, request.auth)


@router.patch("/dedupe-policies/{policy_id}", response=responses(200, DedupePolicyOut),
              operation_id="dedupe_policy_update", summary="Change a de-duplication policy (ops)")
def dedupe_policy_update(request, policy_id: int, payload: DedupePolicyPatch):
    policy = _config(DedupePolicy, policy_id, request.auth)
    services.dedupe_policy_update(policy=policy, actor=request.auth, source=SOURCE,
                                  **_policy_kwargs(payload, exclude_unset=True))
    return policy


@router.delete("/dedupe-policies/{policy_id}", response=responses(204, None), operation_id="dedupe_policy_delete",
               summary="Delete a de-duplication policy (ops)")
def dedupe_policy_delete(request, policy_id: int):
    policy = _config(DedupePolicy, policy_id, request.auth)
    services.dedupe_policy_delete(policy=policy, actor=request.auth, source=SOURCE)
    return Status(204, None)


class IntakeFormOut(Schema):
    id: int
    key: str
    name: str
    active: bool
    field_mapping: dict[str, str]
    default_source: str
    allowed_origins: list[str]
    honeypot_field: str
    rate_limit_per_minute: int
    created_at: datetime
    url: str

    @staticmethod
    def resolve_url(obj):
        return f"/api/intake/{obj.key}"


class IntakeFormIn(InputSchema):
    key: str = Field(..., min_length=1, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(..., min_length=1, max_length=100)
    active: bool = True
    field_mapping: dict[str, str] = Field({}, description="form field → lead field, or custom:<custom field key>")
    default_source: choices(LeadSource.values) = LeadSource.WEB_FORM
    allowed_origins: list[str] = Field([], description="origins like https://example.com, or *")
    honeypot_field: str = Field("website_url", max_length=50)
    rate_limit_per_minute: int = Field(30, ge=1, le=100000)


IntakeFormPatch = partial(IntakeFormIn, "IntakeFormPatch")


class IntakeSubmissionOut(Schema):
    id: int
    received_at: datetime
    status: str
    lead: int | None = Field(None, alias="lead_id")
    error: str


@router.get("/intake-forms", response=responses(200, list[IntakeFormOut]), operation_id="intake_form_list",
            summary="Intake forms (ops)")
def intake_form_list(request):
    services._require_ops(request.auth)
    return list(selectors.intake_forms())


@router.post("/intake-forms", response=responses(201, IntakeFormOut), operation_id="intake_form_create",
             summary="Create an intake form posting to /api/intake/<key> (ops)")
def intake_form_create(request, payload: IntakeFormIn):
    form = services.intake_form_create(actor=request.auth, source=SOURCE, **payload.dict())
    return Status(201, form)


@router.get("/intake-forms/{form_id}", response=responses(200, IntakeFormOut), operation_id="intake_form_detail",
            summary="One intake form (ops)")
def intake_form_detail(request, form_id: int):
    return _config(IntakeForm, form_id, request.auth)


@router.patch("/intake-forms/{form_id}", response=responses(200, IntakeFormOut), operation_id="intake_form_update",
              summary="Change an intake form (ops)")
def intake_form_update(request, form_id: int, payload: IntakeFormPatch):
    form = _config(IntakeForm, form_id, request.auth)
    services.intake_form_update(form=form, actor=request.auth, source=SOURCE, **payload.dict(exclude_unset=True))
    return form


@router.delete("/intake-forms/{form_id}", response=responses(204, None), operation_id="intake_form_delete",
               summary="Delete an intake form and its stored submissions (ops; leads stay)")
def intake_form_delete(request, form_id: int):
    form = _config(IntakeForm, form_id, request.auth)
    services.intake_form_delete(form=form, actor=request.auth, source=SOURCE)
    return Status(204, None)


@router.get("/intake-forms/{form_id}/submissions", response=responses(200, list[IntakeSubmissionOut]),
            operation_id="intake_form_submissions", summary="The last 20 submissions of a form, with status (ops)")
def intake_form_submissions(request, form_id: int):
    form = _config(IntakeForm, form_id, request.auth)
    return selectors.intake_recent_submissions(form)
