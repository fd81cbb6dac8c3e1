"""`/api/opportunities`: deals; `stage` and `pipeline` are given and answered by name."""

from datetime import date, datetime
from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from baton.accounts.selectors import account_list, contact_list
from baton.core.api import (
    SOURCE,
    InputSchema,
    Refs,
    Resource,
    choices,
    partial,
    register_crud,
    responses,
    unique_conflict,
)
from baton.core.errors import Conflict, ValidationFailed
from baton.leads.selectors import lead_list
from baton.opportunities import gates, selectors, services
from baton.opportunities.filtersets import OpportunityFilterSet
from baton.opportunities.models import Opportunity, Pipeline, Stage, StageRequirement
from baton.org.models import User

router = Router()


class OpportunityOut(Schema):
    id: int
    name: str
    account: int | None
    contact: int | None
    lead: int | None
    owner: int | None
    pipeline: str
    stage: str
    amount: Decimal
    currency: str
    expected_close_date: date | None
    probability: int
    status: str
    lost_reason: str
    custom_fields: dict
    created_at: datetime
    updated_at: datetime
    stage_entered_at: datetime
    closed_at: datetime | None

    # SLA clocks: [{"policy": name, "state": "on_track" | "warning" | "breached" | "stopped", "due_at": ISO}]
    clocks: list[dict] = []

    @staticmethod
    def resolve_clocks(obj):
        from baton.sla.clocks import clocks_for

        return [{**c, "due_at": c["due_at"].isoformat()} for c in clocks_for(obj)]

    @staticmethod
    def resolve_account(obj):
        return obj.account_id

    @staticmethod
    def resolve_contact(obj):
        return obj.contact_id

    @staticmethod
    def resolve_lead(obj):
        return obj.lead_id

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id

    @staticmethod
    def resolve_pipeline(obj):
        return obj.pipeline.name

    @staticmethod
    def resolve_stage(obj):
        return obj.stage.name


class OpportunityIn(InputSchema):
    name: str
    account: int | None = Field(None, description="account id")
    contact: int | None = Field(None, description="contact id")
    lead: int | None = Field(None, description="lead id")
    owner: int | None = Field(None, description="user id; defaults to the caller")
    pipeline: str | None = Field(None, description="pipeline name; defaults to the stage's or the default one")
    stage: str | None = Field(None, description="stage name (unique within its pipeline)")
    amount: Decimal = Field(Decimal("0"), ge=0)
    currency: str = "CNY"
    expected_close_date: date | None = None
    probability: int | None = Field(None, ge=0, le=100, description="defaults to the stage's")
    lost_reason: str = ""
    custom_fields: dict = {}
    skip_reason: str = Field("", description="moving forward past unmet skippable stage requirements: why "
                                             "(opens a manager review)")


def resolve(data: dict, request, instance) -> dict:
    if data.get("probability", 0) is None:
        data.pop("probability")
    refs = Refs(data)
    user = request.auth
    refs.one("account", account_list(user=user))
    refs.one("contact", contact_list(user=user))
    refs.one("lead", lead_list(user=user))
    refs.one("owner", User.objects.filter(is_active=True))
    refs.one("pipeline", Pipeline.objects.all(), "name")
    if data.get("stage") is not None:
        pipeline = refs.data.get("pipeline")
        if not isinstance(pipeline, Pipeline):
            pipeline = instance.pipeline if instance else Pipeline.objects.filter(is_default=True).first()
        if pipeline is None:
            refs.add_error("pipeline", _("Name the pipeline of this stage."))
        else:
            refs.one("stage", Stage.objects.filter(pipeline=pipeline), "name")
    elif "stage" in data:
        refs.data.pop("stage")  # null: keep the current stage (or the pipeline's first)
    if "pipeline" in data and data["pipeline"] is None:
        refs.data.pop("pipeline")
    return refs.done()


register_crud(router, Resource(
    path="opportunities", model=Opportunity, out=OpportunityOut, create_in=OpportunityIn,
    filterset=OpportunityFilterSet, list_selector=selectors.opportunity_list,
    get_selector=selectors.opportunity_get, create_service=services.opportunity_create,
    update_service=services.opportunity_update, delete_service=services.opportunity_delete,
    instance_kw="opportunity", resolve=resolve,
))


# --- /api/pipelines, /api/stages/{id}/requirements, /api/opportunities/{id}/evidence --------------------------

settings_router = Router(tags=["pipelines"])


class StageOut(Schema):
    id: int
    name: str
    position: int
    kind: str
    probability: int
    color: str
    guidance: str
    max_dwell_days: int | None = None
    handbook_url: str = ""


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]


class StageIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=80)
    kind: choices(Stage.Kind.values) = "open"
    probability: int = Field(10, ge=0, le=100)
    color: str = Field("blue", min_length=1, max_length=20)
    guidance: str = ""
    max_dwell_days: int | None = Field(None, ge=1, le=365, description="maximum dwell in business days")
    handbook_url: str = Field("", max_length=200)


StagePatch = partial(StageIn, "StagePatch")


class PipelineIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=80)
    is_default: bool = False
    stages: list[StageIn] = []


class PipelinePatch(InputSchema):
    name: str | None = Field(None, min_length=1, max_length=80)
    is_default: bool | None = None


class StageOrderIn(InputSchema):
    stage_ids: list[int]


def _pipeline_out(pipeline: Pipeline) -> dict:
    from baton.process.models import StageDwellRule

    stages = list(pipeline.stages.order_by("position"))
    rules = {r.stage_id: r for r in StageDwellRule.objects.filter(stage__in=stages)}
    return {"id": pipeline.pk, "name": pipeline.name, "is_default": pipeline.is_default, "stages": [
        {"id": s.pk, "name": s.name, "position": s.position, "kind": s.kind, "probability": s.probability,
         "color": s.color, "guidance": s.guidance,
         "max_dwell_days": rules[s.pk].max_business_days if s.pk in rules else None,
         "handbook_url": rules[s.pk].handbook_url if s.pk in rules else ""} for s in stages]}


def _set(payload) -> dict:
    """The fields a PATCH body really set (null on a non-nullable field: left alone)."""
    return {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}


@settings_router.get("/pipelines", response=responses(200, list[PipelineOut]), operation_id="pipelines_list",
                     summary="Every pipeline with its stages in order (dwell rule included)")
def pipelines_list(request):
    return [_pipeline_out(p) for p in Pipeline.objects.all()]


@settings_router.post("/pipelines", response=responses(201, PipelineOut), operation_id="pipeline_create",
                      summary="Create a pipeline with its stages (ops)")
def pipeline_create(request, payload: PipelineIn):
    data = payload.dict()
    pipeline = services.pipeline_create(actor=request.auth, source=SOURCE, **data)
    return Status(201, _pipeline_out(pipeline))


@settings_router.patch("/pipelines/{pipeline_id}", response=responses(200, PipelineOut),
                       operation_id="pipeline_update", summary="Rename a pipeline or make it the default (ops)")
def pipeline_update(request, pipeline_id: int, payload: PipelinePatch):
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    services.pipeline_update(pipeline=pipeline, actor=request.auth, source=SOURCE, **_set(payload))
    return _pipeline_out(pipeline)


@settings_router.post("/pipelines/{pipeline_id}/stages", response=responses(201, PipelineOut),
                      operation_id="stage_create", summary="Add a stage at the end of a pipeline (ops)")
def stage_create(request, pipeline_id: int, payload: StageIn):
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    services.stage_create(pipeline=pipeline, actor=request.auth, source=SOURCE, **payload.dict())
    return Status(201, _pipeline_out(pipeline))


@settings_router.post("/pipelines/{pipeline_id}/stage-order", response=responses(200, PipelineOut),
                      operation_id="stage_reorder", summary="Reorder a pipeline's stages: every stage id once (ops)")
def stage_reorder(request, pipeline_id: int, payload: StageOrderIn):
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    services.stage_reorder(pipeline=pipeline, stage_ids=payload.stage_ids, actor=request.auth, source=SOURCE)
    return _pipeline_out(pipeline)


@settings_router.patch("/stages/{stage_id}", response=responses(200, PipelineOut), operation_id="stage_update",
                       summary="Change a stage (ops); `max_dwell_days: null` removes its dwell rule")
def stage_update(request, stage_id: int, payload: StagePatch):
    stage = get_object_or_404(Stage, pk=stage_id)
    data = _set(payload)
    if "max_dwell_days" in payload.model_fields_set:
        data["max_dwell_days"] = payload.max_dwell_days
    services.stage_update(stage=stage, actor=request.auth, source=SOURCE, **data)
    return _pipeline_out(stage.pipeline)


@settings_router.delete("/stages/{stage_id}", response=responses(204, None), operation_id="stage_delete",
                        summary="Delete a stage no deal is or was in (ops); 422 otherwise")
def stage_delete(request, stage_id: int):
    stage = get_object_or_404(Stage, pk=stage_id)
    services.stage_delete(stage=stage, actor=request.auth, source=SOURCE)
    return Status(204, None)


class RequirementOut(Schema):
    id: int
    stage: int
    code: str
    label: str
    kind: str
    field_name: str
    attachment_kind: str
    min_count: int
    condition: dict | None
    skippable: bool
    guidance: str
    position: int

    @staticmethod
    def resolve_stage(obj):
        return obj.stage_id


class RequirementIn(InputSchema):
    code: str = Field(..., min_length=1, max_length=60, description="slug, unique within the stage")
    label: str = Field(..., min_length=1, max_length=200)
    kind: choices(StageRequirement.Kind.values)
    field_name: str = Field("", max_length=60, description="kind field: the deal's field")
    attachment_kind: str = Field("", max_length=30, description="kind evidence: the attachment kind")
    min_count: int = Field(1, ge=1, le=1000)
    condition: dict | None = Field(None, description="applies when (condition language); null: always")
    skippable: bool = False
    guidance: str = ""
    position: int | None = Field(None, ge=0, le=32767)


RequirementPatch = partial(RequirementIn, "RequirementPatch")


def _unique_as_field(call, **kwargs):
    """A duplicate code answers 409 naming `code` (not a nameless 422)."""
    try:
        return call(**kwargs)
    except ValidationFailed as exc:
        conflict = unique_conflict(exc, StageRequirement)
        if conflict is None:
            raise
        raise Conflict(errors=[(f or "code", m) for f, m in conflict.errors]) from exc


def _requirement(stage_id, requirement_id) -> StageRequirement:
    return get_object_or_404(StageRequirement, pk=requirement_id, stage_id=stage_id)


@settings_router.get("/stages/{stage_id}/requirements", response=responses(200, list[RequirementOut]),
                     operation_id="stage_requirements_list", summary="A stage's entry requirements (its gate)")
def stage_requirements_list(request, stage_id: int):
    stage = get_object_or_404(Stage, pk=stage_id)
    return list(stage.requirements.order_by("position", "id"))


@settings_router.post("/stages/{stage_id}/requirements", response=responses(201, RequirementOut),
                      operation_id="stage_requirement_create",
                      summary="Add an entry requirement (ops); the condition is validated (422 names the path)")
def stage_requirement_create(request, stage_id: int, payload: RequirementIn):
    stage = get_object_or_404(Stage, pk=stage_id)
    services._require_ops(request.auth)
    data = payload.dict()
    if data["position"] is None:
        data["position"] = stage.requirements.count()
    requirement = _unique_as_field(services.stage_requirement_create, actor=request.auth, source=SOURCE,
                                   stage=stage, **data)
    return Status(201, requirement)


@settings_router.patch("/stages/{stage_id}/requirements/{requirement_id}", response=responses(200, RequirementOut),
                       operation_id="stage_requirement_update", summary="Change an entry requirement (ops)")
def stage_requirement_update(request, stage_id: int, requirement_id: int, payload: RequirementPatch):
    requirement = _requirement(stage_id, requirement_id)
    services._require_ops(request.auth)
    data = _set(payload)
    if "condition" in payload.model_fields_set:
        data["condition"] = payload.condition or None
    _unique_as_field(services.stage_requirement_update, requirement=requirement, actor=request.auth, source=SOURCE,
                     **data)
    return requirement


@settings_router.delete("/stages/{stage_id}/requirements/{requirement_id}", response=responses(204, None),
                        operation_id="stage_requirement_delete", summary="Delete an entry requirement (ops)")
def stage_requirement_delete(request, stage_id: int, requirement_id: int):
    requirement = _requirement(stage_id, requirement_id)
    services._require_ops(request.auth)
    services.stage_requirement_delete(requirement=requirement, actor=request.auth, source=SOURCE)
    return Status(204, None)


class UnmetOut(Schema):
    requirement: int
    code: str
    stage: str
    label: str
    message: str
    skippable: bool


class EvidenceOut(Schema):
    evidence: dict
    next_stage: str | None
    unmet: list[UnmetOut]


def unmet_ahead(opportunity: Opportunity) -> tuple[Stage | None, list]:
    """The deal's next stage and every requirement it still misses to enter it."""
    nxt = (opportunity.pipeline.stages.exclude(kind=Stage.Kind.LOST).filter(position__gt=opportunity.stage.position)
           .order_by("position").first())
    return nxt, (gates.gate_check(opportunity, nxt) if nxt else [])


@settings_router.post("/opportunities/{opportunity_id}/evidence", response=responses(201, EvidenceOut),
                      operation_id="opportunity_evidence",
                      summary="Upload gate evidence (multipart: file + requirement id, or kind); answers what the "
                              "next stage still requires")
def opportunity_evidence(request, opportunity_id: int, file: File[UploadedFile],
                         requirement: Form[int | None] = None, kind: Form[str] = ""):
    deal = selectors.opportunity_get(user=request.auth, pk=opportunity_id, action="change")
    if requirement is None and not kind:
        raise ValidationFailed(errors=[("requirement", _("Name the requirement (id) or the evidence kind."))])
    evidence = services.evidence_upload(opportunity=deal, file=file, requirement_id=requirement, kind=kind,
                                        actor=request.auth, source=SOURCE)
    deal = selectors.opportunity_get(user=request.auth, pk=opportunity_id)
    nxt, unmet = unmet_ahead(deal)
    return Status(201, {
        "evidence": {"id": evidence.attachment_id, "name": evidence.attachment.name,
                     "kind": evidence.attachment.kind, "requirement": evidence.requirement_id},
        "next_stage": nxt.name if nxt else None,
        "unmet": [{"requirement": u.requirement.pk, "code": u.requirement.code, "stage": u.requirement.stage.name,
                   "label": u.requirement.label, "message": u.message, "skippable": u.skippable} for u in unmet],
    })


router.add_router("", settings_router)
