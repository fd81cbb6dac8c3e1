"""/api/rules/…: tagging and scoring rules, grade bands, preview, versions, re-evaluation runs.

Handlers stay thin: parse, one service or selector call, answer. Conditions are checked on save by the
condition language (422 with `condition.<path>` and a message)."""

from datetime import datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from baton.core.api import SOURCE, InputSchema, partial, responses
from baton.core.errors import PermissionDenied
from baton.rules import selectors, services
from baton.rules.models import RuleRun, RuleType, ScoringRule, TaggingRule

router = Router(tags=["rules"])
READ_ROLES = ("ops", "director", "manager")


def _reader(request):
    user = request.user
    if not (user.is_superuser or any(user.has_role(r) for r in READ_ROLES)):
        raise PermissionDenied()
    return user


class TaggingRuleOut(Schema):
    id: int
    name: str
    key: str
    condition: dict[str, Any]
    tags: list[str]
    active: bool
    priority: int
    version: int
    updated_at: datetime


class TaggingRuleIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=100)
    condition: dict[str, Any] = {}
    tags: list[str] = Field(..., min_length=1)
    active: bool = True
    priority: int = 100


class ScoringRuleOut(Schema):
    id: int
    name: str
    key: str
    condition: dict[str, Any]
    points: int
    kind: str
    event_kind: str
    half_life_hours: float | None
    active: bool
    priority: int
    version: int
    updated_at: datetime


class ScoringRuleIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=100)
    condition: dict[str, Any] = {}
    points: int = Field(..., ge=-100, le=100)
    kind: Literal["static", "behaviour"] = "static"
    event_kind: str = Field("", max_length=50)
    half_life_hours: float | None = Field(None, gt=0)
    active: bool = True
    priority: int = 100


TaggingRulePatch = partial(TaggingRuleIn, "TaggingRulePatch")
ScoringRulePatch = partial(ScoringRuleIn, "ScoringRulePatch")


class GradeBandsOut(Schema):
    a_min: int
    b_min: int
    version: int


class GradeBandsIn(InputSchema):
    a_min: int = Field(..., ge=0, le=100)
    b_min: int = Field(..., ge=0, le=100)


class PreviewIn(InputSchema):
    rule_type: Literal["tagging", "scoring"] = "scoring"
    condition: dict[str, Any] = {}
    points: int | None = Field(None, ge=-100, le=100)
    kind: Literal["static", "behaviour"] = "static"
    event_kind: str = ""
    half_life_hours: float | None = Field(None, gt=0)
    rule_id: int | None = None


class PreviewOut(Schema):
    matches: int
    grade_changes: dict[str, int]


class VersionOut(Schema):
    version: int
    snapshot: dict[str, Any]
    actor_id: int | None
    at: datetime


class RunOut(Schema):
    id: int
    rule_type: str
    rule_id: int | None
    rule_version: int | None
    status: str
    total: int
    done: int
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _crud(path: str, rule_type: str, model, out, create_in, patch_in, list_selector):
    @router.get(f"/rules/{path}", response=list[out], operation_id=f"rules_{path}_list")
    def list_rules(request):
        _reader(request)
        return list(list_selector())

    @router.post(f"/rules/{path}", response=responses(201, out), operation_id=f"rules_{path}_create")
    def create_rule(request, payload: create_in):
        rule = services.rule_create(rule_type=rule_type, actor=request.user, source=SOURCE,
                                    **payload.model_dump())
        return Status(201, rule)

    @router.get(f"/rules/{path}/{{rule_id}}", response=responses(200, out), operation_id=f"rules_{path}_get")
    def get_rule(request, rule_id: int):
        _reader(request)
        return get_object_or_404(model, pk=rule_id)

    @router.patch(f"/rules/{path}/{{rule_id}}", response=responses(200, out),
                  operation_id=f"rules_{path}_update")
    def update_rule(request, rule_id: int, payload: patch_in):
        rule = get_object_or_404(model, pk=rule_id)
        return services.rule_update(rule=rule, actor=request.user, source=SOURCE,
                                    **payload.model_dump(exclude_unset=True))

    @router.delete(f"/rules/{path}/{{rule_id}}", response=responses(204, None),
                   operation_id=f"rules_{path}_delete")
    def delete_rule(request, rule_id: int):
        services.rule_delete(rule=get_object_or_404(model, pk=rule_id), actor=request.user, source=SOURCE)
        return Status(204, None)

    @router.get(f"/rules/{path}/{{rule_id}}/versions", response=list[VersionOut],
                operation_id=f"rules_{path}_versions")
    def versions(request, rule_id: int):
        _reader(request)
        return list(selectors.rule_versions(rule_type=rule_type, rule_id=rule_id))


_crud("tagging", RuleType.TAGGING, TaggingRule, TaggingRuleOut, TaggingRuleIn, TaggingRulePatch,
      selectors.tagging_rule_list)
_crud("scoring", RuleType.SCORING, ScoringRule, ScoringRuleOut, ScoringRuleIn, ScoringRulePatch,
      selectors.scoring_rule_list)


@router.get("/rules/grade-bands", response=responses(200, GradeBandsOut))
def grade_bands_get(request):
    _reader(request)
    return services.grade_bands_get()


@router.put("/rules/grade-bands", response=responses(200, GradeBandsOut))
def grade_bands_put(request, payload: GradeBandsIn):
    return services.grade_bands_update(actor=request.user, source=SOURCE, **payload.model_dump())


@router.post("/rules/preview", response=responses(200, PreviewOut))
def preview(request, payload: PreviewIn):
    _reader(request)
    return services.rule_preview("lead", user=request.user, **payload.model_dump())


@router.get("/rules/runs", response=list[RunOut])
def runs(request, limit: int = 50):
    _reader(request)
    return list(selectors.rule_run_list()[: max(1, min(limit, 500))])


@router.get("/rules/runs/{run_id}", response=responses(200, RunOut))
def run_get(request, run_id: int):
    _reader(request)
    return get_object_or_404(RuleRun, pk=run_id)
