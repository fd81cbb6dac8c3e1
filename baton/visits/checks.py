"""The visit checks as pure functions: distance, duration, photos present, photo times, photo re-use.

`evaluate()` reads the visit, its photos, the policy and (for re-use) the hashes of earlier visits' photos,
and returns the failed checks as reason codes plus the figures each message shows. Messages are rendered
at read time (`reason_message`) so each viewer reads them in their own language.
"""

import math
from datetime import timedelta

from django.utils import formats
from django.utils.translation import gettext as _

from baton.visits.imaging import hamming
from baton.visits.models import SUSPICIOUS_REASONS, PhotoKind, Reason, Verdict, Visit, VisitPhoto, VisitPolicy

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
# Floating-point slack for the geofence: a point exactly on the circle counts as inside.
BOUNDARY_EPSILON_M = 1e-6


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def within(distance_m: float, radius_m: float) -> bool:
    return distance_m <= radius_m + BOUNDARY_EPSILON_M


def _reused(photo: VisitPhoto, earlier: list[tuple[str, str, int]], max_distance: int) -> int | None:
    """The id of the visit whose photo `photo` repeats (same bytes or near-identical hash), else None."""
    for sha, phash, visit_id in earlier:
        if sha == photo.original_sha256 or hamming(phash, photo.phash) <= max_distance:
            return visit_id
    return None


def earlier_photo_hashes(visit: Visit) -> list[tuple[str, str, int]]:
    """(sha256, phash, visit id) of every photo of a visit started before `visit`, by anyone.

    Compared in Python: 64-bit Hamming distances over all earlier photos (~1 µs each); a very large install
    would add a BK-tree or prefix buckets here.
    """
    from django.db.models import Q

    qs = VisitPhoto.objects.filter(
        Q(visit__started_at__lt=visit.started_at) | Q(visit__started_at=visit.started_at, visit_id__lt=visit.pk)
    ).exclude(visit=visit)
    return list(qs.values_list("original_sha256", "phash", "visit_id"))


def evaluate(visit: Visit, photos: list[VisitPhoto], policy: VisitPolicy,
             earlier: list[tuple[str, str, int]] | None = None) -> tuple[list[str], dict]:
    reasons: list[str] = []
    details: dict = {}
    account = visit.account

    if account.lat is None or account.lng is None:
        reasons.append(Reason.NO_ACCOUNT_LOCATION)
    else:
        points = {"start": (visit.start_lat, visit.start_lng), "end": (visit.end_lat, visit.end_lng)}
        far = {}
        for label, (lat, lng) in points.items():
            if lat is None or lng is None:
                continue
            d = haversine_m(account.lat, account.lng, lat, lng)
            details.setdefault("distance_m", {})[label] = round(d, 1)
            if not within(d, policy.radius_m):
                far[label] = round(d)
        if far:
            reasons.append(Reason.TOO_FAR)
            details[Reason.TOO_FAR] = {"far": far, "radius_m": policy.radius_m}

    if visit.ended_at is not None:
        minutes = (visit.ended_at - visit.started_at).total_seconds() / 60
        if minutes < policy.min_minutes:
            reasons.append(Reason.TOO_SHORT)
            details[Reason.TOO_SHORT] = {"minutes": math.floor(minutes * 10) / 10, "min": policy.min_minutes}

    present = {p.kind for p in photos}
    missing = [k for k in policy.required_photo_kinds if k not in present]
    if missing:
        reasons.append(Reason.MISSING_PHOTOS)
        details[Reason.MISSING_PHOTOS] = {"kinds": missing}

    skew = timedelta(seconds=policy.clock_skew_seconds)
    end = visit.ended_at or visit.started_at
    outside = [p.pk for p in photos if not (visit.started_at - skew <= p.taken_at <= end + skew)]
    if outside and visit.ended_at is not None:
        reasons.append(Reason.PHOTO_TIME_OUTSIDE)
        details[Reason.PHOTO_TIME_OUTSIDE] = {"photos": outside, "skew_s": policy.clock_skew_seconds}

    earlier = earlier_photo_hashes(visit) if earlier is None else earlier
    reused = {}
    for p in photos:
        other = _reused(p, earlier, policy.phash_max_distance)
        if other is not None:
            reused[str(p.pk)] = other
    if reused:
        reasons.append(Reason.PHOTO_REUSED)
        details[Reason.PHOTO_REUSED] = {"photos": reused}
    return [str(r) for r in reasons], details


def verdict_for(status: str, reasons: list[str]) -> str:
    if status != Visit.Status.ENDED:
        return Verdict.OPEN
    if not reasons:
        return Verdict.VALID
    return Verdict.SUSPICIOUS if SUSPICIOUS_REASONS & set(reasons) else Verdict.INVALID


def reason_message(code: str, details: dict) -> str:
    """A sentence for one failed check, in the active language."""
    d = details.get(code, {})
    if code == Reason.TOO_FAR:
        labels = {"start": _("start"), "end": _("end")}
        parts = ", ".join(f"{labels[k]} {v} m" for k, v in d.get("far", {}).items())
        return _("Too far from the account: %(parts)s (allowed: %(radius)s m).") % {
            "parts": parts, "radius": d.get("radius_m")}
    if code == Reason.TOO_SHORT:
        return _("The visit lasted %(minutes)s minutes; at least %(min)s are required.") % {
            "minutes": formats.number_format(d.get("minutes", 0), 1), "min": d.get("min")}
    if code == Reason.MISSING_PHOTOS:
        kinds = ", ".join(str(PhotoKind(k).label) if k in PhotoKind.values else k for k in d.get("kinds", []))
        return _("Photos missing: %(kinds)s.") % {"kinds": kinds}
    if code == Reason.PHOTO_TIME_OUTSIDE:
        return _("%(n)s photo(s) were taken outside the visit time (tolerance %(skew)s s).") % {
            "n": len(d.get("photos", [])), "skew": d.get("skew_s")}
    if code == Reason.PHOTO_REUSED:
        visits = sorted(set(d.get("photos", {}).values()))
        return _("%(n)s photo(s) repeat a photo of an earlier visit (visit %(visits)s).") % {
            "n": len(d.get("photos", {})), "visits": ", ".join(f"#{v}" for v in visits)}
    if code == Reason.NO_ACCOUNT_LOCATION:
        return _("The account has no location on record, so the distance could not be checked.")
    return str(code)
