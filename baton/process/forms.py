"""Settings forms: required-action templates and the risk strategy library (ops)."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from baton.core.forms import ServiceModelForm
from baton.core.models import Attachment
from baton.process.models import REQUIREMENT_TYPES, ActionTemplate, RiskStrategy


def requirement_problems(reqs) -> list[str]:
    """Precise problems of a template's completion requirements (a JSON list), one line each."""
    if not isinstance(reqs, list):
        return [str(_("Give a list of requirements."))]
    kinds = set(Attachment.Kind.values)
    out = []
    for i, r in enumerate(reqs, 1):
        where = _("Requirement %(i)s") % {"i": i}
        if not isinstance(r, dict) or r.get("type") not in REQUIREMENT_TYPES:
            out.append(f"{where}: " + _("type must be one of %(t)s.") % {"t": ", ".join(REQUIREMENT_TYPES)})
            continue
        kind = r["type"]
        if kind == "evidence":
            if r.get("kind") not in kinds:
                out.append(f"{where}: " + _("evidence kind must be one of %(k)s.") % {"k": ", ".join(sorted(kinds))})
            if not isinstance(r.get("min", 1), int) or r.get("min", 1) < 1:
                out.append(f"{where}: " + _("the minimum count must be a whole number ≥ 1."))
        elif kind == "match":
            pct = r.get("min_pct")
            if not isinstance(pct, int | float) or not 0 < pct <= 100:
                out.append(f"{where}: " + _("the match threshold (min_pct) must be between 1 and 100."))
            if not r.get("items_field") or not r.get("history_field"):
                out.append(f"{where}: " + _("name items_field and history_field."))
        elif kind == "form":
            fields = r.get("fields")
            if not isinstance(fields, list) or not fields or not all(
                    isinstance(f, dict) and str(f.get("name") or "").strip() for f in fields):
                out.append(f"{where}: " + _("a form needs a list of fields, each with a name."))
        elif kind == "text_or_audio" and not r.get("field"):
            out.append(f"{where}: " + _("name the text field (field)."))
        elif kind == "decision_contacts" and (not isinstance(r.get("min", 1), int) or r.get("min", 1) < 1):
            out.append(f"{where}: " + _("the minimum count must be a whole number ≥ 1."))
    return out


class ActionTemplateForm(ServiceModelForm):
    trigger_condition = forms.CharField(required=False, widget=forms.HiddenInput)
    requirements = forms.CharField(label=_("completion requirements"), required=False,
                                   widget=forms.Textarea(attrs={"rows": 8, "class": "form-control font-monospace"}),
                                   help_text=_('JSON list, e.g. [{"type": "evidence", "kind": "signed_pdf", "min": 1}, '
                                               '{"type": "match", "items_field": "proposal_items", "history_field": '
                                               '"purchase_history", "min_pct": 90}, {"type": "form", "fields": '
                                               '[{"name": "competitor", "required": true}]}]'))

    class Meta:
        model = ActionTemplate
        fields = ["code", "name_zh", "name_en", "description", "trigger_kind", "trigger_event", "trigger_condition",
                  "requirements", "deadline_value", "deadline_unit", "warning_pct", "active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["requirements"] = json.dumps(self.instance.requirements, ensure_ascii=False, indent=1)
            self.initial["trigger_condition"] = json.dumps(self.instance.trigger_condition or {}, ensure_ascii=False)
        if self.instance.pk:
            self.fields["code"].disabled = True  # actions name their template by code

    def clean_trigger_condition(self):
        raw = (self.cleaned_data.get("trigger_condition") or "").strip()
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            raise forms.ValidationError(_("The condition is not valid JSON.")) from None
        return value or None

    def clean_requirements(self):
        raw = (self.cleaned_data.get("requirements") or "").strip() or "[]"
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(_("This is not valid JSON: %(e)s") % {"e": exc}) from None
        problems = requirement_problems(value)
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            data.pop("code", None)
        return data


class RiskStrategyForm(ServiceModelForm):
    class Meta:
        model = RiskStrategy
        fields = ["risk_type", "risk_label", "signals", "strategy", "position", "active"]
