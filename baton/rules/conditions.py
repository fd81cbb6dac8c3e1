"""The one place the rules and assignment apps reach the condition language (`baton.conditions`).

TEMPORARY ADAPTER: while `baton.conditions` has not landed its public functions, a minimal fallback
evaluator below keeps rules working (same JSON shape, a subset of operators). Once the real module
exports `validate`, `to_q` and `to_predicate`, these wrappers use it and the fallback is dead code.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db.models import Q

from baton.core import clock
from baton.core.errors import ValidationFailed


def _real():
    try:
        from baton.conditions import compiler as mod  # noqa: F401
    except ImportError:
        try:
            import baton.conditions as mod
        except ImportError:  # pragma: no cover
            return None
    if all(hasattr(mod, name) for name in ("validate", "to_q", "to_predicate")):
        return mod
    return None


def is_always(condition) -> bool:
    if not condition:
        return True
    return set(condition) == {"all"} and not condition["all"]


def validate(model, condition) -> list[tuple[str, str]]:
    if (mod := _real()) is not None:
        return list(mod.validate(model, condition))
    return _fallback_validate(condition)


def validate_or_raise(model, condition, *, field="condition") -> None:
    errors = validate(model, condition)
    if errors:
        raise ValidationFailed(errors=[(f"{field}{'.' + p if p else ''}" if field else p, m) for p, m in errors])


def to_q(model, condition) -> Q:
    if is_always(condition):
        return Q()
    if (mod := _real()) is not None:
        return mod.to_q(model, condition)
    return _fallback_q(condition)


def to_predicate(model, condition):
    if is_always(condition):
        return lambda obj: True
    if (mod := _real()) is not None:
        return mod.to_predicate(model, condition)
    return lambda obj: _fallback_eval(condition, obj)


# --- Fallback (temporary) ---------------------------------------------------------------------------

_OPS = {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "has_any", "is_null"}
_FIELDS = {"source", "status", "score", "grade", "budget", "industries", "tags", "region", "created_at",
           "age_hours", "phone", "email", "company"}


def _fallback_validate(cond, path="") -> list[tuple[str, str]]:
    if not isinstance(cond, dict):
        return [(path, "A condition must be an object.")]
    if not cond:
        return []
    for key in ("all", "any"):
        if key in cond:
            if not isinstance(cond[key], list):
                return [(f"{path}{key}", "Must be a list.")]
            errors = []
            for i, sub in enumerate(cond[key]):
                errors += _fallback_validate(sub, f"{path}{key}.{i}.")
            return errors
    if "not" in cond:
        return _fallback_validate(cond["not"], f"{path}not.")
    errors = []
    if cond.get("field") not in _FIELDS:
        errors.append((f"{path}field", f"Unknown field: {cond.get('field')!r}."))
    if cond.get("op") not in _OPS:
        errors.append((f"{path}op", f"Unknown operator: {cond.get('op')!r}."))
    return errors


_LOOKUP = {"eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "in": "in"}


def _fallback_q(cond) -> Q:
    if "all" in cond:
        q = Q()
        for sub in cond["all"]:
            q &= _fallback_q(sub)
        return q
    if "any" in cond:
        if not cond["any"]:
            return Q(pk__in=[])
        q = Q(pk__in=[])
        for sub in cond["any"]:
            q |= _fallback_q(sub)
        return q
    if "not" in cond:
        return ~_fallback_q(cond["not"])
    field, op, value = cond["field"], cond["op"], cond.get("value")
    if field == "industries":
        return Q(industries__code__in=value) if op == "has_any" else Q()
    if field == "tags":
        return Q(tags__name__in=value) if op == "has_any" else Q()
    if field == "region":
        field = "region__code"
    if field == "age_hours":
        from datetime import timedelta
        cutoff = clock.now() - timedelta(hours=float(value))
        return {"gt": Q(created_at__lt=cutoff), "gte": Q(created_at__lte=cutoff),
                "lt": Q(created_at__gt=cutoff), "lte": Q(created_at__gte=cutoff)}[op]
    if op == "ne":
        return ~Q(**{field: value})
    if op == "not_in":
        return ~Q(**{f"{field}__in": value})
    if op == "is_null":
        empty = Q(budget__isnull=True) if field == "budget" else Q(**{field: ""})
        return empty if value in (True, None) else ~empty
    return Q(**{f"{field}__{_LOOKUP[op]}": value})


def _num(v):
    try:
        return Decimal(str(v))
    except (InvalidOperation, TypeError):
        return v


def _fallback_eval(cond, obj) -> bool:
    if "all" in cond:
        return all(_fallback_eval(s, obj) for s in cond["all"])
    if "any" in cond:
        return any(_fallback_eval(s, obj) for s in cond["any"])
    if "not" in cond:
        return not _fallback_eval(cond["not"], obj)
    field, op, value = cond["field"], cond["op"], cond.get("value")
    if field == "industries":
        return bool({i.code for i in obj.industries.all()} & set(value or []))
    if field == "tags":
        return bool({t.name for t in obj.tags.all()} & set(value or []))
    if field == "region":
        actual = obj.region.code if obj.region_id else None
    elif field == "age_hours":
        actual = (clock.now() - obj.created_at).total_seconds() / 3600
    else:
        actual = getattr(obj, field)
    if op == "is_null":
        return (actual in (None, "")) == (value in (True, None))
    if op in ("in", "not_in"):
        return (actual in value) == (op == "in")
    if op in ("eq", "ne"):
        return (actual == value) == (op == "eq")
    if actual is None:
        return False
    if isinstance(actual, datetime):
        value = clock.parse_now(value) if isinstance(value, str) else value
    else:
        actual, value = _num(actual), _num(value)
    return {"gt": actual > value, "gte": actual >= value, "lt": actual < value, "lte": actual <= value}[op]
