"""Write helpers every domain service uses: validate, write, audit, check scope, all in one transaction.

Domain services (`leads.services.lead_create`, ...) call these so that every write, from the UI,
the API, a job or an import, leaves exactly one audit row and never lands outside the actor's scope.
"""

from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction

from baton.core import clock, scoping
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource


def _plain(value):
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": str(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        # One instant, one text: a time read back from the database (UTC) equals the same time written in
        # the company's zone, so re-reading a row never shows as a change in its history.
        return value.astimezone(UTC).isoformat()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "name") and hasattr(value, "url"):  # FieldFile
        return value.name or None
    return value


def snapshot(obj: models.Model, fields) -> dict:
    """JSON-ready values of `fields` on `obj` (FKs as id + label, many-to-many as sorted labels)."""
    out = {}
    for name in fields:
        field = obj._meta.get_field(name)
        if field.many_to_many:
            out[name] = sorted(str(o) for o in getattr(obj, name).all()) if obj.pk else []
        elif field.is_relation:
            out[name] = _plain(getattr(obj, name))
        elif isinstance(field, models.DecimalField) and getattr(obj, name) is not None:
            # 100000 and 100000.00 are the same amount: compare at the column's precision
            value = Decimal(str(getattr(obj, name))).quantize(Decimal(1).scaleb(-field.decimal_places))
            out[name] = str(value)
        else:
            out[name] = _plain(getattr(obj, name))
    return out


def validation_error_to_domain(exc: ValidationError) -> ValidationFailed:
    errors = []
    if hasattr(exc, "error_dict"):
        for field, items in exc.error_dict.items():
            for item in items:
                msg = " ".join(item.messages) if hasattr(item, "messages") else str(item)
                errors.append((None if field == "__all__" else field, msg))
    else:
        errors = [(None, m) for m in exc.messages]
    return ValidationFailed(errors=errors)


def _full_clean(obj, exclude=None):
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise validation_error_to_domain(exc) from exc
    # An amount holds the column's places, as the database returns it: the instance a write answers with then
    # reads as a later read of the row does ("50000.00", not "50000").
    for field in obj._meta.concrete_fields:
        if isinstance(field, models.DecimalField):
            value = getattr(obj, field.attname)
            if isinstance(value, Decimal) and value.is_finite():
                setattr(obj, field.attname, value.quantize(Decimal(1).scaleb(-field.decimal_places)))


def record(obj, *, actor, source, action, changes=None, message=""):
    """Write one audit row for `obj` (called inside the write's transaction)."""
    entry = audit_row(obj, actor=actor, source=source, action=action, changes=changes, message=message)
    entry.save(force_insert=True)
    return entry


def audit_row(obj, *, actor, source, action, changes=None, message="") -> AuditEntry:
    """The unsaved audit row `record` writes."""
    return AuditEntry(**audit_values(obj, actor=actor, source=source, action=action, changes=changes,
                                     message=message))


def audit_values(obj, *, actor, source, action, changes=None, message="") -> dict:
    """`audit_row`'s column values by attname, for writers that insert rows without model instances."""
    return {
        "at": clock.now(),
        "actor_id": actor.pk if actor and actor.is_authenticated else None,
        "source": source,
        "action": action,
        "content_type_id": ContentType.objects.get_for_model(obj, for_concrete_model=False).pk,
        "object_id": obj.pk,
        "object_repr": str(obj)[:200],
        "changes": changes or {},
        "message": message[:500],
    }


def _ensure_in_scope(obj, actor, action):
    if actor is None:  # system and job writes act for the company
        return
    model = type(obj)
    if scoping.scope_for(actor, model, action) == scoping.ALL:  # the row exists: no query needed to say so
        return
    if not scoping.restrict(model._default_manager.filter(pk=obj.pk), actor, action).exists():
        raise PermissionDenied()


def _split(model, data):
    plain, m2m = {}, {}
    for key, value in data.items():
        field = model._meta.get_field(key)
        (m2m if field.many_to_many else plain)[key] = value
    return plain, m2m


def create_object(model, *, actor, source=ChangeSource.UI, data: dict, message="", check_scope=True,
                  savepoint=True):
    """Validate and create a `model` row from `data`, audit it, and refuse it if it lands outside scope.

    `savepoint=False` when the caller's own transaction is the unit that fails or succeeds as a whole
    (nothing catches this create's error and goes on): it saves the savepoint's two round trips."""
    plain, m2m = _split(model, data)
    with transaction.atomic(savepoint=savepoint):
        obj = model(**plain)
        _full_clean(obj)
        obj.save()
        for name, values in m2m.items():
            getattr(obj, name).set(values)
        fields = [k for k in data]
        after = snapshot(obj, fields)
        changes = {k: [None, v] for k, v in after.items() if v not in (None, "", [], {})}
        record(obj, actor=actor, source=source, action=AuditEntry.Action.CREATE, changes=changes, message=message)
        if check_scope:
            _ensure_in_scope(obj, actor, "change")
    return obj


class DeferredWrites:
    """Engine writes to one row that has just been inserted, held back and written together by `flush`: one
    UPDATE of every column they changed and one multi-row INSERT of their audit rows (in their order). Only
    for a row no other transaction can see yet (the lead intake), so nobody can read it half-written."""

    def __init__(self):
        self.columns: list[str] = []
        self.audits: list[AuditEntry] = []

    def flush(self, obj) -> None:
        if self.columns:
            obj.save(update_fields=list(dict.fromkeys(self.columns)))
        if self.audits:
            AuditEntry.objects.bulk_create(self.audits)
        self.columns, self.audits = [], []


def update_object(obj, *, actor, source=ChangeSource.UI, data: dict, message="", check_scope=True,
                  validate=True, touch=None, defer: DeferredWrites | None = None):
    """Apply `data` to `obj`; audit only the fields whose value really changed. Returns the changes.

    `touch` ({field: value}, e.g. `updated_at`) is applied only when something really changed and stays out
    of the history. `validate=False` is for values an engine computed itself (never user input): it skips
    `full_clean` and its unique-check queries and writes only the given columns in one UPDATE; with `defer`
    (engine writes only) the UPDATE and the audit row wait for `defer.flush`.
    """
    assert defer is None or not validate, "only engine writes are deferred"
    model = type(obj)
    plain, m2m = _split(model, data)
    # A refused user edit must roll back alone (callers catch it and go on); engine writes are not refused,
    # so they skip the savepoint's two round trips on the intake path.
    with transaction.atomic(savepoint=validate):
        if check_scope:
            _ensure_in_scope(obj, actor, "change")
        before = snapshot(obj, data.keys())
        for key, value in plain.items():
            setattr(obj, key, value)
        if validate:
            _full_clean(obj)
        known = {}
        for name, values in m2m.items():
            values = list(values)
            if before[name] == []:  # nothing to remove: one INSERT instead of set()'s read + diff
                getattr(obj, name).add(*values)
            else:
                getattr(obj, name).set(values)
            if all(isinstance(v, models.Model) for v in values):  # the history's labels without a read back
                known[name] = sorted(str(v) for v in values)
        after = snapshot(obj, [k for k in data if k not in known]) | known
        changes = {k: [before[k], after[k]] for k in data if before[k] != after[k]}
        touched = dict(touch or {}) if changes else {}
        for key, value in touched.items():
            setattr(obj, key, value)
        columns = [model._meta.get_field(k).attname for k in [*plain, *touched]]
        if validate:
            obj.save()
        elif defer is not None:
            defer.columns += columns
        elif columns:
            obj.save(update_fields=columns)
        if changes or message:
            if defer is not None:
                defer.audits.append(audit_row(obj, actor=actor, source=source, action=AuditEntry.Action.UPDATE,
                                              changes=changes, message=message))
            else:
                record(obj, actor=actor, source=source, action=AuditEntry.Action.UPDATE, changes=changes,
                       message=message)
        if check_scope:
            _ensure_in_scope(obj, actor, "change")
    return changes


def delete_object(obj, *, actor, source=ChangeSource.UI, message=""):
    with transaction.atomic():
        if actor is not None and not scoping.restrict(
            type(obj)._default_manager.filter(pk=obj.pk), actor, "delete"
        ).exists():
            raise PermissionDenied()
        record(obj, actor=actor, source=source, action=AuditEntry.Action.DELETE,
               changes={}, message=message or str(obj))
        obj.delete()


def attachment_create(*, actor, file, linked_object, kind="document", name="", source=ChangeSource.UI):
    """Store an uploaded file against a record, with its SHA-256 and size, audited on the linked record too."""
    import hashlib
    import mimetypes

    from django.conf import settings
    from django.utils.translation import gettext as _

    from baton.core.models import Attachment

    if file.size > settings.BATON_MAX_UPLOAD_BYTES:
        raise ValidationFailed(errors=[("file", _("The file is larger than %(max)s MB.") % {
            "max": settings.BATON_MAX_UPLOAD_BYTES // (1024 * 1024)})])
    if file.size == 0:
        raise ValidationFailed(errors=[("file", _("The file is empty."))])
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    name = name or getattr(file, "name", "") or "file"
    content_type = getattr(file, "content_type", None) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    with transaction.atomic():
        _ensure_in_scope(linked_object, actor, "change")
        attachment = create_object(Attachment, actor=actor, source=source, check_scope=False, data={
            "file": file, "name": name[:255], "kind": kind, "sha256": digest.hexdigest(), "size": file.size,
            "content_type": content_type[:100],
            "linked_type": ContentType.objects.get_for_model(linked_object, for_concrete_model=False),
            "linked_id": linked_object.pk, "uploaded_by": actor, "uploaded_at": clock.now(),
        })
        record(linked_object, actor=actor, source=source, action=AuditEntry.Action.EVENT,
               changes={"attachments": [None, attachment.name]}, message=_("File attached"))
    return attachment
