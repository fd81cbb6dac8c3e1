from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from baton.capture.services import lead_capture_as_create
from baton.core import views_generic as g
from baton.core.errors import DomainError
from baton.leads import selectors, services
from baton.leads.filtersets import LeadFilterSet
from baton.leads.forms import LeadConvertForm, LeadForm
from baton.leads.models import Lead, LeadStatus


def _tags(lead):
    return format_html_join(" ", '<span class="badge bg-{}-lt">{}</span>',
                            ((t.color or "blue", t.name) for t in lead.tags.all())) or g.EMPTY


def _score(lead):
    colour = "green" if lead.score >= 70 else "yellow" if lead.score >= 40 else "secondary"
    return format_html('<span class="badge bg-{}-lt" title="{}">{}</span>', colour, _("score"), lead.score)


def _clocks(lead):
    from baton.sla.views import clock_badges

    return clock_badges(lead)


class LeadMixin:
    model = Lead
    list_selector = selectors.lead_list
    get_selector = selectors.lead_get


class LeadListView(LeadMixin, g.ObjectListView):
    filterset_class = LeadFilterSet
    primary_filters = ("q", "status", "grade", "owner")
    columns = [
        g.Column("company", label=gettext_lazy("lead"), link=True, order_by="company",
                 render=lambda lead: format_html("{}<div class=\"text-secondary small\">{}</div>",
                                                 str(lead), lead.contact_name)),
        g.Column("grade", order_by="grade"),
        g.Column("score", order_by="score", render=_score, css="d-none d-sm-table-cell"),
        g.Column("status", order_by="status"),
        g.Column("clocks", label=gettext_lazy("SLA"), render=lambda lead: _clocks(lead)),
        g.Column("owner", css="d-none d-md-table-cell"),
        g.Column("tags", render=_tags, css="d-none d-lg-table-cell"),
        g.Column("source", css="d-none d-lg-table-cell"),
        g.Column("created_at", order_by="created_at", css="d-none d-md-table-cell"),
    ]

    def get(self, request):
        from baton.sla.views import badge_cache

        with badge_cache():  # the SLA column reads the policies once per page
            return super().get(request)


class LeadDetailView(LeadMixin, g.ObjectDetailView):
    fields = ["company", "contact_name", "phone", "email", "status", "grade", "score", "source", "budget",
              "region", "owner", "industries", "tags", "account", "contact", "created_at", "assigned_at",
              "first_contact_at", "last_activity_at", "notes"]
    activity_link = "lead"
    # SLA clocks and the one-click alert panel; why the lead has its score, tags and owner
    extra_templates = ["sla/partials/lead_clocks.html", "assignment/partials/lead_why.html"]

    def actions(self, obj):
        if obj.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED) or not g.allowed(
                self.request.user, obj, "change"):
            return []
        return [{"url": g.url_for(obj, "convert"), "label": _("Convert"), "css": "btn-success"}]


class LeadEditView(LeadMixin, g.ObjectEditView):
    form_class = LeadForm
    # A lead typed in by hand is captured like one from a form or the API: de-duplicated by the source's policy.
    create_service = staticmethod(lead_capture_as_create)
    update_service = services.lead_update
    service_object_arg = "lead"

    def created(self, request, obj):
        if getattr(obj, "_existing", False):  # merged into the lead it repeats
            if selectors.lead_list(user=request.user).filter(pk=obj.pk).exists():
                messages.warning(request, _("This lead repeats %(name)s: the inquiry was recorded there.") % {
                    "name": obj})
                return HttpResponseRedirect(g.url_for(obj, "detail"))
            messages.warning(request, _("This lead repeats an existing lead you cannot see; the inquiry was "
                                        "recorded there."))
            return HttpResponseRedirect(g.url_for(Lead, "list"))
        if obj.duplicate_of_id:
            messages.warning(request, _("%(name)s was created and flagged as a possible duplicate of lead "
                                        "#%(pk)s, for review.") % {"name": obj, "pk": obj.duplicate_of_id})
            return HttpResponseRedirect(g.url_for(obj, "detail"))
        return super().created(request, obj)

    def service_data(self, form):
        data = super().service_data(form)
        # The services' own `source` is the audit's change source; the lead's field goes as `lead_source`.
        if "source" in data:
            data["lead_source"] = data.pop("source")
        return data


class LeadDeleteView(LeadMixin, g.ObjectDeleteView):
    delete_service = services.lead_delete
    service_object_arg = "lead"


class LeadConvertView(LeadMixin, g.ObjectMixin, g.View):
    """Turn a lead into account + contact + opportunity (one service call), then open the deal."""

    def _render(self, lead, form):
        return render(self.request, "leads/lead_convert.html", self.base_context(
            object=lead, form=form, title=_("Convert %(name)s") % {"name": lead},
            cancel_url=g.url_for(lead, "detail")))

    def get(self, request, pk):
        lead = self.get_object(pk, "change")
        return self._render(lead, LeadConvertForm(initial={"opportunity_name": lead.company,
                                                           "amount": lead.budget}))

    def post(self, request, pk):
        lead = self.get_object(pk, "change")
        form = LeadConvertForm(request.POST)
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
            try:
                result = services.lead_convert(lead=lead, actor=request.user, **data)
            except DomainError as exc:
                g.apply_domain_error(form, exc)
            else:
                messages.success(request, _("%(name)s was converted.") % {"name": lead})
                return HttpResponseRedirect(g.url_for(result["opportunity"], "detail"))
        return self._render(lead, form)
