"""`/api/leads`: the lead resource."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Router, Schema

from baton.accounts.models import Industry
from baton.capture.services import lead_capture_as_create
from baton.core.api import InputSchema, Refs, Resource, choices, register_crud
from baton.leads import selectors, services
from baton.leads.filtersets import LeadFilterSet
from baton.leads.models import Grade, Lead, LeadSource, LeadStatus, Tag
from baton.org.models import Region, User

router = Router()


class LeadOut(Schema):
    id: int
    source: str
    external_id: str
    status: str
    owner: int | None
    score: int
    grade: str
    tags: list[str]
    industries: list[str]
    company: str
    contact_name: str
    phone: str
    email: str
    budget: Decimal | None
    region: int | None
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    notes: str
    custom_fields: dict
    duplicate_of: int | None
    account: int | None
    contact: int | None
    created_at: datetime
    updated_at: datetime
    assigned_at: datetime | None
    first_contact_at: datetime | None
    last_activity_at: datetime | None
    status_changed_at: datetime | None
    # Filled by the scoring and assignment engines: their resolvers read what the engines left on the instance.
    score_explanation: list = []
    assignment_explanation: Any = None
    # SLA clocks: [{"policy": name, "state": "on_track" | "warning" | "breached" | "stopped", "due_at": ISO}]
    clocks: list[dict] = []

    @staticmethod
    def resolve_clocks(obj):
        from baton.sla.clocks import clocks_for

        return [{**c, "due_at": c["due_at"].isoformat()} for c in clocks_for(obj)]

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id

    @staticmethod
    def resolve_region(obj):
        return obj.region_id

    @staticmethod
    def resolve_duplicate_of(obj):
        return obj.duplicate_of_id

    @staticmethod
    def resolve_account(obj):
        return obj.account_id

    @staticmethod
    def resolve_contact(obj):
        return obj.contact_id

    @staticmethod
    def resolve_tags(obj):
        return [t.name for t in obj.tags.all()]

    @staticmethod
    def resolve_industries(obj):
        return [i.code for i in obj.industries.all()]

    @staticmethod
    def resolve_score_explanation(obj):
        stashed = getattr(obj, "_score_explanation", None)  # set by lead_evaluate on the instance it scored
        if stashed is not None:
            return stashed
        from baton.rules.selectors import lead_explanations

        return lead_explanations(obj)["score_explanation"]

    @staticmethod
    def resolve_assignment_explanation(obj):
        """The newest assignment decision (pool, strategy, rotation, members skipped and why) and any backlog."""
        from baton.assignment.selectors import lead_explanations

        # lead_create keeps the decision it just wrote for a new lead (its only one): no read back
        explained = getattr(obj, "_assignment_explained", None) or lead_explanations(obj)
        decisions = explained["assignment_explanation"]
        if not decisions and not explained["backlog"]:
            return None
        latest = dict(decisions[0]) if decisions else {}
        latest["backlog"] = explained["backlog"]
        latest["history"] = decisions[1:]
        return latest


class LeadIn(InputSchema):
    source: choices(LeadSource.values) = LeadSource.OTHER.value
    external_id: str = ""
    status: choices(LeadStatus.values) = LeadStatus.NEW.value
    owner: int | None = Field(None, description="user id")
    score: int = Field(0, ge=0, le=100)
    grade: choices([*Grade.values, ""]) = ""
    tags: list[str] = Field([], description="tag names")
    industries: list[str] = Field([], description="industry codes")
    company: str = ""
    contact_name: str = ""
    phone: str = ""
    email: str = ""
    budget: Decimal | None = Field(None, ge=0, description="CNY")
    region: int | None = Field(None, description="region id")
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    notes: str = ""
    custom_fields: dict = {}
    duplicate_of: int | None = Field(None, description="lead id")


def resolve(data: dict, request, instance) -> dict:
    if "source" in data:  # the service's own `source` is the audit's change source
        data["lead_source"] = data.pop("source")
    refs = Refs(data)
    # Managers and callables: a queryset is only built for a field the request sent (intake sends few).
    refs.one("owner", lambda: User.objects.filter(is_active=True))
    refs.one("region", Region.objects)
    refs.one("duplicate_of", lambda: selectors.lead_list(user=request.auth))
    refs.many("tags", Tag.objects, "name")
    refs.many("industries", Industry.objects, "code")
    return refs.done()


register_crud(router, Resource(
    path="leads", model=Lead, out=LeadOut, create_in=LeadIn, filterset=LeadFilterSet,
    list_selector=selectors.lead_list, get_selector=selectors.lead_get,
    create_service=lead_capture_as_create, update_service=services.lead_update,
    delete_service=services.lead_delete, instance_kw="lead", resolve=resolve, create_may_find_existing=True,
    render_created=True,  # the intake answers every captured lead with it (core.api.schema_json)
))
