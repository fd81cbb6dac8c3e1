"""`/api/process/compliance`, deal signals and required actions (list, evidence, complete)."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from baton.core import clock
from baton.core.api import choices, responses
from baton.core.errors import ValidationFailed
from baton.core.models import Attachment, ChangeSource
from baton.opportunities.selectors import opportunity_get
from baton.process import selectors, services
from baton.process.models import EVENTS

router = Router(tags=["process"])
SOURCE = ChangeSource.API


class ActionOut(Schema):
    id: int
    opportunity: int
    template: str
    name: str
    owner: int | None
    trigger: str
    detail: str
    triggered_at: datetime
    due_at: datetime
    status: str
    completed_at: datetime | None
    completed_on_time: bool | None
    form_data: dict
    result: dict
    evidence: list[dict]


def action_out(a) -> dict:
    return {"id": a.pk, "opportunity": a.opportunity_id, "template": a.template.code, "name": a.template.name,
            "owner": a.owner_id, "trigger": a.trigger, "detail": a.detail, "triggered_at": a.triggered_at,
            "due_at": a.due_at, "status": a.status, "completed_at": a.completed_at,
            "completed_on_time": a.completed_on_time, "form_data": a.form_data, "result": a.result,
            "evidence": [{"id": e.pk, "name": e.name, "kind": e.kind} for e in a.evidence.all()]}


class SignalIn(Schema):
    kind: choices(EVENTS)
    detail: str = ""


class CompleteIn(Schema):
    form: dict = {}


class ComplianceRow(Schema):
    key: int | None
    label: str
    due: int
    on_time: int
    rate: float | None
    actions: list[int]


class ComplianceOut(Schema):
    group: str
    start: datetime
    end: datetime
    rows: list[ComplianceRow]


def period(start: date | None, end: date | None) -> tuple[datetime, datetime]:
    """[from 00:00, day after `to` 00:00) in the company time zone; default: this quarter so far."""
    today = clock.today()
    start = start or date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = end or today
    tz = timezone.get_default_timezone()
    return (timezone.make_aware(datetime.combine(start, time.min), tz),
            timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz))


@router.get("/process/compliance", response=responses(200, ComplianceOut), operation_id="process_compliance",
            summary="Process compliance: required actions completed on time ÷ due, per rep, team or region, "
                    "with the ids of the actions behind each figure")
def process_compliance(request, group: choices(selectors.GROUPS) = "rep", to: date | None = None):
    raw = request.GET.get("from") or ""
    try:
        from_ = parse_date(raw) if raw else None
    except ValueError:
        from_ = None
    if raw and from_ is None:
        raise ValidationFailed(errors=[("from", _("Give a date as YYYY-MM-DD."))])
    start, end = period(from_, to)
    rows = selectors.compliance(user=request.auth, group=group, start=start, end=end)
    ids: dict = {}
    for key, pk in (selectors.due_actions(user=request.auth, start=start, end=end).order_by("due_at", "id")
                    .annotate(_key=selectors._group_expr(group)).values_list("_key", "pk")):
        ids.setdefault(key, []).append(pk)
    return {"group": group, "start": start, "end": end,
            "rows": [{**r, "actions": ids.get(r["key"], [])} for r in rows]}


@router.get("/opportunities/{opportunity_id}/required-actions", response=responses(200, list[ActionOut]),
            operation_id="required_actions_list", summary="The deal's required actions")
def required_actions_list(request, opportunity_id: int):
    deal = opportunity_get(user=request.auth, pk=opportunity_id)
    return [action_out(a) for a in selectors.actions_of_deal(deal)]


@router.post("/opportunities/{opportunity_id}/signals", response=responses(201, list[ActionOut]),
             operation_id="deal_signal",
             summary="A deal signal (purchase_intent, competitor_named, risk_signal): answers the actions raised")
def deal_signal(request, opportunity_id: int, payload: SignalIn):
    deal = opportunity_get(user=request.auth, pk=opportunity_id, action="change")
    actions = services.deal_signal(opportunity=deal, kind=payload.kind, detail=payload.detail, actor=request.auth,
                                   source=SOURCE)
    return Status(201, [action_out(a) for a in actions])


@router.post("/required-actions/{action_id}/evidence", response=responses(200, ActionOut),
             operation_id="required_action_evidence", summary="Upload evidence (multipart: file, kind)")
def required_action_evidence(request, action_id: int, file: File[UploadedFile],
                             kind: Form[choices(Attachment.Kind.values)] = "document"):
    action = selectors.action_get(user=request.auth, pk=action_id, action="change")
    services.action_attach(action=action, file=file, kind=kind, actor=request.auth, source=SOURCE)
    return action_out(selectors.action_get(user=request.auth, pk=action_id))


@router.post("/required-actions/{action_id}/complete", response=responses(200, ActionOut),
             operation_id="required_action_complete",
             summary="Complete an action with its form; 422 lists every unmet requirement")
def required_action_complete(request, action_id: int, payload: CompleteIn):
    action = selectors.action_get(user=request.auth, pk=action_id, action="change")
    if not isinstance(payload.form, dict):
        raise ValidationFailed(errors=[("form", _("Send the form as an object."))])
    services.action_complete(action=action, form=payload.form, actor=request.auth, source=SOURCE)
    return action_out(selectors.action_get(user=request.auth, pk=action_id))
