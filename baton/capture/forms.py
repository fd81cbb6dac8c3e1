"""Settings forms: de-duplication policies and intake forms (text areas for the mapping and the origins)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from baton.capture.models import DedupePolicy, IntakeForm
from baton.leads.models import LeadSource
from baton.rules.forms import StyledForm


class DedupePolicyForm(StyledForm):
    lead_source = forms.ChoiceField(label=_("source"), required=False,
                                    choices=[("", _("Default (every other source)")), *LeadSource.choices])
    action = forms.ChoiceField(label=_("action"), choices=DedupePolicy.Action.choices)
    fuzzy_threshold = forms.IntegerField(label=_("company name similarity threshold"), min_value=50,
                                         max_value=100, initial=90,
                                         help_text=_("50–100: how alike two company names must be (rapidfuzz)."))
    active = forms.BooleanField(label=_("active"), required=False, initial=True)


def mapping_text(mapping: dict) -> str:
    return "\n".join(f"{k} = {v}" for k, v in (mapping or {}).items())


class IntakeFormForm(StyledForm):
    name = forms.CharField(label=_("name"), max_length=100)
    key = forms.SlugField(label=_("key"), max_length=50, help_text=_("Part of the address: /api/intake/<key>."))
    default_source = forms.ChoiceField(label=_("default source"), choices=LeadSource.choices,
                                       initial=LeadSource.WEB_FORM)
    field_mapping = forms.CharField(
        label=_("field mapping"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One a line: form field = lead field (or custom:<key>). Fields named like a lead field "
                    "need no line."))
    allowed_origins = forms.CharField(
        label=_("allowed origins"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line, like https://www.example.com; * allows any site. Servers (no Origin header) "
                    "may always post."))
    honeypot_field = forms.CharField(label=_("honeypot field"), max_length=50, required=False,
                                     initial="website_url")
    rate_limit_per_minute = forms.IntegerField(label=_("submissions per minute per IP"), min_value=1,
                                               initial=30)
    active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def clean_field_mapping(self):
        mapping = {}
        for n, line in enumerate((self.cleaned_data.get("field_mapping") or "").splitlines(), start=1):
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(_("Line %(n)s: write it as form field = lead field.") % {"n": n})
            left, right = (part.strip() for part in line.split("=", 1))
            if not left or not right:
                raise forms.ValidationError(_("Line %(n)s: write it as form field = lead field.") % {"n": n})
            mapping[left] = right
        return mapping

    def clean_allowed_origins(self):
        return [line.strip() for line in (self.cleaned_data.get("allowed_origins") or "").splitlines()
                if line.strip()]

    @staticmethod
    def initial_for(form: IntakeForm) -> dict:
        return {"name": form.name, "key": form.key, "default_source": form.default_source,
                "field_mapping": mapping_text(form.field_mapping),
                "allowed_origins": "\n".join(form.allowed_origins or []), "honeypot_field": form.honeypot_field,
                "rate_limit_per_minute": form.rate_limit_per_minute, "active": form.active}
