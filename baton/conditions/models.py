from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock

KEY_RE = r"^[a-z][a-z0-9_]{0,39}$"


class CustomField(models.Model):
    """A field an admin adds to leads, accounts or opportunities without a migration.

    Values live in the target's `custom_fields` JSON under `key`, stored so that both SQLite and PostgreSQL
    compare them the same way (see `baton.conditions.values`):
    text/choice → JSON string; number → JSON integer; decimal → JSON number (int or float);
    date → "YYYY-MM-DD"; datetime → "YYYY-MM-DDTHH:MM:SSZ" (UTC, so text order is time order);
    bool → JSON true/false; multi_choice → JSON list of strings. Empty values are not stored at all.
    """

    class Target(models.TextChoices):
        LEAD = "lead", _("Lead")
        ACCOUNT = "account", _("Account")
        OPPORTUNITY = "opportunity", _("Opportunity")

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Whole number")
        DECIMAL = "decimal", _("Decimal number")
        DATE = "date", _("Date")
        DATETIME = "datetime", _("Date and time")
        BOOL = "bool", _("Yes / no")
        CHOICE = "choice", _("Choice")
        MULTI_CHOICE = "multi_choice", _("Multiple choice")

    target = models.CharField(_("record type"), max_length=20, choices=Target.choices)
    key = models.CharField(
        _("key"), max_length=40,
        validators=[RegexValidator(KEY_RE, _("Use lower-case letters, digits and _ and start with a letter."))],
    )
    label_zh = models.CharField(_("label (Chinese)"), max_length=80)
    label_en = models.CharField(_("label (English)"), max_length=80)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    # [{"value": "...", "label_zh": "...", "label_en": "..."}]; only for choice and multi_choice.
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["target", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "key"], name="customfield_unique_key_per_target",
                                    violation_error_message=_("This key is already used for this record type.")),
        ]

    def __str__(self):
        return f"{self.get_target_display()}: {self.label_en or self.key}"

    def clean(self):
        from django.core.exceptions import ValidationError

        is_choice = self.type in (self.Type.CHOICE, self.Type.MULTI_CHOICE)
        if is_choice and not self.choices:
            raise ValidationError({"choices": _("A choice field needs at least one choice.")})
        if not isinstance(self.choices, list):
            raise ValidationError({"choices": _("Choices must be a list.")})
        values = [c.get("value") if isinstance(c, dict) else None for c in self.choices]
        if any(not isinstance(v, str) or not v.strip() for v in values):
            raise ValidationError({"choices": _("Every choice needs a non-empty value.")})
        if len(set(values)) != len(values):
            raise ValidationError({"choices": _("Choice values must be unique.")})

    @property
    def choice_values(self) -> list[str]:
        return [c["value"] for c in self.choices or [] if isinstance(c, dict) and "value" in c]


class LeadEvent(models.Model):
    """Something a lead did (page view, form submit, e-mail open…), counted by behaviour conditions."""

    lead = models.ForeignKey("leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("type"), max_length=50)
    occurred_at = models.DateTimeField(_("occurred at"), default=clock.now)
    payload = models.JSONField(_("payload"), default=dict, blank=True)

    class Meta:
        verbose_name = _("lead event")
        verbose_name_plural = _("lead events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "type", "occurred_at"])]

    def __str__(self):
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M}"
