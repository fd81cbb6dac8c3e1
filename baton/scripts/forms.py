from django import forms
from django.utils.translation import gettext_lazy as _

from baton.activities.models import Activity


class QuickLogForm(forms.Form):
    """At most five things to fill in: kind, outcome, note, the linked record (pre-set), a next-step date."""

    kind = forms.ChoiceField(label=_("Kind"), choices=Activity.Kind.choices, initial=Activity.Kind.CALL)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[("", "—"), *Activity.Outcome.choices], required=False)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=200)
    next_step_date = forms.DateField(label=_("Next step date"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))
    lead = forms.IntegerField(required=False, widget=forms.HiddenInput)
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)
    opportunity = forms.IntegerField(required=False, widget=forms.HiddenInput)
    script_ids = forms.CharField(required=False, widget=forms.HiddenInput)
    client_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean_script_ids(self):
        return [int(x) for x in (self.cleaned_data.get("script_ids") or "").split(",") if x.strip().isdigit()]
