import json

from django import forms
from django.utils.translation import gettext_lazy as _

from baton.assignment.models import MemberAbsence, PoolAction, Strategy
from baton.core.forms import DATE_WIDGET
from baton.org.models import Region, User
from baton.rules.forms import StyledForm


def _json_object(raw, message):
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        raise forms.ValidationError(message) from None
    if not isinstance(value, dict):
        raise forms.ValidationError(message)
    return value


class PoolForm(StyledForm):
    name = forms.CharField(label=_("name"), max_length=100)
    priority = forms.IntegerField(label=_("priority"), initial=100, help_text=_("Lower numbers are tried first."))
    strategy = forms.ChoiceField(label=_("strategy"), choices=Strategy.choices)
    action = forms.ChoiceField(label=_("action"), choices=PoolAction.choices)
    region = forms.ModelChoiceField(label=_("region"), queryset=Region.objects.order_by("name"), required=False)
    active = forms.BooleanField(label=_("active"), required=False, initial=True)
    condition = forms.CharField(required=False, widget=forms.HiddenInput)
    dynamic_rule = forms.CharField(
        label=_("dynamic membership"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_('e.g. {"kind": "top_newcomers", "n": 3, "plus_users": [12], "daily_cap": 8}'))

    def clean_condition(self):
        return _json_object(self.cleaned_data.get("condition"), _("The condition is not valid JSON."))

    def clean_dynamic_rule(self):
        return _json_object(self.cleaned_data.get("dynamic_rule"), _("Give a JSON object."))


class MemberForm(StyledForm):
    user = forms.ModelChoiceField(label=_("user"), queryset=User.objects.filter(is_active=True).order_by("username"))
    weight = forms.IntegerField(label=_("weight"), min_value=1, initial=1)
    daily_cap = forms.IntegerField(label=_("daily cap"), min_value=0, initial=8)


class MemberUpdateForm(StyledForm):
    weight = forms.IntegerField(label=_("weight"), min_value=1)
    daily_cap = forms.IntegerField(label=_("daily cap"), min_value=0)
    active = forms.BooleanField(label=_("active"), required=False)


class AbsenceForm(StyledForm):
    user = forms.ModelChoiceField(label=_("user"), queryset=User.objects.filter(is_active=True).order_by("username"))
    date_from = forms.DateField(label=_("from"), widget=DATE_WIDGET)
    date_to = forms.DateField(label=_("to"), widget=DATE_WIDGET)
    reason = forms.ChoiceField(label=_("reason"), choices=MemberAbsence.Reason.choices)
    note = forms.CharField(label=_("note"), max_length=200, required=False)


class ReassignForm(StyledForm):
    to_user = forms.ModelChoiceField(label=_("to a person"), required=False,
                                     queryset=User.objects.filter(is_active=True).order_by("username"))
    pool = forms.ModelChoiceField(label=_("or through a pool"), required=False, queryset=None)
    reason_code = forms.ChoiceField(label=_("reason"), choices=())
    note = forms.CharField(label=_("note"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, reasons=(), pools=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = [(r.code, r.label) for r in reasons]
        self.fields["pool"].queryset = pools
