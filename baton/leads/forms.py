from django import forms
from django.utils.translation import gettext_lazy as _

from baton.core.forms import ServiceModelForm, active_users
from baton.leads.models import Lead
from baton.opportunities.models import Pipeline


class LeadForm(ServiceModelForm):
    class Meta:
        model = Lead
        fields = ["company", "contact_name", "phone", "email", "source", "status", "grade", "budget", "region",
                  "owner", "industries", "tags", "notes"]
        widgets = {
            "industries": forms.CheckboxSelectMultiple,
            "tags": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = active_users()


class LeadConvertForm(forms.Form):
    opportunity_name = forms.CharField(label=_("opportunity name"), max_length=200, required=False,
                                       help_text=_("Defaults to the company name."))
    amount = forms.DecimalField(label=_("amount"), max_digits=16, decimal_places=2, min_value=0, required=False,
                                help_text=_("Defaults to the lead's budget."))
    pipeline = forms.ModelChoiceField(label=_("pipeline"), queryset=Pipeline.objects.all(), required=False,
                                      help_text=_("Defaults to the default pipeline."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "form-select" if name == "pipeline" else "form-control"
