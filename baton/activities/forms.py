from django import forms
from django.utils.translation import gettext_lazy as _

from baton.accounts.selectors import account_list
from baton.activities.models import Activity, Task
from baton.core.forms import DATETIME_WIDGET, ServiceModelForm, active_users
from baton.leads.selectors import lead_list
from baton.opportunities.selectors import opportunity_list


class ActivityForm(ServiceModelForm):
    """Log an activity; the record it belongs to comes from the page it was logged on (hidden)."""

    class Meta:
        model = Activity
        fields = ["kind", "subject", "outcome", "occurred_at", "duration_minutes", "note", "lead", "account",
                  "opportunity"]
        widgets = {
            "occurred_at": DATETIME_WIDGET,
            "note": forms.Textarea(attrs={"rows": 3}),
            "lead": forms.HiddenInput,
            "account": forms.HiddenInput,
            "opportunity": forms.HiddenInput,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only records the user may see can be linked; a forged id is refused as an invalid choice.
        self.fields["lead"].queryset = lead_list(user=self.user)
        self.fields["account"].queryset = account_list(user=self.user)
        self.fields["opportunity"].queryset = opportunity_list(user=self.user)
        self.fields["occurred_at"].required = False

    def clean(self):
        data = super().clean()
        if not data.get("occurred_at"):
            data.pop("occurred_at", None)  # the service stamps "now"
        return data


class TaskForm(ServiceModelForm):
    class Meta:
        model = Task
        fields = ["title", "description", "assignee", "due_at", "status"]
        widgets = {"due_at": DATETIME_WIDGET, "description": forms.Textarea(attrs={"rows": 3})}
        labels = {"due_at": _("due")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = active_users()
        if self.instance.pk is None and self.user is not None:
            self.fields["assignee"].initial = self.user.pk
