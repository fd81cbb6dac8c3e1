"""Shared REST API machinery: error shape, auth, exception handlers, filters, pagination and CRUD routes.

Every app's `api.py` declares its schemas and calls `register_crud` once per resource; the handlers it
builds stay thin: parse the input, read through the app's selector or make ONE service call, answer a
schema. Errors always answer `{"detail": "...", "errors": [{"field": ..., "message": ...}]}`.
"""

import json
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

import django_filters
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import UniqueConstraint
from django.http import Http404, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import NinjaAPI, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer
from ninja.schema import DjangoGetter
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import ConfigDict, Field, create_model, field_validator
from pydantic.fields import FieldInfo

from baton.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from baton.core.models import ChangeSource

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
SOURCE = ChangeSource.API

# --- Schemas shared by every resource -------------------------------------------------------------


class ErrorItem(Schema):
    field: str | None = None
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem] = []


ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422)
ERROR_RESPONSES: dict[int, Any] = {status: ErrorOut for status in ERROR_STATUSES}


def responses(status: int, schema) -> dict:
    """`{status: schema}` plus the documented error answers (ninja documents none by default)."""
    return {status: schema, **ERROR_RESPONSES}


class InputSchema(Schema):
    """Base of every request body: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_null_characters(cls, value):
        # PostgreSQL cannot store NUL in text; refuse it here as a field error instead of a 500 at the database.
        if _has_null_character(value):
            raise ValueError(_("Null characters are not allowed."))
        return value


def _has_null_character(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_null_character(k) or _has_null_character(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_null_character(v) for v in value)
    return False


def partial(schema: type[InputSchema], name: str) -> type[InputSchema]:
    """The PATCH twin of a create schema: the same fields and constraints, every one optional."""
    fields = {}
    for field_name, info in schema.model_fields.items():
        fields[field_name] = (info.annotation | None, FieldInfo.merge_field_infos(info, default=None))
    return create_model(name, __base__=InputSchema, **fields)


def choices(values) -> Any:
    """A Literal of a TextChoices' values (an enum in the schema)."""
    return Literal[tuple(values)]


class BatonAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document lists the JSON error answers on every operation."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "ErrorOut" not in components:
            components.update(ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
                              .pop("$defs", {}))
            components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
        for item in schema.get("paths", {}).values():
            for method, operation in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                responses_ = operation.setdefault("responses", {})
                for status in ERROR_STATUSES:
                    responses_.setdefault(str(status), {"description": HTTP_REASONS[status], **error})
        return schema


HTTP_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
                413: "Payload Too Large", 422: "Unprocessable Entity"}


# --- Auth -----------------------------------------------------------------------------------------


def _activate_user_language(request, user):
    if getattr(user, "language", ""):
        translation.activate(user.language)
        request.LANGUAGE_CODE = translation.get_language()


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`: a live, unrevoked API token of an active user."""

    def authenticate(self, request, token):
        from baton.org.services import api_token_authenticate

        api_token = api_token_authenticate(raw=token)
        if api_token is None:
            return None
        request.user = api_token.user
        request.api_token = api_token
        _activate_user_language(request, api_token.user)
        return api_token.user


class SessionAuth(APIKeyCookie):
    """The UI's Django session; unsafe methods need the CSRF token (header X-CSRFToken)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        # Only a signed-in session is checked for CSRF: an anonymous call is a 401, not a 403.
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = request.user
        return user if user.is_authenticated and user.is_active else None


token_auth = TokenAuth()
session_auth = SessionAuth()
DEFAULT_AUTH = [token_auth, session_auth]


# --- Errors ---------------------------------------------------------------------------------------


def error_response(api, request, status: int, detail, errors=()):
    body = {"detail": str(detail), "errors": [{"field": f, "message": str(m)} for f, m in errors]}
    return api.create_response(request, body, status=status)


# Pydantic error types -> messages Django already translates (so zh-hans answers in Chinese).
_CHOICE_MSG = "Select a valid choice. That choice is not one of the available choices."
_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": gettext_noop("Unknown field."),  # not in Django's catalogue: ours
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "int_from_float": "Enter a whole number.",
    "float_parsing": "Enter a number.",
    "float_type": "Enter a number.",
    "decimal_parsing": "Enter a number.",
    "decimal_type": "Enter a number.",
    "finite_number": "Enter a number.",
    "datetime_parsing": "Enter a valid date/time.",
    "datetime_type": "Enter a valid date/time.",
    "datetime_from_date_parsing": "Enter a valid date/time.",
    "date_parsing": "Enter a valid date.",
    "date_type": "Enter a valid date.",
    "date_from_datetime_parsing": "Enter a valid date.",
    "date_from_datetime_inexact": "Enter a valid date.",
    "list_type": "Enter a list of values.",
    "json_invalid": "Enter a valid JSON.",
    "dict_type": "Enter a valid JSON.",
    "model_type": "Enter a valid JSON.",
    "model_attributes_type": "Enter a valid JSON.",
    "literal_error": _CHOICE_MSG,
    "enum": _CHOICE_MSG,
    "greater_than_equal": "Ensure this value is greater than or equal to %(limit_value)s.",
    "less_than_equal": "Ensure this value is less than or equal to %(limit_value)s.",
}
_WRAPPERS = {"payload", "filters"}


def pydantic_error_message(error: dict) -> str:
    ctx = error.get("ctx") or {}
    template = _MESSAGES.get(error.get("type", ""))
    if template is None:
        return _("Enter a valid value.")
    limit = ctx.get("ge", ctx.get("le"))
    return _(template) % {"limit_value": limit} if "%(limit_value)s" in template else _(template)


def pydantic_error_field(loc) -> str | None:
    rest = list(loc[1:])  # drop the source (body, query, path)
    if rest and rest[0] in _WRAPPERS:
        rest = rest[1:]
    return ".".join(str(p) for p in rest) or None


def _validation_error(api):
    def handler(request, exc: NinjaValidationError):
        errors = [(pydantic_error_field(e.get("loc", ())), pydantic_error_message(e)) for e in exc.errors]
        return error_response(api, request, 422, ValidationFailed.default_message, errors)

    return handler


def _domain_error(api):
    def handler(request, exc: DomainError):
        return error_response(api, request, exc.status_code, exc.message, exc.errors)

    return handler


def _http_error(api):
    def handler(request, exc: HttpError):
        if isinstance(exc.__cause__, RequestDataTooBig):
            return _too_big(api)(request, exc.__cause__)
        if exc.status_code == 401:
            return error_response(api, request, 401, _("Sign in or send a valid API token."))
        if exc.status_code == 400:
            return error_response(api, request, 400, _("The request body is not valid JSON."))
        return error_response(api, request, exc.status_code, str(exc))

    return handler


def _too_big(api):
    def handler(request, exc):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(api, request, 413, _("The request body is larger than %(limit)s bytes.")
                              % {"limit": limit})

    return handler


def _suspicious(api):
    def handler(request, exc):
        return error_response(api, request, 400, _("The request was refused."))

    return handler


def _not_found(api):
    def handler(request, exc):
        return error_response(api, request, 404, NotFound.default_message)

    return handler


def _integrity(api):
    def handler(request, exc):
        return error_response(api, request, 409, Conflict.default_message)

    return handler


def install_exception_handlers(api) -> None:
    api.add_exception_handler(DomainError, _domain_error(api))
    api.add_exception_handler(NinjaValidationError, _validation_error(api))
    api.add_exception_handler(HttpError, _http_error(api))
    api.add_exception_handler(Http404, _not_found(api))
    api.add_exception_handler(RequestDataTooBig, _too_big(api))
    api.add_exception_handler(SuspiciousOperation, _suspicious(api))
    api.add_exception_handler(IntegrityError, _integrity(api))


def unique_conflict(exc: ValidationFailed, model) -> Conflict | None:
    """A Conflict (409) when `exc` was raised by a unique field or unique constraint of `model`."""
    cause = exc.__cause__
    if not isinstance(cause, DjangoValidationError) or not hasattr(cause, "error_dict"):
        return None
    constraints = {
        str(c.get_violation_error_message()): c for c in model._meta.constraints if isinstance(c, UniqueConstraint)
    }
    errors, found = [], False
    for field, items in cause.error_dict.items():
        for item in items:
            message = " ".join(item.messages)
            name = None if field == "__all__" else field
            if item.code in ("unique", "unique_together"):
                found = True
            elif message in constraints:
                found = True
                name = name or (constraints[message].fields or (None,))[-1]
            errors.append((name, message))
    return Conflict(errors=errors) if found else None


# --- Input helpers --------------------------------------------------------------------------------


class Refs:
    """Turns ids / codes / names in input into rows, collecting every unknown one into one 422."""

    def __init__(self, data: dict):
        self.data = dict(data)
        self.errors: list[tuple[str, str]] = []
        for key, value in self.data.items():
            if isinstance(value, datetime) and timezone.is_naive(value):
                self.data[key] = timezone.make_aware(value, timezone.get_default_timezone())

    def one(self, field: str, qs, lookup: str = "pk"):
        """`qs`: a queryset or manager, or a callable returning one, for a queryset that costs something to
        build (a scoped selector): it is called only when `field` was sent."""
        value = self.data.get(field)
        if value is None:
            return
        if callable(qs):
            qs = qs()
        try:
            self.data[field] = qs.get(**{lookup: value})
        except (qs.model.DoesNotExist, qs.model.MultipleObjectsReturned, ValueError, TypeError):
            self.errors.append((field, _(_CHOICE_MSG)))

    def many(self, field: str, qs, lookup: str):
        if field not in self.data:
            return
        values = list(dict.fromkeys(self.data[field] or []))
        found = list(qs.filter(**{f"{lookup}__in": values}))
        missing = [v for v in values if v not in {getattr(o, lookup) for o in found}]
        if missing:
            self.errors.append((field, _("Select a valid choice. %(value)s is not one of the available choices.")
                                % {"value": ", ".join(map(str, missing))}))
        self.data[field] = found

    def add_error(self, field, message):
        self.errors.append((field, message))

    def done(self) -> dict:
        if self.errors:
            raise ValidationFailed(errors=self.errors)
        return self.data


# --- Filters --------------------------------------------------------------------------------------


def _filter_annotation(f) -> Any:
    if isinstance(f, django_filters.OrderingFilter):
        return str
    if isinstance(f, django_filters.MultipleChoiceFilter):
        values = [str(v) for v, _label in f.extra.get("choices", [])]
        return list[Literal[tuple(values)]] if values else list[str]
    if isinstance(f, django_filters.BooleanFilter):
        return bool
    if isinstance(f, django_filters.IsoDateTimeFilter | django_filters.DateTimeFilter):
        return datetime
    if isinstance(f, django_filters.DateFilter):
        return date
    if isinstance(f, django_filters.NumberFilter):
        return int if f.field_name.endswith("_id") else Decimal
    return str


def filter_schema(filterset_class, name: str) -> type[Schema]:
    """A query schema mirroring a FilterSet, so the OpenAPI document lists its parameters."""
    fields = {}
    with translation.override("en"):
        for field_name, f in filterset_class.base_filters.items():
            description = str(f.label or field_name)
            if isinstance(f, django_filters.OrderingFilter):
                allowed = [str(v) for v, _label in f.extra.get("choices", [])]
                description = "Sort by, comma-separated; '-' for descending: " + ", ".join(allowed)
            fields[field_name] = (_filter_annotation(f) | None, Field(None, description=description))
    return create_model(name, __base__=Schema, **fields)


def apply_filters(filterset_class, request, qs):
    """The same FilterSet as the UI, fed the raw query string; invalid values answer 422."""
    fs = filterset_class(request.GET, queryset=qs, request=request)
    if not fs.is_valid():
        raise ValidationFailed(errors=[(field, str(m)) for field, msgs in fs.errors.items() for m in msgs])
    qs = fs.qs
    # A unique tie-breaker keeps pages stable.
    return qs.order_by(*(qs.query.order_by or qs.model._meta.ordering), "pk")


def page(qs, limit: int, offset: int) -> dict:
    return {"count": qs.count(), "items": list(qs[offset:offset + limit])}


def page_schema(out: type[Schema], name: str) -> type[Schema]:
    return create_model(name, __base__=Schema, count=(int, ...), items=(list[out], ...))


# --- Rendering a schema without pydantic ----------------------------------------------------------
# ninja validates a handler's result into the response schema (from attributes, through its DjangoGetter)
# and dumps it again before encoding: for one object that is a measurable part of a hot endpoint. For a
# schema of plain fields the JSON can be built directly: each field's value is what ninja's getter gives
# (a `resolve_<name>` static method first, else the attribute, else the field's default), passed only when
# pydantic would keep it as it is; a value pydantic would convert (an int for a str, a str for a datetime)
# makes `schema_json` answer None and the caller lets ninja render. `leads/tests/test_render.py` holds the
# two byte for byte equal.

_RENDER_CONFIG = {"from_attributes"}  # any other model_config (alias generators, str stripping) changes values


def _kept(annotation) -> Callable[[Any], bool]:
    """A test that pydantic would pass a value of `annotation` through unchanged (lax mode, python dump)."""
    if annotation is Any:
        return lambda v: True
    if annotation is str:  # a str subclass (a choices member) encodes as its text either way
        return lambda v: isinstance(v, str)
    if annotation is Decimal:  # pydantic refuses NaN and infinities
        return lambda v: type(v) is Decimal and v.is_finite()
    if annotation in (int, bool, float, date, datetime, dict, list):
        # exact types: a bool is an int, an int would become a float, a tuple a list, a datetime a date
        return lambda v: type(v) is annotation
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        tests = [_kept(a) for a in args if a is not type(None)]
        nullable = type(None) in args
        return lambda v: (nullable and v is None) or any(t(v) for t in tests)
    if origin is list and len(args) == 1:
        item = _kept(args[0])
        return lambda v: type(v) is list and all(item(x) for x in v)
    if origin is dict and len(args) == 2:
        key, value = _kept(args[0]), _kept(args[1])
        return lambda v: type(v) is dict and all(key(k) and value(x) for k, x in v.items())
    raise TypeError(f"schema_json cannot render a field of type {annotation!r}")


@cache
def _render_plan(schema: type[Schema]) -> tuple:
    """(name, test, required, default) per field of `schema` in declaration order; TypeError for a schema
    whose values pydantic would change beyond what `_kept` tests."""
    d = schema.__pydantic_decorators__
    own = (d.validators, d.root_validators, d.field_validators, d.field_serializers, d.model_serializers,
           set(d.model_validators) - {"_run_root_validator"}, schema.model_computed_fields,
           set(schema.model_config) - _RENDER_CONFIG)
    if any(own):
        raise TypeError(f"schema_json cannot render {schema.__name__}: it has its own validation or serialisation")
    plan = []
    for name, info in schema.model_fields.items():
        if info.alias or info.validation_alias or info.serialization_alias or info.metadata:
            raise TypeError(f"schema_json cannot render {schema.__name__}.{name}: alias or constraints")
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        plan.append((name, _kept(info.annotation), info.is_required(), default))
    return tuple(plan)


_GET = DjangoGetter.__getattr__
JSON_CONTENT_TYPE = f"{JSONRenderer.media_type}; charset={JSONRenderer.charset}"


def schema_json(schema: type[Schema], obj, context=None) -> bytes | None:
    """The JSON ninja answers for `obj` under `schema` (same bytes), or None when pydantic would change a
    value on the way (the caller then lets ninja render it). `context` is what ninja gives resolvers."""
    getter = DjangoGetter(obj, schema, context)
    data = {}
    for name, kept, required, default in _render_plan(schema):
        try:
            # ninja's own lookup, called directly: a getter has no attribute of a field's name to find first
            value = _GET(getter, name)
        except AttributeError:
            if required:
                return None
            value = default
        if not kept(value):
            return None
        data[name] = value
    return json.dumps(data, cls=JSONRenderer.encoder_class, **JSONRenderer.json_dumps_params).encode()


# --- CRUD registration ----------------------------------------------------------------------------


@dataclass
class Resource:
    """One REST resource: `/<path>` (list, create) and `/<path>/{id}` (get, update, delete)."""

    path: str  # "leads"
    model: type
    out: type[Schema]
    create_in: type[InputSchema]
    filterset: type
    list_selector: Callable  # (user=) -> QuerySet, already scoped
    get_selector: Callable  # (user=, pk=) -> obj or NotFound
    create_service: Callable  # (actor=, source=, **data) -> obj
    update_service: Callable  # (<instance_kw>=obj, actor=, source=, **data) -> changes
    delete_service: Callable  # (<instance_kw>=obj, actor=, source=)
    instance_kw: str  # "lead"
    # (data, request, instance or None) -> data with related rows resolved; raise ValidationFailed on errors
    resolve: Callable | None = None
    update_in: type[InputSchema] | None = None
    # A create that may answer with a row that already existed (de-duplicated captures): the service marks
    # the row `_existing = True` and the answer is 200 with it instead of 201, or, when the caller may not
    # see that row, 202 with `{"detail", "existing_id"}`.
    create_may_find_existing: bool = False
    # Answer a newly created row (201) with `schema_json(out, obj)` instead of ninja's validation through
    # pydantic: for a hot create whose `out` holds plain fields only (checked at registration).
    render_created: bool = False


class ExistingOut(Schema):
    detail: str
    existing_id: int


def _write(resource: Resource, service, **kwargs):
    try:
        return service(**kwargs)
    except ValidationFailed as exc:
        conflict = unique_conflict(exc, resource.model)
        if conflict is not None:
            raise conflict from exc
        raise


def register_crud(router: Router, r: Resource) -> None:
    """List / get / create / update (PATCH) / delete routes for one resource on `router`."""
    from baton.capture.idempotency import idempotent

    name = r.path
    label = r.model.__name__
    Filters = filter_schema(r.filterset, f"{label}Filters")
    Page = page_schema(r.out, f"{label}Page")
    CreateIn = r.create_in
    UpdateIn = r.update_in or partial(r.create_in, f"{label}Patch")
    resolve = r.resolve or (lambda data, request, instance: data)
    tags = [name]
    if r.render_created:
        _render_plan(r.out)  # refuses a schema it cannot render, at import rather than on a request

    @router.get(f"/{name}", response=responses(200, Page), tags=tags, operation_id=f"{name}_list",
                summary=f"List {name}")
    def list_items(request, filters: Query[Filters],
                   limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
                   offset: int = Query(0, ge=0)):
        qs = apply_filters(r.filterset, request, r.list_selector(user=request.auth))
        return page(qs, limit, offset)

    @router.get(f"/{name}/{{id}}", response=responses(200, r.out), tags=tags, operation_id=f"{name}_get",
                summary=f"Get one of {name}")
    def get_item(request, id: int):
        return r.get_selector(user=request.auth, pk=id)

    create_responses = responses(201, r.out)
    if r.create_may_find_existing:
        create_responses.update({200: r.out, 202: ExistingOut})

    @router.post(f"/{name}", response=create_responses, tags=tags, operation_id=f"{name}_create",
                 summary=f"Create one of {name}")
    @idempotent  # an Idempotency-Key header makes a retry replay the first answer (baton.capture.idempotency)
    def create_item(request, payload: CreateIn):
        data = resolve(payload.model_dump(exclude_unset=True), request, None)
        obj = _write(r, r.create_service, actor=request.auth, source=SOURCE, **data)
        if not getattr(obj, "_existing", False):
            if r.render_created:
                body = schema_json(r.out, obj, {"request": request, "response_status": 201})
                if body is not None:
                    return HttpResponse(body, status=201, content_type=JSON_CONTENT_TYPE)
            return Status(201, obj)
        try:
            return Status(200, r.get_selector(user=request.auth, pk=obj.pk))
        except (NotFound, Http404):
            return Status(202, {"existing_id": obj.pk, "detail": _(
                "This repeats an existing record you cannot see; it was recorded there.")})

    @router.patch(f"/{name}/{{id}}", response=responses(200, r.out), tags=tags, operation_id=f"{name}_update",
                  summary=f"Change one of {name} (only the fields sent)")
    def update_item(request, id: int, payload: UpdateIn):
        obj = r.get_selector(user=request.auth, pk=id)
        data = resolve(payload.model_dump(exclude_unset=True), request, obj)
        _write(r, r.update_service, **{r.instance_kw: obj}, actor=request.auth, source=SOURCE, **data)
        return r.get_selector(user=request.auth, pk=id)

    @router.delete(f"/{name}/{{id}}", response=responses(204, None), tags=tags,
                   operation_id=f"{name}_delete", summary=f"Delete one of {name}")
    def delete_item(request, id: int):
        obj = r.get_selector(user=request.auth, pk=id)
        _write(r, r.delete_service, **{r.instance_kw: obj}, actor=request.auth, source=SOURCE)
        return Status(204, None)
