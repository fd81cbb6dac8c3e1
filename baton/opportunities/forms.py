from baton.accounts.selectors import account_list, contact_list
from baton.core.forms import DATE_WIDGET, ServiceModelForm, active_users
from baton.opportunities.models import Opportunity, Stage


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
