"""`/api/accounts` and `/api/contacts`."""

from datetime import datetime

from ninja import Field, Router, Schema

from baton.accounts import selectors, services
from baton.accounts.filtersets import AccountFilterSet, ContactFilterSet
from baton.accounts.models import Account, Contact, Industry
from baton.core.api import InputSchema, Refs, Resource, choices, register_crud
from baton.org.models import Region, User

router = Router()


class AccountOut(Schema):
    id: int
    name: str
    credit_code: str | None
    industries: list[str]
    region: int | None
    address: str
    lat: float | None
    lng: float | None
    owner: int | None
    custom_fields: dict
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_industries(obj):
        return [i.code for i in obj.industries.all()]

    @staticmethod
    def resolve_region(obj):
        return obj.region_id

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id


class AccountIn(InputSchema):
    name: str
    credit_code: str | None = Field(None, description="unified social credit code (18 characters), unique")
    industries: list[str] = Field([], description="industry codes")
    region: int | None = Field(None, description="region id")
    address: str = ""
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    owner: int | None = Field(None, description="user id; defaults to the caller")
    custom_fields: dict = {}


def resolve_account(data: dict, request, instance) -> dict:
    if data.get("credit_code") == "":
        data["credit_code"] = None  # blank means "none", which may repeat
    refs = Refs(data)
    refs.one("owner", User.objects.filter(is_active=True))
    refs.one("region", Region.objects.all())
    refs.many("industries", Industry.objects.all(), "code")
    return refs.done()


register_crud(router, Resource(
    path="accounts", model=Account, out=AccountOut, create_in=AccountIn, filterset=AccountFilterSet,
    list_selector=selectors.account_list, get_selector=selectors.account_get,
    create_service=services.account_create, update_service=services.account_update,
    delete_service=services.account_delete, instance_kw="account", resolve=resolve_account,
))


class ContactOut(Schema):
    id: int
    account: int
    name: str
    title: str
    phone: str
    email: str
    decision_role: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_account(obj):
        return obj.account_id


class ContactIn(InputSchema):
    account: int = Field(..., description="account id")
    name: str
    title: str = ""
    phone: str = ""
    email: str = ""
    decision_role: choices([*Contact.DecisionRole.values, ""]) = ""


def resolve_contact(data: dict, request, instance) -> dict:
    refs = Refs(data)
    refs.one("account", selectors.account_list(user=request.auth))
    return refs.done()


register_crud(router, Resource(
    path="contacts", model=Contact, out=ContactOut, create_in=ContactIn, filterset=ContactFilterSet,
    list_selector=selectors.contact_list, get_selector=selectors.contact_get,
    create_service=services.contact_create, update_service=services.contact_update,
    delete_service=services.contact_delete, instance_kw="contact", resolve=resolve_contact,
))
