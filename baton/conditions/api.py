"""/api/custom-fields (define custom fields) and /api/conditions/… (the field registry, validation)."""

from datetime import datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from baton.conditions import compiler, registry, selectors, services
from baton.conditions.models import CustomField
from baton.core.api import SOURCE, InputSchema, choices, responses

router = Router(tags=["conditions"])
ModelName = Literal["lead", "account", "opportunity"]


class ChoiceIn(Schema):
    value: str = Field(..., min_length=1, max_length=100)
    label_zh: str = Field("", max_length=100)
    label_en: str = Field("", max_length=100)


class CustomFieldOut(Schema):
    id: int
    target: str
    key: str
    label_zh: str
    label_en: str
    type: str
    choices: list[dict[str, Any]]
    required: bool
    position: int
    active: bool
    updated_at: datetime


class CustomFieldIn(InputSchema):
    target: choices(CustomField.Target.values)
    key: str = Field(..., min_length=1, max_length=40)
    label_zh: str = Field(..., min_length=1, max_length=80)
    label_en: str = Field(..., min_length=1, max_length=80)
    type: choices(CustomField.Type.values)
    choices: list[ChoiceIn] = []
    required: bool = False
    position: int = Field(0, ge=0, le=32767)
    active: bool = True


class CustomFieldPatch(InputSchema):
    label_zh: str | None = Field(None, min_length=1, max_length=80)
    label_en: str | None = Field(None, min_length=1, max_length=80)
    choices: list[ChoiceIn] | None = None
    required: bool | None = None
    position: int | None = Field(None, ge=0, le=32767)
    active: bool | None = None


class ChangeTypeIn(InputSchema):
    type: choices(CustomField.Type.values)
    choices: list[ChoiceIn] | None = None


class ChangeTypeOut(Schema):
    converted: int
    field: CustomFieldOut


class ValidateIn(InputSchema):
    model: ModelName = "lead"
    condition: dict[str, Any] = Field(default_factory=dict)


class PathError(Schema):
    path: str
    message: str


class ValidateOut(Schema):
    valid: bool
    errors: list[PathError]


class FieldOut(Schema):
    name: str
    type: str
    label: str
    label_zh: str
    label_en: str
    operators: list[str]
    choices: list[dict[str, Any]] | None
    custom: bool


@router.get("/custom-fields", response=list[CustomFieldOut], summary="List custom fields")
def custom_field_list(request, target: ModelName | None = None, active: bool | None = None):
    qs = selectors.custom_field_list(target)
    return list(qs if active is None else qs.filter(active=active))


@router.post("/custom-fields", response=responses(201, CustomFieldOut), summary="Create a custom field (ops)")
def custom_field_create(request, payload: CustomFieldIn):
    data = payload.dict()
    field = services.custom_field_create(actor=request.auth, source=SOURCE, **data)
    return Status(201, field)


@router.get("/custom-fields/{field_id}", response=responses(200, CustomFieldOut), summary="One custom field")
def custom_field_detail(request, field_id: int):
    return get_object_or_404(CustomField, pk=field_id)


@router.patch("/custom-fields/{field_id}", response=responses(200, CustomFieldOut),
              summary="Change labels, choices, required, position or active (ops)")
def custom_field_update(request, field_id: int, payload: CustomFieldPatch):
    field = get_object_or_404(CustomField, pk=field_id)
    services.custom_field_update(field=field, actor=request.auth, source=SOURCE,
                                 **payload.dict(exclude_unset=True))
    return field


@router.delete("/custom-fields/{field_id}", response=responses(204, None),
               summary="Delete a custom field and its values (ops)")
def custom_field_delete(request, field_id: int):
    field = get_object_or_404(CustomField, pk=field_id)
    services.custom_field_delete(field=field, actor=request.auth, source=SOURCE)
    return Status(204, None)


@router.post("/custom-fields/{field_id}/change-type", response=responses(200, ChangeTypeOut),
             summary="Change the type, converting every stored value (all or nothing; ops)")
def custom_field_change_type(request, field_id: int, payload: ChangeTypeIn):
    field = get_object_or_404(CustomField, pk=field_id)
    new_choices = None if payload.choices is None else [c.dict() for c in payload.choices]
    n = services.custom_field_change_type(field, payload.type, request.auth, source=SOURCE, choices=new_choices)
    field.refresh_from_db()
    return {"converted": n, "field": field}


@router.post("/conditions/validate", response=responses(200, ValidateOut),
             summary="Check a condition; errors name the place in the tree (e.g. all[1].value)")
def condition_validate(request, payload: ValidateIn):
    errors = compiler.validate(payload.model, payload.condition)
    return {"valid": not errors, "errors": [{"path": p, "message": str(m)} for p, m in errors]}


@router.get("/conditions/fields", response=responses(200, list[FieldOut]),
            summary="The fields a condition may use on a model, with types, labels and operators")
def condition_fields(request, model: ModelName = "lead"):
    return registry.describe(model)
