"""Custom fields: define them, check values for them, and change their type without losing data."""

import math
from datetime import datetime, time
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from baton.conditions.compiler import format_utc
from baton.conditions.models import CustomField
from baton.conditions.registry import model_target, resolve_model
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import create_object, record, update_object

MAX_TEXT = 2000
MAX_NUMBER = 10**15
_TRUE = {"true", "yes", "y", "1", "是", "对"}
_FALSE = {"false", "no", "n", "0", "否", "不"}


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _number(value, *, whole: bool):
    if isinstance(value, bool):
        raise ValueError(_("Enter a number."))
    if isinstance(value, str):
        try:
            value = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("“%(value)s” is not a number.") % {"value": value}) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(_("Enter a number."))
    if not isinstance(value, int | float | Decimal):
        raise ValueError(_("Enter a number."))
    d = Decimal(str(value))
    if not d.is_finite() or abs(d) > MAX_NUMBER:
        raise ValueError(_("Enter a number between -10¹⁵ and 10¹⁵."))
    if whole:
        if d != d.to_integral_value():
            raise ValueError(_("“%(value)s” is not a whole number.") % {"value": value})
        return int(d)
    # JSON numbers so both databases order them numerically; integral values stay integers.
    return int(d) if d == d.to_integral_value() else float(d)


def _choice_values(field: CustomField) -> list[str]:
    return field.choice_values


def coerce_value(field: CustomField, value, type_: str | None = None):
    """`value` in the stored form for `field` (as if it had type `type_`); None when empty; ValueError if bad."""
    t = type_ or field.type
    if _empty(value):
        return None
    T = CustomField.Type
    if t == T.TEXT:
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif not isinstance(value, str):
            value = str(value)
        if len(value) > MAX_TEXT:
            raise ValueError(_("The text is too long (at most %(n)d characters).") % {"n": MAX_TEXT})
        return value
    if t in (T.NUMBER, T.DECIMAL):
        return _number(value, whole=t == T.NUMBER)
    if t == T.BOOL:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(_("“%(value)s” is not yes or no.") % {"value": value})
    if t == T.DATE:
        if isinstance(value, datetime):
            return timezone.localdate(value).isoformat() if timezone.is_aware(value) else value.date().isoformat()
        if hasattr(value, "isoformat"):
            return value.isoformat()
        text = str(value).strip()
        parsed = parse_date(text)
        if parsed is None and (dt := parse_datetime(text)) is not None:
            parsed = timezone.localdate(dt) if timezone.is_aware(dt) else dt.date()
        if parsed is None:
            raise ValueError(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value})
        return parsed.isoformat()
    if t == T.DATETIME:
        dt = value if isinstance(value, datetime) else None
        if dt is None and hasattr(value, "isoformat"):  # a date: its midnight
            dt = datetime.combine(value, time())
        if dt is None:
            text = str(value).strip()
            dt = parse_datetime(text)
            if dt is None and (d := parse_date(text)) is not None:
                dt = datetime.combine(d, time())
        if dt is None:
            raise ValueError(_("“%(value)s” is not a date and time.") % {"value": value})
        if timezone.is_naive(dt):
            dt = timezone.make_aware(dt, timezone.get_default_timezone())
        return format_utc(dt)
    allowed = _choice_values(field)
    if t == T.CHOICE:
        if isinstance(value, list):
            if len(value) != 1:
                raise ValueError(_("Choose one value, not %(n)d.") % {"n": len(value)})
            value = value[0]
        value = str(value)
        if value not in allowed:
            raise ValueError(_("“%(value)s” is not one of the choices.") % {"value": value})
        return value
    if t == T.MULTI_CHOICE:
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            item = str(item)
            if item not in allowed:
                raise ValueError(_("“%(value)s” is not one of the choices.") % {"value": item})
            if item not in out:
                out.append(item)
        return out or None
    raise ValueError(t)


def custom_values_clean(model, values: dict, *, partial: bool = False) -> dict:
    """Check and convert a dict of custom values for `model` (forms, API and imports call this).

    Returns {key: stored value} without empty values. Raises ValidationFailed with one error per bad key,
    named `custom_fields.<key>`. With partial=False a required field that is missing or empty is an error.
    """
    target = model_target(model)
    fields = {f.key: f for f in CustomField.objects.filter(target=target, active=True)}
    if not isinstance(values, dict):
        raise ValidationFailed(errors=[("custom_fields", _("Custom values must be an object."))])
    out, errors = {}, []
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            errors.append((f"custom_fields.{key}", _("There is no custom field “%(key)s”.") % {"key": key}))
            continue
        try:
            stored = coerce_value(field, value)
        except ValueError as exc:
            errors.append((f"custom_fields.{key}", f"{field.label_zh if _zh() else field.label_en}: {exc}"))
            continue
        if stored is not None:
            out[key] = stored
        elif field.required:
            errors.append((f"custom_fields.{key}", _("%(label)s is required.") % {"label": _label(field)}))
    if not partial:
        for key, field in fields.items():
            if field.required and key not in values:
                errors.append((f"custom_fields.{key}", _("%(label)s is required.") % {"label": _label(field)}))
    if errors:
        raise ValidationFailed(errors=errors)
    return out


def _zh() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "zh-hans").startswith("zh")


def _label(field: CustomField) -> str:
    return field.label_zh if _zh() else field.label_en


def _normalise_choices(choices) -> list[dict]:
    out = []
    for c in choices or []:
        if isinstance(c, str):
            c = {"value": c}
        if not isinstance(c, dict):
            raise ValidationFailed(errors=[("choices", _("Each choice must be a text or an object."))])
        value = str(c.get("value", "")).strip()
        out.append({"value": value, "label_zh": str(c.get("label_zh") or value),
                    "label_en": str(c.get("label_en") or value)})
    return out


def _require_admin(actor):
    """Only sales ops (and superusers, and the system itself) define custom fields."""
    if actor is None or actor.is_superuser or actor.has_role("ops"):
        return
    raise PermissionDenied(_("Only sales ops can manage custom fields."))


def custom_field_create(*, actor, source=ChangeSource.UI, target: str, key: str, label_zh: str, label_en: str,
                        type: str, choices=(), required: bool = False, position: int = 0,
                        active: bool = True) -> CustomField:
    _require_admin(actor)
    data = {"target": target, "key": key, "label_zh": label_zh, "label_en": label_en, "type": type,
            "choices": _normalise_choices(choices), "required": required, "position": position, "active": active}
    return create_object(CustomField, actor=actor, source=source, data=data, check_scope=False)


_UPDATABLE = {"label_zh", "label_en", "choices", "required", "position", "active"}


def custom_field_update(*, field: CustomField, actor, source=ChangeSource.UI, **data) -> dict:
    """Change labels, choices, required, position or active. Key, target and type are fixed here
    (use custom_field_change_type to change the type)."""
    _require_admin(actor)
    bad = set(data) - _UPDATABLE
    if bad:
        raise ValidationFailed(errors=[(k, _("This cannot be changed here.")) for k in sorted(bad)])
    if "choices" in data:
        data["choices"] = _normalise_choices(data["choices"])
        removed = set(field.choice_values) - {c["value"] for c in data["choices"]}
        if removed:
            used = _rows_using(field, removed)
            if used:
                raise ValidationFailed(errors=[("choices", _(
                    "These choices are still used by %(n)d records: %(values)s. Change those records first."
                ) % {"n": used, "values": ", ".join(sorted(removed))})])
    from baton.core import clock

    data["updated_at"] = clock.now()
    changes = update_object(field, actor=actor, source=source, data=data, check_scope=False)
    return {k: v for k, v in changes.items() if k != "updated_at"}


def _target_model(field: CustomField):
    return resolve_model(field.target)


def _rows_using(field: CustomField, values: set[str]) -> int:
    n = 0
    for stored in _target_model(field)._base_manager.exclude(custom_fields={}).values_list("custom_fields",
                                                                                            flat=True):
        v = (stored or {}).get(field.key)
        items = v if isinstance(v, list) else [v]
        if any(isinstance(x, str) and x in values for x in items):
            n += 1
    return n


def custom_field_delete(*, field: CustomField, actor, source=ChangeSource.UI) -> int:
    """Delete the field and remove its values from every record. Returns how many records lost a value."""
    _require_admin(actor)
    with transaction.atomic():
        model = _target_model(field)
        rows = [o for o in model._base_manager.select_for_update().only("pk", "custom_fields")
                if field.key in (o.custom_fields or {})]
        for o in rows:
            o.custom_fields.pop(field.key, None)
        model._base_manager.bulk_update(rows, ["custom_fields"], batch_size=500)
        # Not delete_object: custom fields have no owner scope (only ops reach here, checked above).
        record(field, actor=actor, source=source, action=AuditEntry.Action.DELETE,
               message=_("Deleted custom field %(key)s (values removed from %(n)d records)")
               % {"key": field.key, "n": len(rows)})
        field.delete()
    return len(rows)


def custom_field_change_type(field: CustomField, new_type: str, actor, *, source=ChangeSource.UI,
                             choices=None) -> int:
    """Change the type of `field` and convert every stored value, all or nothing.

    choice → multi_choice wraps the value in a list, number → text writes it as text, text → number parses
    it, and so on. Values that cannot be converted are listed (record ids) and nothing changes. Turning a
    field into a choice field without `choices` makes the distinct existing values the choices.
    Returns how many records were converted.
    """
    _require_admin(actor)
    if new_type not in CustomField.Type.values:
        raise ValidationFailed(errors=[("type", _("Unknown type “%(type)s”.") % {"type": new_type})])
    old_type = field.type
    if new_type == old_type and choices is None:
        return 0
    with transaction.atomic():
        model = _target_model(field)
        rows = [o for o in model._base_manager.select_for_update().only("pk", "custom_fields").order_by("pk")
                if field.key in (o.custom_fields or {})]
        is_choice = new_type in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE)
        if choices is not None:
            new_choices = _normalise_choices(choices)
        elif is_choice and not field.choices:
            seen = []
            for o in rows:
                v = o.custom_fields[field.key]
                for item in (v if isinstance(v, list) else [v]):
                    text = coerce_value(field, item, CustomField.Type.TEXT)
                    if text is not None and text not in seen:
                        seen.append(text)
            new_choices = _normalise_choices(seen)
        else:
            new_choices = field.choices
        probe = CustomField(key=field.key, type=new_type, choices=new_choices)
        converted, failures = [], []
        for o in rows:
            old = o.custom_fields[field.key]
            try:
                new = coerce_value(probe, old)
            except ValueError as exc:
                failures.append((o.pk, old, str(exc)))
                continue
            if new is None:
                o.custom_fields.pop(field.key)
            else:
                o.custom_fields[field.key] = new
            converted.append(o)
        if failures:
            shown = "; ".join(f"#{pk}: {msg}" for pk, _old, msg in failures[:10])
            more = len(failures) - 10
            msg = _("%(n)d records have values that cannot become “%(type)s”: %(list)s") % {
                "n": len(failures), "type": CustomField.Type(new_type).label, "list": shown}
            if more > 0:
                msg += " " + _("(and %(n)d more)") % {"n": more}
            raise ValidationFailed(msg, errors=[("type", msg)], code="unconvertible")
        model._base_manager.bulk_update(converted, ["custom_fields"], batch_size=500)
        from baton.core import clock

        update_object(field, actor=actor, source=source, check_scope=False,
                      data={"type": new_type, "choices": new_choices, "updated_at": clock.now()},
                      message=_("Type changed; %(n)d values converted") % {"n": len(converted)})
    return len(converted)


