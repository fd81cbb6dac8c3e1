from baton.accounts.models import Account, Contact
from baton.core import scoping
from baton.core.selectors import get_scoped


def account_list(*, user, action="view"):
    qs = Account.objects.select_related("owner", "region").prefetch_related("industries")
    return scoping.restrict(qs, user, action)


def account_get(*, user, pk, action="view") -> Account:
    return get_scoped(account_list(user=user), user, pk, action)


def contact_list(*, user, action="view"):
    return scoping.restrict(Contact.objects.select_related("account", "account__owner"), user, action)


def contact_get(*, user, pk, action="view") -> Contact:
    return get_scoped(contact_list(user=user), user, pk, action)
