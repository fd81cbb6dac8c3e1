from baton.accounts.models import Account, Contact
from baton.core import clock
from baton.core.models import ChangeSource
from baton.core.services import create_object, delete_object, update_object


def account_create(*, actor, source=ChangeSource.UI, **data) -> Account:
    data.setdefault("owner", actor)
    return create_object(Account, actor=actor, source=source, data=data)


def account_update(*, account: Account, actor, source=ChangeSource.UI, **data) -> dict:
    return update_object(account, actor=actor, source=source, data=data, touch={"updated_at": clock.now()})


def account_delete(*, account: Account, actor, source=ChangeSource.UI) -> None:
    delete_object(account, actor=actor, source=source)


def contact_create(*, actor, source=ChangeSource.UI, **data) -> Contact:
    return create_object(Contact, actor=actor, source=source, data=data)


def contact_update(*, contact: Contact, actor, source=ChangeSource.UI, **data) -> dict:
    return update_object(contact, actor=actor, source=source, data=data, touch={"updated_at": clock.now()})


def contact_delete(*, contact: Contact, actor, source=ChangeSource.UI) -> None:
    delete_object(contact, actor=actor, source=source)
