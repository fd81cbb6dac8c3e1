from django import forms
from django.utils.translation import gettext_lazy as _

from baton.activities.models import Activity
from baton.rules.forms import StyledForm
from baton.scripts.models import Scenario


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


class PackForm(StyledForm):
    name = forms.CharField(label=_("name"), max_length=100)
    scenario = forms.ChoiceField(label=_("scenario"), choices=Scenario.choices, initial=Scenario.CUSTOM)
    description = forms.CharField(label=_("description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    active = forms.BooleanField(label=_("active"), required=False, initial=True,
                                help_text=_("Inactive packs are hidden from reps; their usage figures stay."))


class ScriptForm(StyledForm):
    title = forms.CharField(label=_("title"), max_length=200)
    body = forms.CharField(label=_("body"), widget=forms.Textarea(attrs={"rows": 4}))
