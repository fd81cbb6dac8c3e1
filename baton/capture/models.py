from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock
from baton.leads.models import LeadSource


class DedupePolicy(models.Model):
    """What lead capture does with a duplicate from one source: merge into the existing lead or flag it.

    The row with an empty `source` is the default for sources without their own active policy. Without any
    active policy capture flags duplicates (never loses a lead) with the default fuzzy threshold.
    """

    class Action(models.TextChoices):
        MERGE = "merge", _("Merge into the existing lead")
        FLAG = "flag", _("Create and flag for review")

    source = models.CharField(_("source"), max_length=30, choices=LeadSource.choices, blank=True, unique=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices, default=Action.FLAG)
    fuzzy_threshold = models.PositiveSmallIntegerField(
        _("company name similarity threshold"), default=90,
        validators=[MinValueValidator(50), MaxValueValidator(100)],
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("de-duplication policy")
        verbose_name_plural = _("de-duplication policies")
        ordering = ["source"]

    def __str__(self):
        return f"{self.get_source_display() or _('Default')}: {self.get_action_display()}"


class IdempotencyKey(models.Model):
    """The first successful answer to a request carrying an `Idempotency-Key` header, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self):
        return f"{self.key} ({self.method} {self.path})"


class IntakeForm(models.Model):
    """A public web form posting leads to /api/intake/<key>."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)
    # {"form field": "lead field"} or {"form field": "custom:<custom field key>"}
    field_mapping = models.JSONField(_("field mapping"), default=dict, blank=True)
    default_source = models.CharField(_("default source"), max_length=30, choices=LeadSource.choices,
                                      default=LeadSource.WEB_FORM)
    # Exact origins ("https://www.example.com") browsers may post from; "*" allows any origin.
    allowed_origins = models.JSONField(_("allowed origins"), default=list, blank=True)
    honeypot_field = models.CharField(_("honeypot field"), max_length=50, blank=True, default="website_url")
    rate_limit_per_minute = models.PositiveIntegerField(_("submissions per minute per IP"), default=30)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("intake form")
        verbose_name_plural = _("intake forms")
        ordering = ["name"]

    def __str__(self):
        return self.name


class IntakeSubmission(models.Model):
    """A raw form submission, stored before any processing so an accepted one is never lost."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        SPAM = "spam", _("Spam (honeypot filled)")

    form = models.ForeignKey(IntakeForm, on_delete=models.CASCADE, related_name="submissions")
    payload = models.JSONField(default=dict)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    referrer = models.CharField(max_length=1000, blank=True)
    received_at = models.DateTimeField(default=clock.now, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    lead = models.ForeignKey("leads.Lead", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="intake_submissions")

    class Meta:
        verbose_name = _("intake submission")
        verbose_name_plural = _("intake submissions")
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.form} #{self.pk}"


class IntakeRateCounter(models.Model):
    """Submissions per (form, IP, minute); a table so the limit holds across gunicorn workers."""

    form = models.ForeignKey(IntakeForm, on_delete=models.CASCADE, related_name="+")
    ip = models.CharField(max_length=45)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form", "ip", "window_start"], name="intake_rate_unique_window")
        ]

    def __str__(self):
        return f"{self.ip} @ {self.window_start:%H:%M}: {self.count}"
