"""`/api/opportunities`: deals; `stage` and `pipeline` are given and answered by name."""

from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from baton.accounts.selectors import account_list, contact_list
from baton.core.api import InputSchema, Refs, Resource, register_crud
from baton.leads.selectors import lead_list
from baton.opportunities import selectors, services
from baton.opportunities.filtersets import OpportunityFilterSet
from baton.opportunities.models import Opportunity, Pipeline, Stage
from baton.org.models import User

router = Router()


class OpportunityOut(Schema):
    id: int
    name: str
    account: int | None
    contact: int | None
    lead: int | None
    owner: int | None
    pipeline: str
    stage: str
    amount: Decimal
    currency: str
    expected_close_date: date | None
    probability: int
    status: str
    lost_reason: str
    custom_fields: dict
    created_at: datetime
    updated_at: datetime
    stage_entered_at: datetime
    closed_at: datetime | None

    # SLA clocks: [{"policy": name, "state": "on_track" | "warning" | "breached" | "stopped", "due_at": ISO}]
    clocks: list[dict] = []

    @staticmethod
    def resolve_clocks(obj):
        from baton.sla.clocks import clocks_for

        return [{**c, "due_at": c["due_at"].isoformat()} for c in clocks_for(obj)]

    @staticmethod
    def resolve_account(obj):
        return obj.account_id

    @staticmethod
    def resolve_contact(obj):
        return obj.contact_id

    @staticmethod
    def resolve_lead(obj):
        return obj.lead_id

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id

    @staticmethod
    def resolve_pipeline(obj):
        return obj.pipeline.name

    @staticmethod
    def resolve_stage(obj):
        return obj.stage.name


class OpportunityIn(InputSchema):
    name: str
    account: int | None = Field(None, description="account id")
    contact: int | None = Field(None, description="contact id")
    lead: int | None = Field(None, description="lead id")
    owner: int | None = Field(None, description="user id; defaults to the caller")
    pipeline: str | None = Field(None, description="pipeline name; defaults to the stage's or the default one")
    stage: str | None = Field(None, description="stage name (unique within its pipeline)")
    amount: Decimal = Field(Decimal("0"), ge=0)
    currency: str = "CNY"
    expected_close_date: date | None = None
    probability: int | None = Field(None, ge=0, le=100, description="defaults to the stage's")
    lost_reason: str = ""
    custom_fields: dict = {}
    skip_reason: str = Field("", description="moving forward past unmet skippable stage requirements: why "
                                             "(opens a manager review)")


def resolve(data: dict, request, instance) -> dict:
    if data.get("probability", 0) is None:
        data.pop("probability")
    refs = Refs(data)
    user = request.auth
    refs.one("account", account_list(user=user))
    refs.one("contact", contact_list(user=user))
    refs.one("lead", lead_list(user=user))
    refs.one("owner", User.objects.filter(is_active=True))
    refs.one("pipeline", Pipeline.objects.all(), "name")
    if data.get("stage") is not None:
        pipeline = refs.data.get("pipeline")
        if not isinstance(pipeline, Pipeline):
            pipeline = instance.pipeline if instance else Pipeline.objects.filter(is_default=True).first()
        if pipeline is None:
            refs.add_error("pipeline", _("Name the pipeline of this stage."))
        else:
            refs.one("stage", Stage.objects.filter(pipeline=pipeline), "name")
    elif "stage" in data:
        refs.data.pop("stage")  # null: keep the current stage (or the pipeline's first)
    if "pipeline" in data and data["pipeline"] is None:
        refs.data.pop("pipeline")
    return refs.done()


register_crud(router, Resource(
    path="opportunities", model=Opportunity, out=OpportunityOut, create_in=OpportunityIn,
    filterset=OpportunityFilterSet, list_selector=selectors.opportunity_list,
    get_selector=selectors.opportunity_get, create_service=services.opportunity_create,
    update_service=services.opportunity_update, delete_service=services.opportunity_delete,
    instance_kw="opportunity", resolve=resolve,
))
