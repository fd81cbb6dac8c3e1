from django import forms

from baton.accounts.models import Account, Contact
from baton.accounts.selectors import account_list
from baton.core.forms import ServiceModelForm, active_users


class AccountForm(ServiceModelForm):
    class Meta:
        model = Account
        fields = ["name", "credit_code", "industries", "region", "address", "owner"]
        widgets = {"industries": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = active_users()

    def clean_credit_code(self):
        # An empty code is "none given" (NULL), so many accounts may leave it out.
        return self.cleaned_data.get("credit_code") or None


class ContactForm(ServiceModelForm):
    class Meta:
        model = Contact
        fields = ["account", "name", "title", "phone", "email", "decision_role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = account_list(user=self.user, action="change")
