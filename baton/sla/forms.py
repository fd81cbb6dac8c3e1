"""Forms of the SLA settings pages: policies (condition, clock, escalation steps with recipients), holiday
overrides, reason codes and report schedules. Whole-object checks are the model's (via the services)."""

import json
from datetime import time

from django import forms
from django.utils.translation import gettext_lazy as _

from baton.core.forms import DATE_WIDGET, ServiceModelForm
from baton.rules.forms import StyledForm

from .models import CalendarKind, ReportSchedule, SlaReasonCode, StartEvent, StopEvent, Target

TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _json(raw, kind, message):
    try:
        value = json.loads(raw or ("[]" if kind is list else "{}"))
    except ValueError:
        raise forms.ValidationError(message) from None
    if not isinstance(value, kind):
        raise forms.ValidationError(message)
    return value


class PolicyForm(StyledForm):
    name = forms.CharField(label=_("name"), max_length=100)
    target = forms.ChoiceField(label=_("applies to"), choices=Target.choices)
    condition = forms.CharField(label=_("condition"), required=False, widget=forms.HiddenInput)
    start_event = forms.ChoiceField(label=_("start event"), choices=StartEvent.choices)
    stop_event = forms.ChoiceField(label=_("stop event"), choices=StopEvent.choices)
    hours = forms.IntegerField(label=_("target: hours"), min_value=0, max_value=24 * 365, initial=2)
    minutes = forms.IntegerField(label=_("minutes"), min_value=0, max_value=59, initial=0, required=False)
    calendar = forms.ChoiceField(label=_("calendar"), choices=CalendarKind.choices)
    work_start = forms.TimeField(label=_("working day starts"), initial=time(9, 0), widget=TIME_WIDGET)
    work_end = forms.TimeField(label=_("working day ends"), initial=time(18, 0), widget=TIME_WIDGET)
    warning_pct = forms.IntegerField(label=_("warning at (%)"), min_value=1, max_value=99, initial=75)
    escalation = forms.CharField(label=_("escalation steps"), required=False, widget=forms.HiddenInput)
    active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def clean_condition(self):
        return _json(self.cleaned_data.get("condition"), dict, _("The condition must be a JSON object."))

    def clean_escalation(self):
        return _json(self.cleaned_data.get("escalation"), list, _("The escalation steps must be a JSON list."))

    def clean(self):
        data = super().clean()
        if data.get("hours") is not None:
            seconds = data["hours"] * 3600 + (data.get("minutes") or 0) * 60
            if seconds < 60:
                self.add_error("hours", _("The target duration must be at least one minute."))
            data["target_seconds"] = seconds
        return data

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("hours", None)
        data.pop("minutes", None)
        return data

    @staticmethod
    def initial_for(policy) -> dict:
        if policy is None:
            return {"condition": "{}", "escalation": json.dumps([{"at": 100, "actions": ["notify_owner",
                                                                                         "notify_manager"]}]),
                    "active": True, "target": Target.LEADS, "start_event": "created", "stop_event": "assigned"}
        hours, rest = divmod(policy.target_seconds, 3600)
        return {"name": policy.name, "target": policy.target, "start_event": policy.start_event,
                "stop_event": policy.stop_event, "hours": hours, "minutes": rest // 60,
                "calendar": policy.calendar, "work_start": policy.work_start, "work_end": policy.work_end,
                "warning_pct": policy.warning_pct, "active": policy.active,
                "condition": json.dumps(policy.condition or {}, ensure_ascii=False),
                "escalation": json.dumps(policy.escalation or [], ensure_ascii=False)}


class HolidayForm(StyledForm):
    date = forms.DateField(label=_("date"), widget=DATE_WIDGET)
    is_workday = forms.TypedChoiceField(label=_("the day is"), coerce=lambda v: v == "1",
                                        choices=[("0", _("a holiday")), ("1", _("a working day (make-up day)"))])
    name = forms.CharField(label=_("note"), max_length=100, required=False)


class ReasonCodeForm(ServiceModelForm):
    class Meta:
        model = SlaReasonCode
        fields = ["code", "label", "active"]


class ScheduleForm(ServiceModelForm):
    class Meta:
        model = ReportSchedule
        fields = ["name", "kind", "cron", "time_zone", "recipients", "channels", "active"]
        widgets = {"channels": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from baton.org.models import User

        self.fields["recipients"].queryset = User.objects.filter(is_active=True).order_by("username")
        self.fields["recipients"].widget.attrs.update(size=8)
        self.fields["recipients"].help_text = _("They get the report by e-mail (with the Excel file) and in the app.")

    def clean_cron(self):
        from croniter import croniter

        cron = " ".join(self.cleaned_data["cron"].split())
        if not croniter.is_valid(cron) or len(cron.split()) != 5:
            raise forms.ValidationError(_("Not a valid cron expression (minute hour day month weekday)."))
        return cron
