from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Pipeline(models.Model):
    """An ordered list of stages, one per product line or business type."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["-is_default", "name"]

    def __str__(self):
        return self.name


class Stage(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE,
                                 related_name="stages")
    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OPEN)
    probability = models.PositiveSmallIntegerField(_("default probability (%)"), default=10,
                                                   validators=[MaxValueValidator(100)])
    color = models.CharField(_("colour"), max_length=20, default="blue")
    guidance = models.TextField(_("guidance"), blank=True)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "position"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name_per_pipeline"),
            models.UniqueConstraint(fields=["pipeline", "position"], name="stage_unique_position_per_pipeline"),
        ]

    def __str__(self):
        return self.name


class Opportunity(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey("accounts.Account", verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="opportunities")
    contact = models.ForeignKey("accounts.Contact", verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="opportunities")
    lead = models.ForeignKey("leads.Lead", verbose_name=_("lead"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="opportunities")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="opportunities")
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT,
                                 related_name="opportunities")
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities")
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=0,
                                 validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=10,
                                                   validators=[MaxValueValidator(100)])
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)
    stage_entered_at = models.DateTimeField(_("stage entered at"), default=clock.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    scope_owner_field = "owner"
    scope_region_field = "account__region"

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "status"]), models.Index(fields=["pipeline", "stage"])]

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.stage_id and self.pipeline_id and self.stage.pipeline_id != self.pipeline_id:
            raise ValidationError({"stage": _("This stage belongs to another pipeline.")})
        if self.status == self.Status.LOST and not self.lost_reason:
            raise ValidationError({"lost_reason": _("Say why the deal was lost.")})


class StageChange(models.Model):
    """The stage history of a deal as an event log: who moved it, when, from where to where, and dwell."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=clock.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    dwell_seconds = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")

    def __str__(self):
        return f"{self.from_stage or '—'} → {self.to_stage}"
