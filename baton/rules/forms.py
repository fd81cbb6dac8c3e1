import json

from django import forms
from django.utils.translation import gettext_lazy as _

from baton.rules.models import ScoringRule


def style(form):
    """Tabler classes on every widget (as baton.core.forms.ServiceModelForm does for model forms)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxSelectMultiple | forms.HiddenInput):
            continue
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class StyledForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class _RuleForm(StyledForm):
    name = forms.CharField(label=_("name"), max_length=100)
    priority = forms.IntegerField(label=_("priority"), initial=100)
    active = forms.BooleanField(label=_("active"), required=False, initial=True)
    condition = forms.CharField(label=_("condition"), required=False, widget=forms.HiddenInput)

    def clean_condition(self):
        raw = self.cleaned_data.get("condition") or "{}"
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("The condition is not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The condition must be a JSON object."))
        return value


class ScoringRuleForm(_RuleForm):
    points = forms.IntegerField(label=_("points"), min_value=-100, max_value=100, initial=10)
    kind = forms.ChoiceField(label=_("kind"), choices=ScoringRule.Kind.choices, initial=ScoringRule.Kind.STATIC)
    event_kind = forms.CharField(label=_("event kind"), max_length=50, required=False,
                                 help_text=_("Behaviour rules: the event that counts, e.g. page_view."))
    half_life_hours = forms.FloatField(label=_("half-life (hours)"), required=False, min_value=0.01)


class TaggingRuleForm(_RuleForm):
    tags = forms.CharField(label=_("tags to add"), max_length=500,
                           help_text=_("Tag names, separated by commas."))

    def clean_tags(self):
        return [t.strip() for t in self.cleaned_data["tags"].replace("，", ",").split(",") if t.strip()]


class GradeBandsForm(StyledForm):
    a_min = forms.IntegerField(label=_("A from score"), min_value=0, max_value=100)
    b_min = forms.IntegerField(label=_("B from score"), min_value=0, max_value=100)
