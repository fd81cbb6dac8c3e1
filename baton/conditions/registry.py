"""The fields a condition may test, per model: built-in columns, related and computed fields, custom fields.

Each field has a type; the type decides the operators (`TYPE_OPS`) and how values are checked and compared.
Register more with `register_field(model, name, type, label_zh, label_en, path=..., getter=...)`:
`path` is the Django lookup path used for the `Q`, `getter(obj)` reads the value for the Python predicate
(default: walk `path` attribute by attribute).

Types: text, choice (string from a list), number (whole number), decimal, date, datetime, bool,
multi (a set of strings: many-to-many or a JSON list), ref (a row id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.utils.translation import get_language

EQUALITY = ["eq", "ne", "in", "not_in"]
ORDER = ["gt", "gte", "lt", "lte", "between"]
TYPE_OPS: dict[str, list[str]] = {
    "text": [*EQUALITY, "contains", "icontains", "startswith", "is_null"],
    "choice": [*EQUALITY, "is_null"],
    "number": [*EQUALITY, *ORDER, "is_null"],
    "decimal": [*EQUALITY, *ORDER, "is_null"],
    "date": ["eq", "ne", *ORDER, "is_null"],
    "datetime": [*ORDER, "within_last", "older_than", "is_null"],
    "bool": ["eq", "ne", "is_null"],
    "multi": ["has_any", "has_all", "is_null"],
    "ref": [*EQUALITY, "is_null"],
}
EVENT_OPS = ["eq", "ne", *ORDER]

# Custom field type -> condition type.
CUSTOM_TYPES = {"text": "text", "number": "number", "decimal": "decimal", "date": "date", "datetime": "datetime",
                "bool": "bool", "choice": "choice", "multi_choice": "multi"}
MODEL_TARGETS = {"leads.lead": "lead", "accounts.account": "account", "opportunities.opportunity": "opportunity"}


@dataclass
class FieldDef:
    name: str
    type: str
    label_zh: str
    label_en: str
    # "column" (Django path), "m2m" (path + attr), "json" (custom_fields key), "age" (hours since created_at)
    kind: str = "column"
    path: str = ""
    getter: Callable | None = None
    nullable: bool = True
    attr: str = ""  # m2m: the related attribute compared (code, name)
    key: str = ""  # json: the custom field key
    choices: list | Callable | None = None  # list of values or of {"value", "label_zh", "label_en"}, or callable
    decimal_places: int | None = None
    max_digits: int | None = None
    ops: list[str] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def operators(self) -> list[str]:
        return list(self.ops or TYPE_OPS[self.type])

    @property
    def label(self) -> str:
        return self.label_zh if (get_language() or "zh-hans").startswith("zh") else self.label_en

    def choice_list(self) -> list[dict] | None:
        if self.choices is None:
            return None
        raw = self.choices() if callable(self.choices) else self.choices
        out = []
        for c in raw:
            if isinstance(c, dict):
                out.append({"value": c["value"], "label_zh": c.get("label_zh") or c["value"],
                            "label_en": c.get("label_en") or c["value"]})
            else:
                out.append({"value": c, "label_zh": c, "label_en": c})
        return out

    def choice_values(self) -> set[str] | None:
        lst = self.choice_list()
        return None if lst is None else {c["value"] for c in lst}

    # --- Reading one record (the predicate side) ------------------------------------------------------
    def read(self, obj):
        """The normalised value of this field on `obj`; None means empty (NULL, '', missing, wrong JSON type)."""
        if self.kind == "json":
            return read_json(self.type, (getattr(obj, "custom_fields", None) or {}).get(self.key))
        if self.kind == "m2m":
            related = _walk(obj, self.path.split("__")[:-1])
            if related is None:
                return frozenset()
            manager = getattr(related, self.path.split("__")[-1])
            return frozenset(getattr(o, self.attr) for o in manager.all())
        raw = self.getter(obj) if self.getter else _walk(obj, self.path.split("__"))
        return normalise(self.type, raw)


def _walk(obj, parts):
    for part in parts:
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def normalise(type_: str, raw):
    if raw is None:
        return None
    if type_ in ("text", "choice"):
        return str(raw) if raw != "" else None
    if type_ == "number":
        return int(raw)
    if type_ == "decimal":
        return Decimal(str(raw))
    if type_ == "ref":
        return int(getattr(raw, "pk", raw))
    if type_ == "multi":
        return frozenset(raw)
    return raw


def read_json(type_: str, raw):
    """A custom field value as stored in JSON, under the same type guards the SQL readers apply."""
    if type_ in ("text", "choice", "date", "datetime"):
        return raw if isinstance(raw, str) and raw != "" else None
    if type_ in ("number", "decimal"):
        return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if type_ == "bool":
        return raw if isinstance(raw, bool) else None
    if type_ == "multi":
        return raw if isinstance(raw, list) else None
    return None


# --- The registry -------------------------------------------------------------------------------------
_REGISTRY: dict[str, dict[str, FieldDef]] = {}
_BUILTINS_LOADED = False


def resolve_model(model):
    """A model class from a class, an app label ("leads.lead") or a custom field target ("lead")."""
    if isinstance(model, str):
        low = model.lower()
        for label, target in MODEL_TARGETS.items():
            if low in (label, target):
                return apps.get_model(label)
        raise LookupError(model)
    return model


def model_target(model) -> str | None:
    return MODEL_TARGETS.get(resolve_model(model)._meta.label_lower)


def register_field(model, name: str, type: str, label_zh: str, label_en: str, *, path: str | None = None,
                   getter: Callable | None = None, **options) -> FieldDef:
    if type not in TYPE_OPS:
        raise ValueError(f"unknown condition type {type!r}")
    model = resolve_model(model)
    fd = FieldDef(name=name, type=type, label_zh=label_zh, label_en=label_en, path=path or name, getter=getter,
                  **options)
    _REGISTRY.setdefault(model._meta.label_lower, {})[name] = fd
    return fd


def _custom_fields(model) -> list[FieldDef]:
    from baton.conditions.models import CustomField

    target = model_target(model)
    if target is None:
        return []
    out = []
    for cf in CustomField.objects.filter(target=target, active=True).order_by("position", "id"):
        type_ = CUSTOM_TYPES[cf.type]
        out.append(FieldDef(
            name=f"custom.{cf.key}", type=type_, label_zh=cf.label_zh, label_en=cf.label_en, kind="json",
            path="custom_fields", key=cf.key,
            choices=list(cf.choices) if type_ in ("choice", "multi") else None,
        ))
    return out


def fields_for(model) -> dict[str, FieldDef]:
    """Every field a condition on `model` may use, by name (built-in first, then active custom fields)."""
    _load_builtins()
    model = resolve_model(model)
    fields = dict(_REGISTRY.get(model._meta.label_lower, {}))
    for fd in _custom_fields(model):
        fields[fd.name] = fd
    return fields


def describe(model) -> list[dict]:
    """The registry as plain data for the API and the rule builder UI."""
    out = []
    for fd in fields_for(model).values():
        out.append({"name": fd.name, "type": fd.type, "label": str(fd.label), "label_zh": fd.label_zh,
                    "label_en": fd.label_en, "operators": fd.operators, "choices": fd.choice_list(),
                    "custom": fd.kind == "json"})
    return out


# --- Built-in fields ------------------------------------------------------------------------------------
def _choices_of(choices_cls):
    return lambda: [{"value": v, "label_zh": str(lbl), "label_en": str(lbl)} for v, lbl in choices_cls.choices]


def _values(model_label, attr):
    def load():
        return list(apps.get_model(model_label).objects.order_by(attr).values_list(attr, flat=True))
    return load


def _load_builtins():
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from baton.leads.models import Grade, LeadSource, LeadStatus
    from baton.opportunities.models import Opportunity

    industries = _values("accounts.industry", "code")
    regions = _values("org.region", "code")
    L = "leads.lead"
    text = [("external_id", "外部编号", "External id"), ("company", "公司", "Company"),
            ("contact_name", "联系人", "Contact name"), ("phone", "电话", "Phone"), ("email", "邮箱", "E-mail"),
            ("utm_source", "utm_source", "utm_source"), ("utm_medium", "utm_medium", "utm_medium"),
            ("utm_campaign", "utm_campaign", "utm_campaign")]
    register_field(L, "source", "choice", "来源", "Source", nullable=False, choices=_choices_of(LeadSource))
    register_field(L, "status", "choice", "状态", "Status", nullable=False, choices=_choices_of(LeadStatus))
    register_field(L, "grade", "choice", "等级", "Grade", nullable=False, choices=_choices_of(Grade))
    for name, zh, en in text:
        register_field(L, name, "text", zh, en, nullable=False)
    register_field(L, "owner", "ref", "负责人", "Owner", path="owner_id", extra={"ref": "org.user"})
    register_field(L, "owner.team", "ref", "负责人团队", "Owner's team", path="owner__team_id",
                   extra={"ref": "org.team"})
    register_field(L, "region", "choice", "区域", "Region", path="region__code", choices=regions)
    register_field(L, "score", "number", "评分", "Score", nullable=False)
    register_field(L, "budget", "decimal", "预算", "Budget", decimal_places=2, max_digits=14)
    register_field(L, "industries", "multi", "行业", "Industries", kind="m2m", attr="code", choices=industries)
    register_field(L, "tags", "multi", "标签", "Tags", kind="m2m", attr="name",
                   choices=_values("leads.tag", "name"))
    register_field(L, "account.industries", "multi", "客户行业", "Account industries", kind="m2m",
                   path="account__industries", attr="code", choices=industries)
    register_field(L, "created_at", "datetime", "创建时间", "Created at", nullable=False)
    register_field(L, "assigned_at", "datetime", "分配时间", "Assigned at")
    register_field(L, "first_contact_at", "datetime", "首次联系时间", "First contact at")
    register_field(L, "last_activity_at", "datetime", "最近活动时间", "Last activity at")
    register_field(L, "age_hours", "decimal", "线索时长（小时）", "Age (hours)", kind="age", path="created_at",
                   nullable=False, ops=list(ORDER))

    A = "accounts.account"
    register_field(A, "name", "text", "公司名称", "Company name", nullable=False)
    register_field(A, "industries", "multi", "行业", "Industries", kind="m2m", attr="code", choices=industries)
    register_field(A, "region", "choice", "区域", "Region", path="region__code", choices=regions)
    register_field(A, "owner", "ref", "负责人", "Owner", path="owner_id", extra={"ref": "org.user"})
    register_field(A, "owner.team", "ref", "负责人团队", "Owner's team", path="owner__team_id",
                   extra={"ref": "org.team"})
    register_field(A, "owner.region", "choice", "负责人区域", "Owner's region", path="owner__region__code",
                   choices=regions)
    register_field(A, "created_at", "datetime", "创建时间", "Created at", nullable=False)

    OP = "opportunities.opportunity"
    register_field(OP, "name", "text", "名称", "Name", nullable=False)
    register_field(OP, "amount", "decimal", "金额", "Amount", nullable=False, decimal_places=2, max_digits=16)
    register_field(OP, "status", "choice", "状态", "Status", nullable=False, choices=_choices_of(Opportunity.Status))
    register_field(OP, "pipeline", "choice", "销售流程", "Pipeline", path="pipeline__name", nullable=False,
                   choices=_values("opportunities.pipeline", "name"))
    register_field(OP, "stage", "text", "阶段", "Stage", path="stage__name", nullable=False)
    register_field(OP, "probability", "number", "赢率（%）", "Probability (%)", nullable=False)
    register_field(OP, "expected_close_date", "date", "预计成交日期", "Expected close date")
    register_field(OP, "currency", "text", "币种", "Currency", nullable=False)
    register_field(OP, "account.industries", "multi", "客户行业", "Account industries", kind="m2m",
                   path="account__industries", attr="code", choices=industries)
    register_field(OP, "account.region", "choice", "客户区域", "Account region", path="account__region__code",
                   choices=regions)
    register_field(OP, "owner", "ref", "负责人", "Owner", path="owner_id", extra={"ref": "org.user"})
    register_field(OP, "owner.team", "ref", "负责人团队", "Owner's team", path="owner__team_id",
                   extra={"ref": "org.team"})
    register_field(OP, "owner.region", "choice", "负责人区域", "Owner's region", path="owner__region__code",
                   choices=regions)
    register_field(OP, "created_at", "datetime", "创建时间", "Created at", nullable=False)
    register_field(OP, "stage_entered_at", "datetime", "进入阶段时间", "Stage entered at", nullable=False)
    register_field(OP, "closed_at", "datetime", "关闭时间", "Closed at")
