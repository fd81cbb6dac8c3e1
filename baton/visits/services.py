"""Visit writes: start, add a photo, end (which runs the checks), re-check. Each is one transaction."""

from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from baton.activities.models import Activity
from baton.activities.services import activity_create
from baton.core import clock
from baton.core.errors import Conflict, ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import _ensure_in_scope, create_object, update_object
from baton.visits import checks, imaging
from baton.visits.models import PhotoKind, Visit, VisitPhoto
from baton.visits.selectors import visit_policy


def _not_in_future(field: str, value, skew_s: int):
    if value > clock.now() + timedelta(seconds=skew_s):
        raise ValidationFailed(errors=[(field, _("This time is in the future."))])


def _coords(lat, lng, accuracy, prefix=""):
    errors = []
    for name, value, low, high in (("lat", lat, -90, 90), ("lng", lng, -180, 180)):
        if value is None:
            errors.append((prefix + name, _("This field is required.")))
        elif not (low <= value <= high):  # NaN fails this too
            errors.append((prefix + name, _("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}))
    if accuracy is not None and not (accuracy >= 0):
        errors.append((prefix + "accuracy", _("Must be zero or more metres.")))
    if errors:
        raise ValidationFailed(errors=errors)


def visit_start(*, actor, source=ChangeSource.UI, account, lat, lng, device_id, accuracy=None, started_at=None,
                client_id=None) -> tuple[Visit, bool]:
    """Start a visit at `account` for `actor`. Returns (visit, created); a repeated client_id returns the
    first visit unchanged (an offline retry), or 409 when that id belongs to another rep's visit."""
    _coords(lat, lng, accuracy)
    policy = visit_policy()
    started_at = started_at or clock.now()
    _not_in_future("started_at", started_at, policy.clock_skew_seconds)
    if not (device_id or "").strip():
        raise ValidationFailed(errors=[("device_id", _("This field is required."))])
    with transaction.atomic():
        if client_id:
            existing = Visit.objects.filter(client_id=client_id).first()
            if existing is not None:
                if existing.rep_id != actor.pk:
                    raise Conflict(errors=[("client_id", _("This id is already used by another visit."))])
                return existing, False
        _ensure_in_scope(account, actor, "view")
        visit = create_object(Visit, actor=actor, source=source, data={
            "account": account, "rep": actor, "device_id": device_id.strip(), "started_at": started_at,
            "start_lat": lat, "start_lng": lng, "start_accuracy": accuracy, "client_id": client_id or None,
        })
    return visit, True


def _watermark_lines(visit: Visit, taken_at, lat, lng) -> list[str]:
    with translation.override(visit.rep.language or settings.LANGUAGE_CODE):
        when = timezone.localtime(taken_at).strftime("%Y-%m-%d %H:%M:%S %z")
        ns = pgettext("watermark", "N") if lat >= 0 else pgettext("watermark", "S")
        ew = pgettext("watermark", "E") if lng >= 0 else pgettext("watermark", "W")
        labels = (pgettext("watermark", "Time"), pgettext("watermark", "Location"),
                  pgettext("watermark", "Device"), pgettext("watermark", "Rep"))
        return [
            f"{labels[0]}: {when}",
            f"{labels[1]}: {ns} {abs(lat):.6f}°, {ew} {abs(lng):.6f}°",
            f"{labels[2]}: {visit.device_id}",
            f"{labels[3]}: {visit.rep}  ·  {visit.account}",
        ]


def visit_photo_add(*, actor, source=ChangeSource.UI, visit: Visit, kind: str, data: bytes,
                    lat=None, lng=None, client_id=None) -> tuple[VisitPhoto, bool]:
    """Add one photo: decode safely, read EXIF, hash, burn in the watermark, store the JPEG.

    The photo's position is the one sent with it, else its EXIF GPS, else the visit's start; its time is
    the EXIF DateTimeOriginal, else the upload time. The file is written before the row and deleted again
    if the row does not commit.
    """
    if client_id:
        existing = VisitPhoto.objects.filter(client_id=client_id, visit=visit).first()
        if existing is not None:
            return existing, False
    if kind not in PhotoKind.values:
        raise ValidationFailed(errors=[("kind", _("Select a valid choice. That choice is not one of the "
                                                  "available choices."))])
    if (lat is None) != (lng is None):
        raise ValidationFailed(errors=[("lat" if lat is None else "lng", _("Send both lat and lng, or neither."))])
    if lat is not None:
        _coords(lat, lng, None)
    _ensure_in_scope(visit, actor, "change")
    if visit.status != Visit.Status.OPEN:
        raise Conflict(errors=[("visit", _("The visit has ended; photos can no longer be added."))])
    decoded = imaging.decode(data)
    uploaded_at = clock.now()
    taken_at = decoded.exif_taken_at or uploaded_at
    if lat is None:
        lat, lng = ((decoded.exif_lat, decoded.exif_lng) if decoded.exif_lat is not None
                    else (visit.start_lat, visit.start_lng))
    marked = imaging.watermark(decoded.image, _watermark_lines(visit, taken_at, lat, lng))
    name = default_storage.save(
        VisitPhoto._meta.get_field("image").generate_filename(None, f"visit{visit.pk}-{kind}.jpg"),
        ContentFile(imaging.to_jpeg(marked)))
    try:
        with transaction.atomic():
            locked = Visit.objects.select_for_update().get(pk=visit.pk)
            if locked.status != Visit.Status.OPEN:
                raise Conflict(errors=[("visit", _("The visit has ended; photos can no longer be added."))])
            photo = create_object(VisitPhoto, actor=actor, source=source, data={
                "visit": visit, "kind": kind, "image": name, "width": marked.width, "height": marked.height,
                "original_sha256": decoded.sha256, "phash": imaging.dhash(decoded.image),
                "exif_taken_at": decoded.exif_taken_at, "exif_lat": decoded.exif_lat,
                "exif_lng": decoded.exif_lng, "taken_at": taken_at, "lat": lat, "lng": lng,
                "uploaded_at": uploaded_at, "client_id": client_id or None,
            })
    except BaseException:
        default_storage.delete(name)
        raise
    return photo, True


def _checked(visit: Visit, extra: dict | None = None) -> dict:
    """The fields to write after running the checks on `visit` as it would be with `extra` applied."""
    data = dict(extra or {})
    before = {key: getattr(visit, key) for key in data}
    for key, value in data.items():
        setattr(visit, key, value)
    try:
        reasons, details = checks.evaluate(visit, list(visit.photos.all()), visit_policy())
    finally:
        for key, value in before.items():
            setattr(visit, key, value)
    status = data.get("status", visit.status)
    data.update(valid=status == Visit.Status.ENDED and not reasons, invalid_reasons=reasons,
                reason_details=details, verdict=checks.verdict_for(status, reasons))
    return data


def visit_end(*, actor, source=ChangeSource.UI, visit: Visit, lat, lng, accuracy=None, ended_at=None) -> Visit:
    """End a visit and run every check; a valid visit is logged as a visit activity on the account."""
    _coords(lat, lng, accuracy)
    policy = visit_policy()
    ended_at = ended_at or clock.now()
    _not_in_future("ended_at", ended_at, policy.clock_skew_seconds)
    with transaction.atomic():
        _ensure_in_scope(visit, actor, "change")
        visit = Visit.objects.select_for_update().select_related("account", "rep").get(pk=visit.pk)
        if visit.status != Visit.Status.OPEN:
            raise Conflict(errors=[("visit", _("The visit has already ended."))])
        if ended_at < visit.started_at:
            raise ValidationFailed(errors=[("ended_at", _("The visit cannot end before it started."))])
        data = _checked(visit, {"status": Visit.Status.ENDED, "ended_at": ended_at, "end_lat": lat,
                                "end_lng": lng, "end_accuracy": accuracy})
        if data["valid"]:
            minutes = int((ended_at - visit.started_at).total_seconds() // 60)
            data["activity"] = activity_create(
                actor=actor, source=source, kind=Activity.Kind.VISIT, account=visit.account,
                occurred_at=visit.started_at, duration_minutes=minutes, outcome=Activity.Outcome.DONE,
                subject=_("Verified visit: %(account)s") % {"account": visit.account})
        update_object(visit, actor=actor, source=source, data=data)
    return visit


def visit_recheck(*, actor=None, source=ChangeSource.SYSTEM, visit: Visit) -> Visit:
    """Run the checks again on an ended visit (after a policy change); the verdict may change."""
    with transaction.atomic():
        visit = Visit.objects.select_for_update().select_related("account", "rep").get(pk=visit.pk)
        if visit.status == Visit.Status.ENDED:
            update_object(visit, actor=actor, source=source, data=_checked(visit), message="recheck")
    return visit

