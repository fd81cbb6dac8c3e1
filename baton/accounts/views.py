from django.utils.translation import gettext_lazy

from baton.accounts import selectors, services
from baton.accounts.filtersets import AccountFilterSet, ContactFilterSet
from baton.accounts.forms import AccountForm, ContactForm
from baton.accounts.models import Account, Contact
from baton.core import views_generic as g
from baton.opportunities.selectors import opportunity_list


class AccountMixin:
    model = Account
    list_selector = selectors.account_list
    get_selector = selectors.account_get


class AccountListView(AccountMixin, g.ObjectListView):
    filterset_class = AccountFilterSet
    columns = [
        g.Column("name", link=True, order_by="name"),
        g.Column("region", css="d-none d-sm-table-cell"),
        g.Column("industries", css="d-none d-lg-table-cell"),
        g.Column("owner"),
        g.Column("created_at", order_by="created_at", css="d-none d-md-table-cell"),
    ]


class AccountDetailView(AccountMixin, g.ObjectDetailView):
    fields = ["name", "credit_code", "industries", "region", "address", "owner", "created_at", "updated_at"]
    activity_link = "account"
    extra_templates = ["accounts/partials/account_related.html"]

    def extra_context(self, obj):
        user = self.request.user
        return {
            "contacts": selectors.contact_list(user=user).filter(account=obj),
            "opportunities": opportunity_list(user=user).filter(account=obj),
            "contact_create_url": g.url_for_name("accounts:contact_create"),
        }


class AccountEditView(AccountMixin, g.ObjectEditView):
    form_class = AccountForm
    create_service = services.account_create
    update_service = services.account_update
    service_object_arg = "account"


class AccountDeleteView(AccountMixin, g.ObjectDeleteView):
    delete_service = services.account_delete
    service_object_arg = "account"


class ContactMixin:
    model = Contact
    list_selector = selectors.contact_list
    get_selector = selectors.contact_get


class ContactListView(ContactMixin, g.ObjectListView):
    filterset_class = ContactFilterSet
    columns = [
        g.Column("name", link=True, order_by="name"),
        g.Column("account"),
        g.Column("title", css="d-none d-md-table-cell"),
        g.Column("phone", css="d-none d-sm-table-cell"),
        g.Column("email", css="d-none d-lg-table-cell"),
        g.Column("decision_role", label=gettext_lazy("decision role"), css="d-none d-lg-table-cell"),
    ]


class ContactDetailView(ContactMixin, g.ObjectDetailView):
    fields = ["name", "account", "title", "phone", "email", "decision_role", "created_at", "updated_at"]


class ContactEditView(ContactMixin, g.ObjectEditView):
    form_class = ContactForm
    create_service = services.contact_create
    update_service = services.contact_update
    service_object_arg = "contact"

    def get_initial(self):
        return {"account": self.request.GET.get("account")}


class ContactDeleteView(ContactMixin, g.ObjectDeleteView):
    delete_service = services.contact_delete
    service_object_arg = "contact"
