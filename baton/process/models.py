"""Required actions (the "golden six nodes"), their alerts, dwell rules and the risk-strategy library."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from baton.core import clock

EVENTS = ("purchase_intent", "competitor_named", "risk_signal")
STAGE_EVENTS = ("stage_entered", "before_stage")
REQUIREMENT_TYPES = ("evidence", "text_or_audio", "form", "match", "decision_contacts", "risk_strategy")


def label_of(label) -> str:
    """A bilingual label ({"zh-hans": .., "en": ..} or a plain string) in the active language."""
    if isinstance(label, dict):
        lang = (translation.get_language() or "zh-hans").lower()
        key = "en" if lang.startswith("en") else "zh-hans"
        return label.get(key) or label.get("zh-hans") or label.get("en") or ""
    return str(label or "")


class ActionTemplate(models.Model):
    """A required action: when it is triggered, what completes it, and by when."""

    class TriggerKind(models.TextChoices):
        EVENT = "event", _("Event")
        CONDITION = "condition", _("Condition")

    class DeadlineUnit(models.TextChoices):
        HOURS = "hours", _("Hours")
        BUSINESS_DAYS = "business_days", _("Business days")

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    trigger_kind = models.CharField(_("trigger"), max_length=10, choices=TriggerKind.choices,
                                    default=TriggerKind.EVENT)
    # purchase_intent | competitor_named | risk_signal | stage_entered:<stage> | before_stage:<stage>
    trigger_event = models.CharField(_("trigger event"), max_length=120, blank=True)
    trigger_condition = models.JSONField(_("trigger condition"), null=True, blank=True,
                                         help_text=_("For a condition trigger: a condition on the deal."))
    # [{"type": "evidence", "kind": "signed_pdf", "min": 1, "label": {...}}, {"type": "form", "fields": [...]},
    #  {"type": "text_or_audio", "field": "summary", "max_chars": 500}, {"type": "match", "min_pct": 90, ...},
    #  {"type": "decision_contacts", "min": 3, "roles": [...]}, {"type": "risk_strategy"}]
    requirements = models.JSONField(_("completion requirements"), default=list, blank=True)
    deadline_value = models.PositiveIntegerField(_("deadline"), default=24,
                                                 help_text=_("0 hours: due immediately."))
    deadline_unit = models.CharField(_("deadline unit"), max_length=20, choices=DeadlineUnit.choices,
                                     default=DeadlineUnit.HOURS)
    warning_pct = models.PositiveSmallIntegerField(_("warn at (%)"), default=75,
                                                   validators=[MinValueValidator(1)])
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("required action template")
        verbose_name_plural = _("required action templates")
        ordering = ["position", "code"]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return label_of({"zh-hans": self.name_zh, "en": self.name_en})

    def event_parts(self) -> tuple[str, str]:
        kind, _sep, arg = (self.trigger_event or "").partition(":")
        return kind, arg

    def clean(self):
        errors = {}
        if self.trigger_kind == self.TriggerKind.EVENT:
            kind, arg = self.event_parts()
            if kind not in EVENTS + STAGE_EVENTS or (kind in STAGE_EVENTS) != bool(arg):
                errors["trigger_event"] = _("Use purchase_intent, competitor_named, risk_signal, "
                                            "stage_entered:<stage> or before_stage:<stage>.")
        else:
            from baton.conditions.compiler import validate

            problems = validate("opportunities.opportunity", self.trigger_condition or {}) \
                if self.trigger_condition else [("", _("A condition trigger needs a condition."))]
            if problems:
                errors["trigger_condition"] = "; ".join(f"{p}: {m}" if p else m for p, m in problems)
        reqs = self.requirements if isinstance(self.requirements, list) else None
        if reqs is None or not all(isinstance(r, dict) and r.get("type") in REQUIREMENT_TYPES for r in reqs):
            errors["requirements"] = _("Each requirement needs a known type: %(t)s.") % {
                "t": ", ".join(REQUIREMENT_TYPES)}
        if errors:
            raise ValidationError(errors)


class RiskStrategy(models.Model):
    """The configurable library of risk types and their response strategies."""

    risk_type = models.SlugField(_("risk type"), max_length=50)
    risk_label = models.CharField(_("risk"), max_length=100)
    signals = models.CharField(_("signal words"), max_length=300, blank=True,
                               help_text=_("Comma-separated words that name this risk in a signal."))
    strategy = models.CharField(_("response strategy"), max_length=300)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("risk strategy")
        verbose_name_plural = _("risk strategies")
        ordering = ["risk_type", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["risk_type", "strategy"], name="risk_strategy_unique")]

    def __str__(self):
        return f"{self.risk_label}: {self.strategy}"


class RequiredAction(models.Model):
    """One dated obligation on one deal, raised by a template's trigger."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        OVERDUE = "overdue", _("Overdue")
        WAIVED = "waived", _("Waived")

    opportunity = models.ForeignKey("opportunities.Opportunity", verbose_name=_("opportunity"),
                                    on_delete=models.CASCADE, related_name="required_actions")
    template = models.ForeignKey(ActionTemplate, verbose_name=_("action"), on_delete=models.PROTECT,
                                 related_name="actions")
    template_version = models.PositiveIntegerField(default=1)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="required_actions")
    trigger = models.CharField(_("trigger"), max_length=120, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True)
    triggered_at = models.DateTimeField(_("triggered at"), default=clock.now)
    warn_at = models.DateTimeField(_("warn at"))
    due_at = models.DateTimeField(_("due at"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_on_time = models.BooleanField(_("completed on time"), null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    form_data = models.JSONField(_("form"), default=dict, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    evidence = models.ManyToManyField("core.Attachment", verbose_name=_("evidence"), blank=True,
                                      related_name="+")
    waive_reason = models.CharField(_("waive reason"), max_length=300, blank=True)

    scope_owner_field = "owner"
    scope_region_field = "opportunity__account__region"

    class Meta:
        verbose_name = _("required action")
        verbose_name_plural = _("required actions")
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["opportunity", "template", "dedupe_key"],
                                               name="required_action_once")]
        indexes = [models.Index(fields=["owner", "due_at"]), models.Index(fields=["status", "due_at"])]

    def __str__(self):
        return f"{self.template} · {self.opportunity}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.OVERDUE)


class ActionAlert(models.Model):
    """An action crossed a level (warning, overdue) once; the scan that inserted the row fires it."""

    action = models.ForeignKey(RequiredAction, on_delete=models.CASCADE, related_name="alerts")
    level = models.CharField(max_length=20)
    crossed_at = models.DateTimeField()
    scan_token = models.CharField(max_length=32, db_index=True)
    owner_id_at_crossing = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("required action alert")
        verbose_name_plural = _("required action alerts")
        constraints = [models.UniqueConstraint(fields=["action", "level"], name="action_alert_once")]

    def __str__(self):
        return f"{self.action_id} {self.level}"


class StageDwellRule(models.Model):
    """A stage's maximum dwell in business days, the handbook the rep gets when a deal stays longer."""

    stage = models.OneToOneField("opportunities.Stage", verbose_name=_("stage"), on_delete=models.CASCADE,
                                 related_name="dwell_rule")
    max_business_days = models.PositiveSmallIntegerField(_("maximum dwell (business days)"),
                                                         validators=[MinValueValidator(1)])
    handbook_url = models.URLField(_("handbook link"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("stage dwell rule")
        verbose_name_plural = _("stage dwell rules")

    def __str__(self):
        return f"{self.stage} > {self.max_business_days}"


class DwellAlert(models.Model):
    """A deal stayed in a stage longer than its rule allows: once per deal × stage entry."""

    opportunity = models.ForeignKey("opportunities.Opportunity", on_delete=models.CASCADE,
                                    related_name="dwell_alerts")
    stage = models.ForeignKey("opportunities.Stage", on_delete=models.CASCADE, related_name="+")
    stage_entered_at = models.DateTimeField()
    due_at = models.DateTimeField()
    crossed_at = models.DateTimeField()
    owner_id_at_crossing = models.BigIntegerField(null=True, blank=True)
    scan_token = models.CharField(max_length=32, db_index=True)
    task = models.ForeignKey("activities.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("dwell alert")
        verbose_name_plural = _("dwell alerts")
        constraints = [models.UniqueConstraint(fields=["opportunity", "stage", "stage_entered_at"],
                                               name="dwell_alert_once")]

    def __str__(self):
        return f"{self.opportunity_id} {self.stage_id} {self.stage_entered_at:%Y-%m-%d}"
