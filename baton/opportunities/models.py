from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


def _attachment_kinds():
    from baton.core.models import Attachment

    return Attachment.Kind.choices


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


class StageRequirement(models.Model):
    """One entry condition of a stage: a deal moving forward into (or past) the stage must meet it."""

    class Kind(models.TextChoices):
        FIELD = "field", _("Required field")
        EVIDENCE = "evidence", _("Required evidence")
        CHECKLIST = "checklist", _("Checklist action")
        DECISION_CONTACTS = "decision_contacts", _("Contacts with a decision role")

    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.CASCADE, related_name="requirements")
    code = models.SlugField(_("code"), max_length=60)
    label = models.CharField(_("label"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    field_name = models.CharField(_("field"), max_length=60, blank=True,
                                  help_text=_("For a required field: the deal's field that must have a value."))
    attachment_kind = models.CharField(_("attachment kind"), max_length=30, blank=True,
                                       choices=[("", "—")] + list(_attachment_kinds()))
    min_count = models.PositiveSmallIntegerField(_("minimum count"), default=1)
    condition = models.JSONField(_("applies when"), null=True, blank=True,
                                 help_text=_("A condition on the deal (condition language); empty: always."))
    skippable = models.BooleanField(_("may be skipped with a reason"), default=False)
    guidance = models.TextField(_("guidance"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("stage requirement")
        verbose_name_plural = _("stage requirements")
        ordering = ["stage__position", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["stage", "code"], name="stage_requirement_unique_code")]

    def __str__(self):
        return self.label

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind == self.Kind.FIELD:
            names = {f.name for f in Opportunity._meta.get_fields() if f.concrete and not f.many_to_many}
            if self.field_name not in names:
                errors["field_name"] = _("Name a field of the deal.")
        if self.kind == self.Kind.EVIDENCE and not self.attachment_kind:
            errors["attachment_kind"] = _("Choose the kind of attachment required.")
        if self.condition:
            from baton.conditions.compiler import validate

            problems = validate("opportunities.opportunity", self.condition)
            if problems:
                errors["condition"] = "; ".join(f"{p}: {m}" if p else m for p, m in problems)
        if errors:
            raise ValidationError(errors)


class ChecklistItem(models.Model):
    """A checklist requirement ticked for one deal."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="checklist_items")
    requirement = models.ForeignKey(StageRequirement, on_delete=models.CASCADE, related_name="+")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    done_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        constraints = [models.UniqueConstraint(fields=["opportunity", "requirement"],
                                               name="checklist_item_unique")]

    def __str__(self):
        return str(self.requirement)


class StageEvidence(models.Model):
    """An attachment uploaded as evidence for one requirement of one deal."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="evidence")
    requirement = models.ForeignKey(StageRequirement, on_delete=models.CASCADE, related_name="+")
    attachment = models.ForeignKey("core.Attachment", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("stage evidence")
        verbose_name_plural = _("stage evidence")

    def __str__(self):
        return str(self.attachment)


class StageSkipReview(models.Model):
    """A move past unmet skippable requirements, waiting for the manager's second review."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected back")

    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE,
                                    related_name="skip_reviews")
    from_stage = models.ForeignKey(Stage, verbose_name=_("from stage"), on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, verbose_name=_("to stage"), on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    skipped = models.JSONField(_("skipped requirements"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(_("requested at"), default=clock.now)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reviewer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)
    task = models.ForeignKey("activities.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    scope_owner_field = "opportunity__owner"
    scope_region_field = "opportunity__account__region"

    class Meta:
        verbose_name = _("skip review")
        verbose_name_plural = _("skip reviews")
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.opportunity} · {self.from_stage} → {self.to_stage}"
