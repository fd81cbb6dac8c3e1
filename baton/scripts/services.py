"""Script-pack writes, the fast activity log (activity + next-step task + script uses in one go), and the
shipped default packs."""

from datetime import date, datetime, time

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from baton.activities.models import Activity, Task
from baton.activities.services import activity_create, task_create
from baton.core import clock
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import create_object, delete_object, update_object
from baton.scripts.defaults import DEFAULT_PACKS
from baton.scripts.models import Script, ScriptPack, ScriptUse

# Outcomes a call needs (other kinds may leave it empty).
CALL_OUTCOMES = ("connected", "no_answer", "busy", "wrong_number")
NEXT_STEP_HOUR = 9  # a next step "on a date" is due at 09:00 local time that day


def _require_ops(actor):
    """Only sales ops (and superusers, and the system itself) write script packs."""
    if actor is None or actor.is_superuser or actor.has_role("ops"):
        return
    raise PermissionDenied(_("Only sales ops can manage script packs."))


_PACK_FIELDS = {"name", "scenario", "description", "active"}
_SCRIPT_FIELDS = {"title", "body", "position"}


def _only(data: dict, allowed: set) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(errors=[(k, _("This cannot be changed here.")) for k in sorted(unknown)])


def pack_create(*, actor, source=ChangeSource.UI, **data) -> ScriptPack:
    _require_ops(actor)
    _only(data, _PACK_FIELDS)
    return create_object(ScriptPack, actor=actor, source=source, data=data, check_scope=False)


def pack_update(*, pack: ScriptPack, actor, source=ChangeSource.UI, **data) -> dict:
    """Rename, re-describe, or (de)activate a pack: an inactive pack is hidden from reps, its usage kept."""
    _require_ops(actor)
    _only(data, _PACK_FIELDS)
    return update_object(pack, actor=actor, source=source, data=data, check_scope=False)


def script_create(*, actor, source=ChangeSource.UI, pack: ScriptPack, **data) -> Script:
    """A new script, last in its pack unless a position is given."""
    _require_ops(actor)
    _only(data, _SCRIPT_FIELDS)
    if data.get("position") is None:
        last = pack.scripts.order_by("-position").values_list("position", flat=True).first()
        data["position"] = 0 if last is None else last + 1
    return create_object(Script, actor=actor, source=source, data={"pack": pack, **data}, check_scope=False)


def script_update(*, script: Script, actor, source=ChangeSource.UI, **data) -> dict:
    _require_ops(actor)
    _only(data, _SCRIPT_FIELDS)
    return update_object(script, actor=actor, source=source, data=data, check_scope=False)


def scripts_reorder(*, pack: ScriptPack, actor, script_ids, source=ChangeSource.UI) -> list[int]:
    """Put the pack's scripts in the order of `script_ids` (every script of the pack, once). Audited on each
    script whose position changes. Returns the ids in their new order."""
    _require_ops(actor)
    ids = [int(i) for i in script_ids]
    with transaction.atomic():
        current = {s.pk: s for s in pack.scripts.select_for_update()}
        if len(ids) != len(set(ids)) or set(ids) != set(current):
            raise ValidationFailed(errors=[("script_ids", _("List every script of the pack exactly once."))])
        for position, pk in enumerate(ids):
            script = current[pk]
            if script.position != position:
                update_object(script, actor=actor, source=source, data={"position": position}, check_scope=False,
                              message=_("Reordered"))
    return ids


def script_delete(*, script: Script, actor, source=ChangeSource.UI) -> None:
    """Delete a script and its usage counts (prefer deactivating the pack to keep the figures)."""
    _require_ops(actor)
    delete_object(script, actor=actor, source=source)


def scripts_install_defaults() -> int:
    """Create the shipped packs that are missing (found by key); returns how many packs were created."""
    created = 0
    with transaction.atomic():
        for spec in DEFAULT_PACKS:
            if ScriptPack.objects.filter(builtin_key=spec["key"]).exists():
                continue
            pack = ScriptPack.objects.create(builtin_key=spec["key"], name=spec["name"], scenario=spec["scenario"],
                                             description=spec["description"])
            Script.objects.bulk_create([Script(pack=pack, title=t, body=b, position=i)
                                        for i, (t, b) in enumerate(spec["scripts"])])
            created += 1
    return created


def _due(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(NEXT_STEP_HOUR)), timezone.get_default_timezone())


def quick_log(*, actor, source=ChangeSource.UI, kind: str, outcome: str = "", note: str = "", lead=None,
              account=None, opportunity=None, next_step_date: date | None = None, next_step: str = "",
              script_ids=(), client_id: str | None = None, occurred_at=None) -> tuple[Activity, Task | None, bool]:
    """Log one activity in seconds. Required: kind, one linked record, and an outcome for a call. A next step
    with a date becomes a task due that day; scripts inserted into the note are counted as used.

    Returns (activity, task, created); a repeated client_id returns the first activity and writes nothing.
    """
    errors = []
    if kind not in Activity.Kind.values:
        errors.append(("kind", _("Select a valid choice. That choice is not one of the available choices.")))
    if outcome and outcome not in Activity.Outcome.values:
        errors.append(("outcome", _("Select a valid choice. That choice is not one of the available choices.")))
    if kind == Activity.Kind.CALL and not outcome:
        errors.append(("outcome", _("A call needs an outcome.")))
    if outcome == Activity.Outcome.CONNECTED and not (note or "").strip():
        errors.append(("note", _("Write a line about the conversation.")))
    if not (lead or account or opportunity):
        errors.append(("record", _("Link the activity to a lead, an account or an opportunity.")))
    if next_step_date is not None and next_step_date < timezone.localdate(clock.now()):
        errors.append(("next_step_date", _("The next step cannot be in the past.")))
    if next_step and next_step_date is None:
        errors.append(("next_step_date", _("Give the next step a date.")))
    if errors:
        raise ValidationFailed(errors=errors)
    if client_id:
        existing = Activity.objects.filter(client_id=client_id, author=actor).first()
        if existing is not None:
            return existing, None, False
    scripts = list(Script.objects.filter(pk__in=[int(i) for i in script_ids or () if str(i).isdigit()]))
    record = opportunity or lead or account
    try:
        with transaction.atomic():
            data = {"kind": kind, "outcome": outcome, "note": note or "", "lead": lead, "account": account,
                    "opportunity": opportunity, "client_id": client_id or None}
            if occurred_at is not None:
                data["occurred_at"] = occurred_at
            activity = activity_create(actor=actor, source=source, **data)
            task = None
            if next_step_date is not None:
                task = task_create(
                    actor=actor, source=source,
                    title=next_step or _("Follow up: %(record)s") % {"record": record},
                    due_at=_due(next_step_date), linked_type=ContentType.objects.get_for_model(record),
                    linked_id=record.pk, description=note or "")
            ScriptUse.objects.bulk_create([
                ScriptUse(script=s, rep=actor, activity=activity, outcome=outcome, at=activity.occurred_at)
                for s in scripts])
    except IntegrityError:
        # The same client_id sent twice at once: the other request won; answer its activity.
        existing = Activity.objects.filter(client_id=client_id).first() if client_id else None
        if existing is None:
            raise
        return existing, None, False
    return activity, task, True
