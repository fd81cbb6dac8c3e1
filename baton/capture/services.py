"""Lead capture: de-duplicate on the way in, merge or flag, and the review of flagged duplicates."""

import re
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from baton.activities.models import Activity
from baton.activities.services import activity_create
from baton.capture.models import DedupePolicy, IntakeForm
from baton.capture.selectors import lead_find_duplicates, policy_for
from baton.core import scoping
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import create_object, delete_object, update_object
from baton.leads.models import Lead, LeadSource, LeadStatus
from baton.leads.services import lead_create, lead_update

# Fields a capture may fill on an existing lead when they are empty there.
FILLABLE = ("contact_name", "phone", "email", "company", "external_id", "budget", "region", "notes",
            "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@dataclass
class CaptureResult:
    lead: Lead
    merged: bool = False  # True: `lead` is the existing lead the capture was merged into
    flagged: bool = False  # True: `lead` is new and flagged as a duplicate of lead.duplicate_of
    reasons: list[str] = field(default_factory=list)


def _empty(value) -> bool:
    return value in (None, "", [], {})


def _fill_empty(target: Lead, data: dict) -> dict:
    """The values of `data` for fields that are empty on `target` (custom fields merged key by key)."""
    updates = {}
    for name in FILLABLE:
        if name in data and not _empty(data[name]) and _empty(getattr(target, name)):
            if name == "external_id" and (data.get("source") or target.source) != target.source:
                continue  # an external id only means something for its own source
            updates[name] = data[name]
    extra = {k: v for k, v in (data.get("custom_fields") or {}).items() if k not in (target.custom_fields or {})}
    if extra:
        updates["custom_fields"] = {**(target.custom_fields or {}), **extra}
    return updates


def _note_author(lead: Lead, actor):
    if actor is not None and actor.is_authenticated:
        return actor
    if lead.owner_id:
        return lead.owner
    return get_user_model().objects.filter(is_active=True, is_superuser=True).order_by("pk").first()


def _describe(data: dict, source_channel: str) -> str:
    parts = [_("Repeat inquiry via %(channel)s.") % {"channel": source_channel or data.get("source") or "?"}]
    for label, key in ((_("Source"), "source"), (_("Contact"), "contact_name"), (_("Phone"), "phone"),
                       (_("E-mail"), "email"), (_("Company"), "company"), ("utm_source", "utm_source"),
                       ("utm_campaign", "utm_campaign"), (_("Notes"), "notes")):
        if data.get(key):
            parts.append(f"{label}: {data[key]}")
    return "\n".join(parts)


def _create(actor, source, data: dict, *, savepoint: bool) -> Lead:
    data = dict(data)
    return lead_create(actor=actor, source=source, lead_source=data.pop("source"), savepoint=savepoint, **data)


def lead_capture(*, data: dict, actor, source_channel: str = "", source=ChangeSource.API,
                 _retry: bool = False) -> CaptureResult:
    """Take in a lead from a form, an API client or an import, de-duplicated per the source's policy.

    On a duplicate, a MERGE policy fills the existing lead's empty fields and logs a "repeat inquiry" note
    on it (the result's `merged` is True and `lead` is the existing lead); a FLAG policy creates the new lead
    with `duplicate_of` set, for review. `data` holds Lead field values.
    """
    data = dict(data)
    data.setdefault("source", source_channel if source_channel in dict(Lead._meta.get_field("source").choices)
                    else "other")
    policy = policy_for(data["source"])
    # The lookup runs before the write transaction: on SQLite that transaction holds the database's one write
    # lock, which every other capture waits for, and the lookup is a tenth of a capture's work. It sees what
    # it saw inside the transaction on PostgreSQL (read committed): every committed lead, and not the
    # uncommitted lead of a concurrent capture. A merge re-reads its target inside the transaction.
    matches = lead_find_duplicates(data, threshold=policy.fuzzy_threshold)
    if not matches:
        try:
            # Its own transaction, or a savepoint in the caller's: a refused lead leaves the caller's intact.
            return CaptureResult(lead=_create(actor, source, data, savepoint=True))
        except (IntegrityError, ValidationFailed) as exc:
            # A concurrent capture may have committed the same (source, external id) after the lookup (the
            # unique check refuses it with a non-field error, or the insert if that capture came later still):
            # looking again finds it and merges or flags as the policy says. A refused field value is no race.
            # Inside a caller's transaction the error stands: retrying is the caller's call.
            field_errors = isinstance(exc, ValidationFailed) and all(name for name, _m in exc.errors)
            if (_retry or field_errors or not data.get("external_id")
                    or transaction.get_connection().in_atomic_block):
                raise
            return lead_capture(data=data, actor=actor, source_channel=source_channel, source=source, _retry=True)
    existing, reasons = matches[0]
    if policy.action == DedupePolicy.Action.MERGE:
        with transaction.atomic():
            existing = Lead.objects.select_for_update().get(pk=existing.pk)
            updates = _fill_empty(existing, data)
            message = _("Repeat inquiry merged (%(reasons)s)") % {"reasons": ", ".join(reasons)}
            writer = actor
            if actor is not None and not scoping.restrict(Lead.objects.filter(pk=existing.pk), actor,
                                                          "change").exists():
                # De-duplication acts for the company: the capturer need not own the lead it repeats.
                writer = None
                message += " — " + _("captured by %(user)s") % {"user": actor}
            lead_update(lead=existing, actor=writer, source=source, message=message, **updates)
            author = _note_author(existing, actor)
            if author is not None:
                activity_create(actor=None, source=source, kind=Activity.Kind.NOTE, lead=existing, author=author,
                                subject=_("Repeat inquiry"), note=_describe(data, source_channel))
            existing.merged = True
            return CaptureResult(lead=existing, merged=True, reasons=reasons)
    if "external_id" in reasons:
        # The pair (source, external id) is unique: the flagged copy keeps it in its notes instead.
        ext = data.pop("external_id")
        data["notes"] = "\n".join(filter(None, [data.get("notes", ""), _("External id: %(id)s") % {"id": ext}]))
    # One write, in its own transaction (or a savepoint of the caller's), as a lead without a duplicate.
    lead = _create(actor, source, {**data, "duplicate_of": existing}, savepoint=True)
    return CaptureResult(lead=lead, flagged=True, reasons=reasons)


def lead_capture_as_create(*, actor, source=ChangeSource.API, **data) -> Lead:
    """A create request (`POST /api/leads`) taken in as a capture, like a web form or an import: de-duplicated
    by the source's policy. Takes `lead_create`'s keywords. A merge returns the existing lead marked
    `_existing` (the API answers 200 with it, or 202 when the caller may not see it); a flagged duplicate is
    created with `duplicate_of`. A caller that names `duplicate_of` itself has decided: created as sent."""
    if data.get("duplicate_of") is not None:
        return lead_create(actor=actor, source=source, **data)
    data = dict(data)
    data["source"] = data.pop("lead_source", LeadSource.OTHER.value)
    result = lead_capture(data=data, actor=actor, source=source)
    if result.merged:
        result.lead._existing = True
    return result.lead


def duplicate_merge(*, lead: Lead, into: Lead, actor, source=ChangeSource.UI) -> Lead:
    """Fold the duplicate `lead` into `into`: activities move, empty fields fill, `lead` is disqualified."""
    if lead.pk == into.pk:
        raise ValidationFailed(errors=[(None, _("A lead cannot be merged into itself."))])
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationFailed(errors=[(None, _("A converted lead cannot be merged."))])
    with transaction.atomic():
        for activity in Activity.objects.filter(lead=lead).select_for_update():
            update_object(activity, actor=actor, source=source, data={"lead": into}, check_scope=False,
                          message=_("Moved from duplicate lead #%(pk)s") % {"pk": lead.pk})
        data = {name: getattr(lead, name) for name in FILLABLE}
        data["source"] = lead.source
        data["custom_fields"] = lead.custom_fields
        updates = _fill_empty(into, data)
        if "external_id" in updates:
            updates.pop("external_id")  # stays on the duplicate: the unique (source, external id) pair
        tags = set(into.tags.all()) | set(lead.tags.all())
        if tags != set(into.tags.all()):
            updates["tags"] = list(tags)
        lead_update(lead=into, actor=actor, source=source, **updates,
                    message=_("Merged duplicate lead #%(pk)s") % {"pk": lead.pk})
        lead_update(lead=lead, actor=actor, source=source, status=LeadStatus.DISQUALIFIED, duplicate_of=into,
                    message=_("Merged into lead #%(pk)s") % {"pk": into.pk})
    return into


def duplicate_dismiss(*, lead: Lead, actor, source=ChangeSource.UI) -> None:
    """Not a duplicate after all: clear the flag (audited)."""
    if lead.duplicate_of_id is None:
        return
    lead_update(lead=lead, actor=actor, source=source, duplicate_of=None,
                message=_("Duplicate flag dismissed"))



# --- Settings: de-duplication policies and intake forms (sales ops) ----------------------------------------


def _require_ops(actor):
    """Only sales ops (and superusers, and the system itself) configure capture."""
    if actor is None or actor.is_superuser or actor.has_role("ops"):
        return
    raise PermissionDenied(_("Only sales ops can configure lead capture."))


def _policy_data(data: dict) -> dict:
    """Service keywords → model fields (`lead_source` is the policy's source: `source` names the channel
    of the change, as everywhere)."""
    out = {k: v for k, v in data.items() if k in ("action", "fuzzy_threshold", "active")}
    if "lead_source" in data:
        out["source"] = data["lead_source"] or ""
    unknown = set(data) - {"action", "fuzzy_threshold", "active", "lead_source"}
    if unknown:
        raise ValidationFailed(errors=[(k, _("This cannot be changed here.")) for k in sorted(unknown)])
    threshold = out.get("fuzzy_threshold")
    if threshold is not None and not (isinstance(threshold, int) and 50 <= threshold <= 100):
        raise ValidationFailed(errors=[("fuzzy_threshold", _("The similarity threshold must be between 50 and "
                                                             "100."))])
    return out


def dedupe_policy_create(*, actor, source=ChangeSource.UI, lead_source: str = "", action=DedupePolicy.Action.FLAG,
                         fuzzy_threshold: int = 90, active: bool = True) -> DedupePolicy:
    _require_ops(actor)
    data = _policy_data({"lead_source": lead_source, "action": action, "fuzzy_threshold": fuzzy_threshold,
                         "active": active})
    return create_object(DedupePolicy, actor=actor, source=source, data=data, check_scope=False)


def dedupe_policy_update(*, policy: DedupePolicy, actor, source=ChangeSource.UI, **data) -> dict:
    _require_ops(actor)
    return update_object(policy, actor=actor, source=source, data=_policy_data(data), check_scope=False)


def dedupe_policy_delete(*, policy: DedupePolicy, actor, source=ChangeSource.UI) -> None:
    _require_ops(actor)
    delete_object(policy, actor=actor, source=source)


_FORM_FIELDS = ("key", "name", "active", "field_mapping", "default_source", "allowed_origins", "honeypot_field",
                "rate_limit_per_minute")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9\-._~\[\]:]+$")


def mapping_targets() -> list[tuple[str, str]]:
    """What a form field may fill: a lead field the intake knows, or an active lead custom field."""
    from baton.capture.intake import LEAD_FIELDS
    from baton.conditions.models import CustomField

    out = [(name, str(Lead._meta.get_field(name).verbose_name)) for name in LEAD_FIELDS]
    for key, label_zh, label_en in CustomField.objects.filter(target="lead", active=True).order_by(
            "position", "key").values_list("key", "label_zh", "label_en"):
        out.append((f"custom:{key}", f"{label_zh} / {label_en}"))
    return out


def _clean_form_data(data: dict) -> dict:
    unknown = set(data) - set(_FORM_FIELDS)
    if unknown:
        raise ValidationFailed(errors=[(k, _("This cannot be changed here.")) for k in sorted(unknown)])
    errors = []
    if "field_mapping" in data:
        mapping = data["field_mapping"]
        if not isinstance(mapping, dict):
            errors.append(("field_mapping", _("The field mapping must map form fields to lead fields.")))
        else:
            allowed = {t for t, _label in mapping_targets()}
            for form_field, target in mapping.items():
                if not str(form_field).strip() or len(str(form_field)) > 100:
                    errors.append(("field_mapping", _("A form field name must have 1 to 100 characters.")))
                elif target not in allowed:
                    errors.append(("field_mapping", _("“%(field)s”: unknown target “%(target)s” (a lead field or "
                                                      "an active custom field).") % {"field": form_field,
                                                                                     "target": target}))
    if "allowed_origins" in data:
        origins = data["allowed_origins"]
        if not isinstance(origins, list):
            errors.append(("allowed_origins", _("Allowed origins must be a list.")))
        else:
            data["allowed_origins"] = origins = [str(o).strip().rstrip("/") for o in origins if str(o).strip()]
            for origin in origins:
                if origin != "*" and not _ORIGIN.match(origin):
                    errors.append(("allowed_origins", _(
                        "“%(origin)s” is not an origin: write it like https://www.example.com (no path), or * "
                        "for any site.") % {"origin": origin}))
    if "rate_limit_per_minute" in data:
        limit = data["rate_limit_per_minute"]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            errors.append(("rate_limit_per_minute", _("The rate limit must be at least 1 submission a minute.")))
    if errors:
        raise ValidationFailed(errors=errors)
    return data


def intake_form_create(*, actor, source=ChangeSource.UI, key: str, name: str, active: bool = True,
                       field_mapping: dict | None = None, default_source: str = "web_form",
                       allowed_origins: list | None = None, honeypot_field: str = "website_url",
                       rate_limit_per_minute: int = 30) -> IntakeForm:
    _require_ops(actor)
    data = _clean_form_data({
        "key": key, "name": name, "active": active, "field_mapping": field_mapping or {},
        "default_source": default_source, "allowed_origins": allowed_origins or [],
        "honeypot_field": honeypot_field, "rate_limit_per_minute": rate_limit_per_minute})
    return create_object(IntakeForm, actor=actor, source=source, data=data, check_scope=False)


def intake_form_update(*, form: IntakeForm, actor, source=ChangeSource.UI, **data) -> dict:
    _require_ops(actor)
    return update_object(form, actor=actor, source=source, data=_clean_form_data(data), check_scope=False)


def intake_form_delete(*, form: IntakeForm, actor, source=ChangeSource.UI) -> None:
    """Delete a form with its stored submissions (the leads they created stay)."""
    _require_ops(actor)
    delete_object(form, actor=actor, source=source)
