from django.utils.html import format_html

from baton.core import views_generic as g
from baton.opportunities import selectors, services
from baton.opportunities.filtersets import OpportunityFilterSet
from baton.opportunities.forms import OpportunityForm
from baton.opportunities.models import Opportunity


def _stage(opp):
    return format_html('<span class="badge bg-{}-lt">{}</span>', opp.stage.color or "blue", opp.stage.name)


def _amount(opp):
    return format_html('<span class="text-nowrap">{} {}</span>', opp.currency, g.display(opp, "amount"))


class OpportunityMixin:
    model = Opportunity
    list_selector = selectors.opportunity_list
    get_selector = selectors.opportunity_get


class OpportunityListView(OpportunityMixin, g.ObjectListView):
    filterset_class = OpportunityFilterSet
    primary_filters = ("q", "status", "owner", "stage")
    columns = [
        g.Column("name", link=True, order_by="name"),
        g.Column("account", css="d-none d-md-table-cell"),
        g.Column("stage", render=_stage),
        g.Column("amount", order_by="amount", render=_amount),
        g.Column("status", css="d-none d-sm-table-cell"),
        g.Column("owner", css="d-none d-lg-table-cell"),
        g.Column("expected_close_date", order_by="expected_close_date", css="d-none d-lg-table-cell"),
    ]


class OpportunityDetailView(OpportunityMixin, g.ObjectDetailView):
    fields = ["name", "account", "contact", "lead", "owner", "pipeline", "stage", "status", "amount", "currency",
              "probability", "expected_close_date", "lost_reason", "created_at", "stage_entered_at", "closed_at"]
    activity_link = "opportunity"
    extra_templates = ["opportunities/partials/stage_history.html"]

    def extra_context(self, obj):
        return {"stage_changes": selectors.stage_history(obj)}


class OpportunityEditView(OpportunityMixin, g.ObjectEditView):
    form_class = OpportunityForm
    create_service = services.opportunity_create
    update_service = services.opportunity_update
    service_object_arg = "opportunity"

    def get_initial(self):
        return {"account": self.request.GET.get("account")}


class OpportunityDeleteView(OpportunityMixin, g.ObjectDeleteView):
    delete_service = services.opportunity_delete
    service_object_arg = "opportunity"
