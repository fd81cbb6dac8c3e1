"""Verified visits: a rep's on-site visit to an account, checked against GPS, time and photo evidence.

Photos are stored in `VisitPhoto.image` (their own FileField under media/visits/, not a core Attachment):
the file is the watermarked JPEG; the original upload is not kept, only its SHA-256 and perceptual hash,
which is all the re-use check needs.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class PhotoKind(models.TextChoices):
    STOREFRONT = "storefront", _("Storefront")
    MEETING_TABLE = "meeting_table", _("Meeting table")
    SIGNATURE_PAGE = "signature_page", _("Signature page")


def _default_required_kinds():
    return list(PhotoKind.values)


class VisitPolicy(models.Model):
    """The company's visit rules (one row; `selectors.visit_policy()` creates it with the defaults)."""

    radius_m = models.PositiveIntegerField(_("radius (m)"), default=500, validators=[MinValueValidator(1)])
    min_minutes = models.PositiveIntegerField(_("minimum duration (minutes)"), default=25)
    required_photo_kinds = models.JSONField(_("required photo kinds"), default=_default_required_kinds, blank=True)
    # Hamming distance between two 64-bit difference hashes at or below which two photos are "the same".
    phash_max_distance = models.PositiveSmallIntegerField(
        _("perceptual hash distance threshold"), default=6, validators=[MaxValueValidator(64)])
    # A phone's clock and the server's disagree a little: photo times this far outside the visit still count.
    clock_skew_seconds = models.PositiveIntegerField(_("clock skew tolerance (s)"), default=120)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("visit policy")
        verbose_name_plural = _("visit policies")

    def __str__(self):
        return str(_("Visit policy"))


class Reason(models.TextChoices):
    TOO_FAR = "too_far", _("Too far from the account")
    TOO_SHORT = "too_short", _("Too short")
    MISSING_PHOTOS = "missing_photos", _("Photos missing")
    PHOTO_TIME_OUTSIDE = "photo_time_outside", _("Photo taken outside the visit")
    PHOTO_REUSED = "photo_reused", _("Photo re-used")
    NO_ACCOUNT_LOCATION = "no_account_location", _("Account has no location")


# Failures that point to a faked visit rather than a sloppy one: such a visit counts as "suspicious".
SUSPICIOUS_REASONS = frozenset({Reason.PHOTO_REUSED, Reason.PHOTO_TIME_OUTSIDE})


class Verdict(models.TextChoices):
    """What a manager sees: valid, invalid, or suspicious (invalid with a sign of faking); open until ended."""

    OPEN = "open", _("In progress")
    VALID = "valid", _("Valid")
    INVALID = "invalid", _("Invalid")
    SUSPICIOUS = "suspicious", _("Suspicious")


class Visit(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("In progress")
        ENDED = "ended", _("Ended")

    account = models.ForeignKey("accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT,
                                related_name="visits")
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("rep"), on_delete=models.PROTECT,
                            related_name="visits")
    device_id = models.CharField(_("device id"), max_length=100)
    started_at = models.DateTimeField(_("started at"), db_index=True)
    start_lat = models.FloatField(_("start latitude"), validators=[MinValueValidator(-90), MaxValueValidator(90)])
    start_lng = models.FloatField(_("start longitude"),
                                  validators=[MinValueValidator(-180), MaxValueValidator(180)])
    start_accuracy = models.FloatField(_("start accuracy (m)"), null=True, blank=True,
                                       validators=[MinValueValidator(0)])
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_lat = models.FloatField(_("end latitude"), null=True, blank=True,
                                validators=[MinValueValidator(-90), MaxValueValidator(90)])
    end_lng = models.FloatField(_("end longitude"), null=True, blank=True,
                                validators=[MinValueValidator(-180), MaxValueValidator(180)])
    end_accuracy = models.FloatField(_("end accuracy (m)"), null=True, blank=True,
                                     validators=[MinValueValidator(0)])
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    valid = models.BooleanField(_("valid"), default=False)
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices, default=Verdict.OPEN,
                               db_index=True)
    # Reason codes (`Reason`), and per code the figures its message shows (distance, minutes, kinds ...).
    invalid_reasons = models.JSONField(_("invalid reasons"), default=list, blank=True)
    reason_details = models.JSONField(default=dict, blank=True)
    # Generated by the phone so an offline retry of the same "start" is recognised (dedupe).
    client_id = models.CharField(_("client id"), max_length=64, null=True, blank=True, unique=True)
    activity = models.OneToOneField("activities.Activity", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="visit")
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    scope_owner_field = "rep"
    scope_region_field = "account__region"

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["rep", "started_at"])]

    def __str__(self):
        return f"{self.account} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_minutes(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds() / 60


class VisitPhoto(models.Model):
    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="photos")
    kind = models.CharField(_("kind"), max_length=20, choices=PhotoKind.choices)
    image = models.FileField(_("watermarked photo"), upload_to="visits/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    original_sha256 = models.CharField(max_length=64, db_index=True)
    phash = models.CharField(_("perceptual hash"), max_length=16, db_index=True)
    exif_taken_at = models.DateTimeField(_("EXIF time"), null=True, blank=True)
    exif_lat = models.FloatField(null=True, blank=True)
    exif_lng = models.FloatField(null=True, blank=True)
    # The time the checks use: the EXIF time when the photo has one, else the upload time.
    taken_at = models.DateTimeField(_("taken at"))
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), default=clock.now)
    client_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    scope_owner_field = "visit__rep"
    scope_region_field = "visit__account__region"

    class Meta:
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"
