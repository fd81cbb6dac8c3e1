import json

from django import forms
from django.utils.translation import gettext_lazy as _

from baton.accounts.selectors import account_list, contact_list
from baton.core.forms import DATE_WIDGET, ServiceModelForm, active_users
from baton.opportunities.models import Opportunity, Pipeline, Stage, StageRequirement


class OpportunityForm(ServiceModelForm):
    class Meta:
        model = Opportunity
        fields = ["name", "account", "contact", "owner", "pipeline", "stage", "amount", "currency",
                  "expected_close_date", "probability", "lost_reason"]
        widgets = {"expected_close_date": DATE_WIDGET}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = account_list(user=self.user)
        self.fields["contact"].queryset = contact_list(user=self.user)
        self.fields["owner"].queryset = active_users()
        self.fields["stage"].queryset = Stage.objects.select_related("pipeline").order_by("pipeline", "position")
        self.fields["stage"].label_from_instance = lambda s: f"{s.pipeline} · {s.name}"
        if self.instance.pk is None:
            # A new deal starts in its pipeline's first open stage unless one is picked.
            self.fields["stage"].required = False
            self.fields["pipeline"].required = False
            self.fields["probability"].required = False

    def clean(self):
        data = super().clean()
        if self.instance.pk is None:
            for key in ("stage", "pipeline", "probability"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data


# --- settings: pipelines, stages, gates -------------------------------------------------------------------

COLOURS = ["gray", "azure", "blue", "indigo", "purple", "pink", "red", "orange", "yellow", "lime", "green",
           "teal", "cyan"]
# Deal fields a "required field" requirement may name (the rest are set by the system).
REQUIRABLE_FIELDS = ["account", "contact", "lead", "owner", "amount", "currency", "expected_close_date",
                     "probability"]


class PipelineForm(ServiceModelForm):
    class Meta:
        model = Pipeline
        fields = ["name", "is_default"]


class StageForm(ServiceModelForm):
    max_dwell_days = forms.IntegerField(label=_("maximum dwell (business days)"), required=False, min_value=1,
                                        max_value=365, help_text=_("Empty: no dwell alert for this stage."))
    handbook_url = forms.URLField(label=_("handbook link"), required=False, max_length=200, assume_scheme="https",
                                  help_text=_("Sent to the rep when a deal stays longer than the maximum."))

    class Meta:
        model = Stage
        fields = ["name", "kind", "probability", "color", "guidance"]
        widgets = {"color": forms.Select(choices=[(c, c) for c in COLOURS]),
                   "guidance": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        color = self.initial.get("color") or getattr(self.instance, "color", "")
        if color and color not in COLOURS:
            self.fields["color"].widget.choices = [(color, color)] + [(c, c) for c in COLOURS]


class StageRequirementForm(ServiceModelForm):
    field_name = forms.ChoiceField(label=_("field"), required=False)
    condition = forms.CharField(label=_("applies when"), required=False, widget=forms.HiddenInput)

    class Meta:
        model = StageRequirement
        fields = ["label", "code", "kind", "field_name", "attachment_kind", "min_count", "condition", "skippable",
                  "guidance", "position"]
        widgets = {"guidance": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = list(REQUIRABLE_FIELDS)
        current = self.initial.get("field_name") or getattr(self.instance, "field_name", "")
        if current and current not in names:
            names.append(current)
        self.fields["field_name"].choices = [("", "—")] + [
            (n, str(Opportunity._meta.get_field(n).verbose_name)) for n in names]
        self.fields["field_name"].widget.attrs["class"] = "form-select"
        self.fields["position"].required = False
        if self.instance.pk and not self.is_bound:
            self.initial["condition"] = json.dumps(self.instance.condition or {}, ensure_ascii=False)

    def clean_condition(self):
        raw = (self.cleaned_data.get("condition") or "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("The condition is not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The condition must be an object."))
        return value or None

    def clean(self):
        data = super().clean()
        if data.get("position") is None:
            data.pop("position", None)
        return data
