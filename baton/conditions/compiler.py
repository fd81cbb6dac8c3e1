"""Validate a condition tree and compile it to a Django `Q` (sets of rows) or a Python predicate (one row).

A condition is JSON data::

    {"all": [...]} | {"any": [...]} | {"not": {...}}
    {"field": "score", "op": "gte", "value": 60}
    {"event": {"type": "page_view", "where": {"page": "/pricing"}}, "within": "P14D", "op": "gte", "value": 3}

Semantics (identical in SQL and in Python, on SQLite and PostgreSQL; the property test holds us to it):

* A value is *empty* when it is NULL, "" (text), a missing custom-field key, a custom value of the wrong JSON
  type, or an empty set (multi-select). An empty value never satisfies eq, in, gt/gte/lt/lte, between,
  contains, icontains, startswith, within_last, older_than, has_any or has_all; it satisfies is_null true.
* `ne` is exactly `not eq` and `not_in` is exactly `not in`: an empty value IS "not equal" to anything.
  `not {...}` is exact boolean negation. An empty `all` is true, an empty `any` is false.
* `contains` and `startswith` are case-sensitive. `icontains` folds ASCII letters A-Z only (SQLite's LOWER
  rule; Chinese has no case and other scripts are compared as written), so both databases agree.
* `within_last: "P14D"` means now − 14 days ≤ value ≤ now; `older_than` means value < now − duration.
  `age_hours` is (now − created_at) in hours. "now" is `baton.core.clock.now()`.
* Durations are ISO 8601 without months/years: PnW, PnD, PTnH, PTnM, PTnS and combinations (P1DT12H).
* Behaviour leaves count the lead's `LeadEvent`s of `type` with occurred_at within the window whose payload
  has every `where` key equal (same JSON type) to the given value, and compare the count with op/value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, StrIndex
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from baton.conditions.registry import EVENT_OPS, FieldDef, fields_for, resolve_model
from baton.conditions.sql import AsciiLower, JsonKey, JsonList, ascii_lower
from baton.core import clock
from baton.core.errors import ValidationFailed

MAX_DEPTH = 12
MAX_NODES = 300
MAX_LIST = 500
MAX_TEXT = 500
MAX_NUMBER = 10**15
ALIASES = {"is_empty": ("is_null", True), "is_set": ("is_null", False)}
_DURATION_RE = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_EVENT_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_LOOKUPS = {"exact": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual,
            "in": In}
_ORDER_LOOKUPS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}


class _Bad(Exception):
    def __init__(self, where: str, message: str):
        self.where, self.message = where, message


def parse_duration(value) -> timedelta | None:
    if not isinstance(value, str) or not (m := _DURATION_RE.match(value)) or value in ("P", "PT"):
        return None
    w, d, h, mi, s = (int(x or 0) for x in m.groups())
    if value.endswith("T"):
        return None
    td = timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)
    if td <= timedelta(0) or td > timedelta(days=3660):
        return None
    return td


def format_utc(dt: datetime) -> str:
    """How custom datetimes are stored: UTC, second precision, so text order equals time order."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


# --- Values -----------------------------------------------------------------------------------------------
def _scalar(fd: FieldDef, v):
    """Check and convert one value for field `fd`; raise ValueError(message)."""
    t = fd.type
    if t in ("text", "choice", "multi"):
        if not isinstance(v, str) or not v:
            raise ValueError(_("Enter a non-empty text."))
        if len(v) > MAX_TEXT:
            raise ValueError(_("The text is too long (at most %(n)d characters).") % {"n": MAX_TEXT})
        allowed = fd.choice_values() if t != "text" else None
        if allowed is not None and v not in allowed:
            raise ValueError(_("“%(value)s” is not one of the choices.") % {"value": v})
        return v
    if t in ("number", "ref"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(_("Enter a whole number."))
        if abs(v) > MAX_NUMBER:
            raise ValueError(_("The number is too large."))
        return v
    if t == "decimal":
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise ValueError(_("Enter a number."))
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise ValueError(_("Enter a number.")) from None
        if not d.is_finite() or abs(d) > MAX_NUMBER:
            raise ValueError(_("Enter a number."))
        if fd.decimal_places is not None and d.as_tuple().exponent < -fd.decimal_places:
            raise ValueError(_("Use at most %(n)d decimal places.") % {"n": fd.decimal_places})
        if fd.max_digits and abs(d) >= Decimal(10) ** (fd.max_digits - (fd.decimal_places or 0)):
            raise ValueError(_("The number is too large."))
        return d
    if t == "date":
        parsed = parse_date(v) if isinstance(v, str) else None
        if parsed is None:
            raise ValueError(_("Enter a date like 2025-01-31."))
        return parsed
    if t == "datetime":
        try:
            return clock.parse_now(v) if isinstance(v, str) else None
        except ValueError:
            pass
        raise ValueError(_("Enter a date and time like 2025-01-31T09:00:00+08:00."))
    if t == "bool":
        if not isinstance(v, bool):
            raise ValueError(_("Enter true or false."))
        return v
    raise ValueError(t)


def _value(fd: FieldDef, op: str, v):
    """The checked, converted value of a leaf, in the shape its operator needs."""
    if op == "is_null":
        if not isinstance(v, bool):
            raise ValueError(_("Enter true or false."))
        return v
    if op in ("within_last", "older_than"):
        td = parse_duration(v)
        if td is None:
            raise ValueError(_("Enter a positive duration like PT2H or P14D (weeks, days, hours, minutes, "
                               "seconds)."))
        return td
    if op in ("in", "not_in", "has_any", "has_all"):
        if not isinstance(v, list) or not v:
            raise ValueError(_("Enter a non-empty list of values."))
        if len(v) > MAX_LIST:
            raise ValueError(_("Too many values (at most %(n)d).") % {"n": MAX_LIST})
        return [_scalar(fd, x) for x in v]
    if op == "between":
        if not isinstance(v, list) or len(v) != 2:
            raise ValueError(_("Enter two values: [from, to]."))
        lo, hi = _scalar(fd, v[0]), _scalar(fd, v[1])
        if lo > hi:
            raise ValueError(_("The first value must not be greater than the second."))
        return [lo, hi]
    if isinstance(v, list):
        raise ValueError(_("Enter a single value, not a list."))
    return _scalar(fd, v)


def _event_value(op, v):
    def one(x):
        if isinstance(x, bool) or not isinstance(x, int) or x < 0 or x > MAX_NUMBER:
            raise ValueError(_("Enter a whole number of events (0 or more)."))
        return x
    if op == "between":
        if not isinstance(v, list) or len(v) != 2:
            raise ValueError(_("Enter two values: [from, to]."))
        lo, hi = one(v[0]), one(v[1])
        if lo > hi:
            raise ValueError(_("The first value must not be greater than the second."))
        return [lo, hi]
    return one(v)


# --- Validation and normalisation ---------------------------------------------------------------------------
class _Leaf:
    __slots__ = ("path", "fd", "op", "value", "raw", "event")

    def __init__(self, path, fd, op, value, raw, event=None):
        self.path, self.fd, self.op, self.value, self.raw, self.event = path, fd, op, value, raw, event


def _parse(model, node, path, fields, errors, depth, counter):
    """Walk the tree, collect errors, and return a normalised tree: ("all"|"any", [..]) / ("not", x) / _Leaf."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        if counter[0] == MAX_NODES + 1:
            errors.append((path, _("The condition is too large (at most %(n)d parts).") % {"n": MAX_NODES}))
        return None
    if depth > MAX_DEPTH:
        errors.append((path, _("The condition is nested too deeply (at most %(n)d levels).") % {"n": MAX_DEPTH}))
        return None
    if not isinstance(node, dict):
        errors.append((path, _("A condition must be an object.")))
        return None
    kinds = [k for k in ("all", "any", "not", "field", "event") if k in node]
    if len(kinds) != 1:
        errors.append((path, _("A condition must have exactly one of: all, any, not, field, event.")))
        return None
    kind = kinds[0]
    if kind in ("all", "any"):
        extra = set(node) - {kind}
        if extra:
            errors.append((path, _("Unexpected keys: %(keys)s.") % {"keys": ", ".join(sorted(extra))}))
        items = node[kind]
        if not isinstance(items, list):
            errors.append((_join(path, kind), _("Must be a list of conditions.")))
            return None
        kids = [_parse(model, c, f"{_join(path, kind)}[{i}]", fields, errors, depth + 1, counter)
                for i, c in enumerate(items)]
        return (kind, kids)
    if kind == "not":
        extra = set(node) - {"not"}
        if extra:
            errors.append((path, _("Unexpected keys: %(keys)s.") % {"keys": ", ".join(sorted(extra))}))
        return ("not", _parse(model, node["not"], _join(path, "not"), fields, errors, depth + 1, counter))
    if kind == "event":
        return _parse_event(model, node, path, errors)
    extra = set(node) - {"field", "op", "value"}
    if extra:
        errors.append((path, _("Unexpected keys: %(keys)s.") % {"keys": ", ".join(sorted(extra))}))
    name, op = node.get("field"), node.get("op")
    fd = fields.get(name) if isinstance(name, str) else None
    if fd is None:
        errors.append((_join(path, "field"), _("Unknown field “%(name)s”.") % {"name": name}))
        return None
    value = node.get("value")
    if isinstance(op, str) and op in ALIASES and "value" not in node:
        op, value = ALIASES[op]
    if not isinstance(op, str) or op not in fd.operators:
        if isinstance(op, str) and op in {o for ops in _all_ops() for o in ops}:
            msg = _("The operator “%(op)s” cannot be used with the field “%(field)s”; use one of: %(ops)s.")
        else:
            msg = _("Unknown operator “%(op)s”; use one of: %(ops)s.")
        errors.append((_join(path, "op"), msg % {"op": op, "field": fd.label, "ops": ", ".join(fd.operators)}))
        return None
    if "value" not in node and op not in ALIASES.values():
        pass
    try:
        parsed = _value(fd, op, value)
    except ValueError as exc:
        errors.append((_join(path, "value"), str(exc)))
        return None
    return _Leaf(path, fd, op, parsed, node)


def _all_ops():
    from baton.conditions.registry import TYPE_OPS
    return TYPE_OPS.values()


def _parse_event(model, node, path, errors):
    from baton.leads.models import Lead

    if resolve_model(model) is not Lead:
        errors.append((_join(path, "event"), _("Behaviour conditions are only available for leads.")))
        return None
    extra = set(node) - {"event", "within", "op", "value"}
    if extra:
        errors.append((path, _("Unexpected keys: %(keys)s.") % {"keys": ", ".join(sorted(extra))}))
    ev, ok = node["event"], True
    if not isinstance(ev, dict) or not isinstance(ev.get("type"), str) or not ev["type"] or len(ev["type"]) > 50:
        errors.append((_join(path, "event.type"), _("Name the event type (text, at most 50 characters).")))
        return None
    where = ev.get("where") or {}
    if set(ev) - {"type", "where"}:
        errors.append((_join(path, "event"), _("Unexpected keys: %(keys)s.")
                       % {"keys": ", ".join(sorted(set(ev) - {"type", "where"}))}))
        ok = False
    if not isinstance(where, dict):
        errors.append((_join(path, "event.where"), _("Must be an object of payload keys and values.")))
        return None
    for k, v in where.items():
        if not _EVENT_KEY_RE.match(k):
            errors.append((_join(path, f"event.where.{k}"), _("Payload keys use letters, digits, _ and -.")))
            ok = False
        elif not isinstance(v, str | int | float | bool) or (isinstance(v, float) and not math.isfinite(v)):
            errors.append((_join(path, f"event.where.{k}"), _("Enter a text, number or true/false.")))
            ok = False
    within = parse_duration(node.get("within"))
    if within is None:
        errors.append((_join(path, "within"), _("Enter a positive duration like PT2H or P14D (weeks, days, "
                                                "hours, minutes, seconds).")))
        ok = False
    op = node.get("op")
    if op not in EVENT_OPS:
        errors.append((_join(path, "op"), _("Unknown operator “%(op)s”; use one of: %(ops)s.")
                       % {"op": op, "ops": ", ".join(EVENT_OPS)}))
        return None
    try:
        value = _event_value(op, node.get("value"))
    except ValueError as exc:
        errors.append((_join(path, "value"), str(exc)))
        return None
    if not ok:
        return None
    return _Leaf(path, None, op, value, node, event={"type": ev["type"], "where": where, "within": within})


def _normalise(model, condition):
    fields = fields_for(model)
    errors: list[tuple[str, str]] = []
    if condition in (None, {}):
        return ("all", []), errors
    tree = _parse(model, condition, "", fields, errors, 0, [0])
    return tree, errors


def validate(model, condition) -> list[tuple[str, str]]:
    """[(path, message)] for everything wrong with `condition`; [] when it is valid. None or {} is "always"."""
    return _normalise(model, condition)[1]


def validate_or_raise(model, condition) -> None:
    errors = validate(model, condition)
    if errors:
        raise ValidationFailed(_("The condition is not valid."), errors=errors)


def _tree(model, condition):
    tree, errors = _normalise(model, condition)
    if errors:
        raise ValidationFailed(_("The condition is not valid."), errors=errors)
    return tree


# --- Shared value representations ----------------------------------------------------------------------------
def _cmp(fd: FieldDef, v):
    """A checked value in the representation both the SQL and the Python side compare with."""
    if isinstance(v, list):
        return [_cmp(fd, x) for x in v]
    if fd.kind == "json":
        if fd.type in ("number", "decimal"):
            return float(v)
        if fd.type == "date":
            return v.isoformat()
        if fd.type == "datetime":
            return format_utc(v)
    return v


def _bound(fd: FieldDef, dt: datetime):
    return format_utc(dt) if fd.kind == "json" else dt


def _json_kind(fd):
    return {"number": "number", "decimal": "number", "bool": "bool"}.get(fd.type, "text")


# --- Q ---------------------------------------------------------------------------------------------------
def _lookup_q(fd: FieldDef, lookup: str, v) -> Q:
    if fd.kind == "json":
        return Q(_LOOKUPS[lookup](JsonKey("custom_fields", fd.key, _json_kind(fd)), v))
    return Q(**{f"{fd.path}__{lookup}": v})


def _expr(fd: FieldDef):
    return JsonKey("custom_fields", fd.key, _json_kind(fd)) if fd.kind == "json" else F(fd.path)


def _empty_q(model, fd: FieldDef) -> Q:
    if fd.kind == "m2m":
        return ~Q(pk__in=model._base_manager.filter(**{f"{fd.path}__isnull": False}).values("pk"))
    if fd.kind == "json":
        if fd.type == "multi":
            return Q(JsonList("custom_fields", fd.key, "empty"))
        expr = JsonKey("custom_fields", fd.key, _json_kind(fd))
        q = Q(IsNull(expr, True))
        return q | Q(Exact(expr, "")) if _json_kind(fd) == "text" else q
    q = Q(**{f"{fd.path}__isnull": True})
    return q | Q(**{fd.path: ""}) if fd.type in ("text", "choice") else q


def _negate(model, q: Q, safe: bool) -> tuple[Q, bool]:
    if safe:
        return ~q, True
    # The inner Q may be NULL (unknown) for some rows; NOT over "pk IN (...)" is exact.
    return ~Q(pk__in=model._base_manager.filter(q).values("pk")), True


def _leaf_q(model, leaf: _Leaf, now) -> tuple[Q, bool]:
    if leaf.event is not None:
        return _event_q(leaf, now), True
    fd, op, v = leaf.fd, leaf.op, leaf.value
    safe = fd.kind == "column" and not fd.nullable
    if op == "ne":
        return _negate(model, *_leaf_q(model, _Leaf(leaf.path, fd, "eq", v, None), now))
    if op == "not_in":
        return _negate(model, *_leaf_q(model, _Leaf(leaf.path, fd, "in", v, None), now))
    if op == "is_null":
        q = _empty_q(model, fd)
        return (q, True) if v else _negate(model, q, True)
    if fd.kind == "age":
        lo_op = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}
        if op == "between":
            return (Q(created_at__lte=now - timedelta(hours=float(v[0])))
                    & Q(created_at__gte=now - timedelta(hours=float(v[1])))), True
        return Q(**{f"created_at__{lo_op[op]}": now - timedelta(hours=float(v))}), True
    if fd.kind == "m2m":
        def has(values):
            return Q(pk__in=model._base_manager.filter(**{f"{fd.path}__{fd.attr}__in": values}).values("pk"))
        if op == "has_any":
            return has(v), True
        q = has(v[:1])
        for x in v[1:]:
            q &= has([x])
        return q, True
    if fd.type == "multi":  # JSON list
        return Q(JsonList("custom_fields", fd.key, op, v)), True
    if op == "within_last":
        return _lookup_q(fd, "gte", _bound(fd, now - v)) & _lookup_q(fd, "lte", _bound(fd, now)), safe
    if op == "older_than":
        return _lookup_q(fd, "lt", _bound(fd, now - v)), safe
    cv = _cmp(fd, v)
    if op == "eq":
        return _lookup_q(fd, "exact", cv), safe
    if op == "in":
        return _lookup_q(fd, "in", cv), safe
    if op in _ORDER_LOOKUPS:
        return _lookup_q(fd, op, cv), safe
    if op == "between":
        return _lookup_q(fd, "gte", cv[0]) & _lookup_q(fd, "lte", cv[1]), safe
    if op == "contains":
        return Q(GreaterThan(StrIndex(_expr(fd), Value(v)), 0)), safe
    if op == "startswith":
        return Q(Exact(StrIndex(_expr(fd), Value(v)), 1)), safe
    if op == "icontains":
        return Q(GreaterThan(StrIndex(AsciiLower(_expr(fd)), Value(ascii_lower(v))), 0)), safe
    raise AssertionError(op)


def _payload_q(key, v) -> Q:
    if isinstance(v, bool):
        return Q(Exact(JsonKey("payload", key, "bool"), v))
    if isinstance(v, int | float):
        return Q(Exact(JsonKey("payload", key, "number"), float(v)))
    return Q(Exact(JsonKey("payload", key, "text"), v))


def _event_q(leaf: _Leaf, now) -> Q:
    from baton.conditions.models import LeadEvent

    ev = leaf.event
    qs = LeadEvent.objects.filter(lead=OuterRef("pk"), type=ev["type"], occurred_at__gte=now - ev["within"],
                                  occurred_at__lte=now)
    for k, v in ev["where"].items():
        qs = qs.filter(_payload_q(k, v))
    counted = qs.order_by().values("lead").annotate(n=Count("id")).values("n")[:1]
    n = Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
    return _count_q(n, leaf.op, leaf.value)


def _count_q(n, op, v) -> Q:
    if op == "between":
        return Q(GreaterThanOrEqual(n, v[0])) & Q(LessThanOrEqual(n, v[1]))
    if op == "ne":
        return ~Q(Exact(n, v))
    cls = {"eq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}[op]
    return Q(cls(n, v))


def _compile_q(model, tree, now) -> tuple[Q, bool]:
    if isinstance(tree, _Leaf):
        return _leaf_q(model, tree, now)
    kind, arg = tree
    if kind == "not":
        return _negate(model, *_compile_q(model, arg, now))
    parts = [_compile_q(model, c, now) for c in arg]
    if not parts:  # Q() would be dropped when combined, so spell out true and false
        return (Q(pk__isnull=False) if kind == "all" else Q(pk__in=[])), True
    q = parts[0][0]
    for p, _s in parts[1:]:
        q = q & p if kind == "all" else q | p
    return q, all(s for _p, s in parts)


def to_q(model, condition) -> Q:
    """A `Q` selecting the rows of `model` that satisfy `condition`, as of `clock.now()`."""
    model = resolve_model(model)
    if condition in (None, {}):
        return Q()
    return _compile_q(model, _tree(model, condition), clock.now())[0]


# --- Python predicate ------------------------------------------------------------------------------------
def _leaf_value(leaf: _Leaf, obj, now):
    if leaf.event is not None:
        return _event_count(leaf, obj, now)
    if leaf.fd.kind == "age":
        return obj.created_at
    return leaf.fd.read(obj)


def _payload_match(payload, where) -> bool:
    for k, v in where.items():
        got = payload.get(k) if isinstance(payload, dict) else None
        if isinstance(v, bool):
            if not isinstance(got, bool) or got != v:
                return False
        elif isinstance(v, int | float):
            if isinstance(got, bool) or not isinstance(got, int | float) or float(got) != float(v):
                return False
        elif not isinstance(got, str) or got != v:
            return False
    return True


def _event_count(leaf, obj, now) -> int:
    ev = leaf.event
    start = now - ev["within"]
    return sum(1 for e in obj.events.all()
               if e.type == ev["type"] and start <= e.occurred_at <= now and _payload_match(e.payload, ev["where"]))


def _test(leaf: _Leaf, a, now) -> bool:
    op, v = leaf.op, leaf.value
    if leaf.event is not None:
        if op == "between":
            return v[0] <= a <= v[1]
        return {"eq": a == v, "ne": a != v, "gt": a > v, "gte": a >= v, "lt": a < v, "lte": a <= v}[op]
    fd = leaf.fd
    if op == "ne":
        return not _test(_Leaf(leaf.path, fd, "eq", v, None), a, now)
    if op == "not_in":
        return not _test(_Leaf(leaf.path, fd, "in", v, None), a, now)
    if fd.type == "multi":
        if op == "is_null":
            return (not a) == v
        present = {x for x in (a or ()) if isinstance(x, str)}
        return bool(present & set(v)) if op == "has_any" else set(v) <= present
    if op == "is_null":
        return (a is None) == v
    if a is None:
        return False
    if fd.kind == "age":
        bound = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}
        if op == "between":
            return now - timedelta(hours=float(v[1])) <= a <= now - timedelta(hours=float(v[0]))
        b = now - timedelta(hours=float(v))
        return {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[bound[op]]
    if op in ("within_last", "older_than"):
        start, end = _bound(fd, now - v), _bound(fd, now)
        return start <= a <= end if op == "within_last" else a < start
    cv = _cmp(fd, v)
    if op == "eq":
        return a == cv
    if op == "in":
        return a in cv
    if op == "between":
        return cv[0] <= a <= cv[1]
    if op in _ORDER_LOOKUPS:
        return {"gt": a > cv, "gte": a >= cv, "lt": a < cv, "lte": a <= cv}[op]
    if op == "contains":
        return v in a
    if op == "startswith":
        return a.startswith(v)
    if op == "icontains":
        return ascii_lower(v) in ascii_lower(a)
    raise AssertionError(op)


def _evaluate(tree, obj, now, trace=None) -> bool:
    if isinstance(tree, _Leaf):
        actual = _leaf_value(tree, obj, now)
        result = _test(tree, actual, now)
        if trace is not None:
            trace.append(_explain_row(tree, actual, result))
        return result
    kind, arg = tree
    if kind == "not":
        return not _evaluate(arg, obj, now, trace)
    if trace is not None:  # explain every leaf, no short-circuit
        results = [_evaluate(c, obj, now, trace) for c in arg]
        return all(results) if kind == "all" else any(results)
    if kind == "all":
        return all(_evaluate(c, obj, now) for c in arg)
    return any(_evaluate(c, obj, now) for c in arg)


def to_predicate(model, condition) -> Callable[[object], bool]:
    """`pred(obj) -> bool` for one instance of `model`, evaluated as of `clock.now()` at call time.

    Many-to-many fields and events are read through `obj.<relation>.all()`, so prefetch them
    (`selectors.prefetch_for(model, condition)`) when testing many rows.
    """
    model = resolve_model(model)
    tree = _tree(model, condition)
    return lambda obj: _evaluate(tree, obj, clock.now())


def _plain(v):
    if isinstance(v, frozenset | set):
        return sorted(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, timedelta):
        return v.total_seconds()
    return v


def _explain_row(leaf: _Leaf, actual, result) -> dict:
    raw = leaf.raw or {}
    if leaf.event is not None:
        return {"path": leaf.path, "event": raw.get("event"), "within": raw.get("within"), "op": leaf.op,
                "value": raw.get("value"), "actual": actual, "result": result, "label": _("Events")}
    return {"path": leaf.path, "field": leaf.fd.name, "label": str(leaf.fd.label), "op": leaf.op,
            "value": raw.get("value", leaf.value), "actual": _plain(actual), "result": result}


def explain(model, condition, obj) -> dict:
    """Why `obj` does or does not match: {"result": bool, "leaves": [{path, field, op, value, actual, result}]}."""
    model = resolve_model(model)
    tree = _tree(model, condition)
    leaves: list[dict] = []
    result = _evaluate(tree, obj, clock.now(), leaves)
    return {"result": result, "leaves": leaves}
