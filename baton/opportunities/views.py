import copy
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.core import views_generic as g
from baton.core.errors import DomainError, NotFound
from baton.opportunities import gates, selectors, services
from baton.opportunities.filtersets import OpportunityFilterSet
from baton.opportunities.forms import OpportunityForm, PipelineForm, StageForm, StageRequirementForm
from baton.opportunities.models import Opportunity, Pipeline, Stage, StageRequirement, StageSkipReview

BOARD_OPEN_LIMIT = 100  # cards per open column (the column header shows the full count)
BOARD_CLOSED_LIMIT = 20


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
    extra_templates = ["opportunities/partials/path_panel.html", "process/partials/deal_actions.html",
                       "opportunities/partials/stage_history.html"]

    def extra_context(self, obj):
        return {"stage_changes": selectors.stage_history(obj), "path": gates.path_panel(obj),
                "skip_reviews": list(obj.skip_reviews.select_related("from_stage", "to_stage", "requested_by",
                                                                     "reviewer")[:20]),
                "board_url": reverse("opportunities:board", args=[obj.pipeline_id])}

    def actions(self, obj):
        return [{"url": reverse("opportunities:board", args=[obj.pipeline_id]), "label": _("Board"),
                 "css": "btn-outline-secondary"}]


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


# --- gates: path panel, board, moves, evidence, checklist, skip reviews -----------------------------------

def _deal(request, pk, action="change"):
    try:
        return selectors.opportunity_get(user=request.user, pk=pk, action=action)
    except NotFound:
        raise Http404() from None


def _back(request, opp):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect("opportunities:detail", pk=opp.pk)


def _error_text(exc: DomainError) -> str:
    return " ".join(m for _f, m in exc.errors) or str(exc.message)


@login_required
def board(request, pipeline_id):
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    deals = selectors.opportunity_list(user=request.user).filter(pipeline=pipeline)
    counts = gates.stage_counts_for(deals)
    columns = []
    for stage in pipeline.stages.order_by("position"):
        qs = deals.filter(stage=stage).order_by("-stage_entered_at", "-id")
        limit = BOARD_CLOSED_LIMIT if stage.kind != Stage.Kind.OPEN else BOARD_OPEN_LIMIT
        columns.append({"stage": stage, "deals": list(qs[:limit]), "count": counts.get(stage.pk, 0)})
    return render(request, "opportunities/board.html", {
        "pipeline": pipeline, "pipelines": Pipeline.objects.all(), "columns": columns,
        "title": _("Board: %(pipeline)s") % {"pipeline": pipeline.name}, "section": "opportunities",
    })


@login_required
@require_POST
def move(request, pk):
    """Move a deal to another stage (board drag or form); refused moves list every unmet requirement."""
    opp = _deal(request, pk)
    stage = get_object_or_404(Stage, pk=request.POST.get("stage"))
    wants_json = "application/json" in request.headers.get("Accept", "")
    data = {"stage": stage}
    if request.POST.get("skip_reason", "").strip():
        data["skip_reason"] = request.POST["skip_reason"]
    if stage.kind == Stage.Kind.LOST and request.POST.get("lost_reason", "").strip():
        data["lost_reason"] = request.POST["lost_reason"].strip()
    try:
        services.opportunity_update(opportunity=opp, actor=request.user, **data)
    except DomainError as exc:
        if not wants_json:
            messages.error(request, _error_text(exc))
            return _back(request, opp)
        opp.refresh_from_db()
        unmet = gates.gate_check(opp, stage)
        html = render_to_string("opportunities/partials/move_refused.html", {
            "opp": opp, "stage": stage, "errors": [m for _f, m in exc.errors] or [str(exc.message)],
            "unmet": unmet, "can_skip": bool(unmet) and all(u.skippable for u in unmet),
            "next": request.POST.get("next", ""),
        }, request=request)
        return JsonResponse({"ok": False, "errors": [{"field": f, "message": m} for f, m in exc.errors],
                             "html": html}, status=exc.status_code)
    if wants_json:
        return JsonResponse({"ok": True, "stage": stage.name, "stage_id": stage.pk})
    messages.success(request, _("Moved to “%(stage)s”.") % {"stage": stage.name})
    return _back(request, opp)


@login_required
@require_POST
def evidence_upload(request, pk):
    opp = _deal(request, pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file to upload."))
        return _back(request, opp)
    try:
        services.evidence_attach(opportunity=opp, requirement_id=request.POST.get("requirement"), file=upload,
                                 actor=request.user)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Evidence uploaded: %(name)s") % {"name": upload.name})
    return _back(request, opp)


@login_required
@require_POST
def checklist(request, pk):
    opp = _deal(request, pk)
    try:
        services.checklist_tick(opportunity=opp, requirement_id=request.POST.get("requirement"),
                                actor=request.user, done=request.POST.get("done", "1") == "1")
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    return _back(request, opp)


@login_required
@require_POST
def skip_review_decide(request, pk, decision):
    if decision not in ("approve", "reject"):
        raise Http404()
    review = get_object_or_404(StageSkipReview, pk=pk)
    opp = _deal(request, review.opportunity_id)
    service = services.skip_review_approve if decision == "approve" else services.skip_review_reject
    try:
        service(review=review, actor=request.user, note=request.POST.get("note", ""))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Review saved."))
    return _back(request, opp)


@login_required
def board_default(request):
    from baton.opportunities.services import pipeline_ensure_default

    return redirect("opportunities:board", pipeline_id=pipeline_ensure_default().pk)


# --- settings: pipelines, stages and gates (ops) ----------------------------------------------------------

def _ops(request):
    if not (request.user.is_superuser or request.user.has_role("ops")):
        raise DjangoPermissionDenied()


def _dwell_rules(stages) -> dict:
    from baton.process.models import StageDwellRule

    return {r.stage_id: r for r in StageDwellRule.objects.filter(stage__in=stages)}


@login_required
def pipeline_settings(request):
    """/opportunities/settings/pipelines/: every pipeline with its stages, and a form for a new one."""
    _ops(request)
    form = PipelineForm(data=request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = services.pipeline_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            g.apply_domain_error(form, exc)
        else:
            messages.success(request, _("%(name)s was created.") % {"name": pipeline})
            return redirect("opportunities:pipeline_settings_edit", pk=pipeline.pk)
    pipelines = list(Pipeline.objects.prefetch_related("stages"))
    counts = dict(Opportunity.objects.order_by().values("pipeline").annotate(n=Count("id"))
                  .values_list("pipeline", "n"))
    return render(request, "opportunities/settings/pipelines.html", {
        "title": _("Pipelines & gates"), "section": "settings", "form": form,
        "pipelines": [{"pipeline": p, "stages": sorted(p.stages.all(), key=lambda s: s.position),
                       "deals": counts.get(p.pk, 0)} for p in pipelines],
    })


@login_required
def pipeline_settings_edit(request, pk):
    """One pipeline: rename it, and its stages in order (add, edit, reorder, delete)."""
    _ops(request)
    pipeline = get_object_or_404(Pipeline, pk=pk)
    op = request.POST.get("op") if request.method == "POST" else None
    form = PipelineForm(data=request.POST if op == "rename" else None, instance=copy.copy(pipeline),
                        user=request.user)
    stage_form = StageForm(data=request.POST if op == "add_stage" else None, prefix="stage", user=request.user,
                           initial={"kind": Stage.Kind.OPEN, "color": "blue", "probability": 10})
    if op == "rename" and form.is_valid():
        try:
            services.pipeline_update(pipeline=pipeline, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            g.apply_domain_error(form, exc)
        else:
            messages.success(request, _("%(name)s was saved.") % {"name": pipeline})
            return redirect("opportunities:pipeline_settings_edit", pk=pk)
    if op == "add_stage" and stage_form.is_valid():
        try:
            stage = services.stage_create(pipeline=pipeline, actor=request.user, **stage_form.cleaned_data)
        except DomainError as exc:
            g.apply_domain_error(stage_form, exc)
        else:
            messages.success(request, _("%(name)s was created.") % {"name": stage})
            return redirect("opportunities:pipeline_settings_edit", pk=pk)
    stages = list(pipeline.stages.order_by("position"))
    dwell = _dwell_rules(stages)
    deals = gates.stage_counts_for(Opportunity.objects.filter(pipeline=pipeline))
    reqs = dict(StageRequirement.objects.filter(stage__in=stages).order_by().values("stage")
                .annotate(n=Count("id")).values_list("stage", "n"))
    return render(request, "opportunities/settings/pipeline.html", {
        "title": pipeline.name, "section": "settings", "pipeline": pipeline, "form": form,
        "stage_form": stage_form,
        "stages": [{"stage": s, "dwell": dwell.get(s.pk), "deals": deals.get(s.pk, 0), "requirements": reqs.get(s.pk, 0),
                    "first": i == 0, "last": i == len(stages) - 1} for i, s in enumerate(stages)],
    })


@login_required
def stage_settings(request, pk):
    """One stage: its settings (incl. dwell rule) and its gate (entry requirements)."""
    _ops(request)
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    rule = _dwell_rules([stage]).get(stage.pk)
    initial = {"max_dwell_days": rule.max_business_days if rule else None,
               "handbook_url": rule.handbook_url if rule else ""}
    form = StageForm(data=request.POST or None, instance=copy.copy(stage), initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.stage_update(stage=stage, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            g.apply_domain_error(form, exc)
        else:
            messages.success(request, _("%(name)s was saved.") % {"name": stage})
            return redirect("opportunities:stage_settings", pk=pk)
    return render(request, "opportunities/settings/stage.html", {
        "title": stage.name, "section": "settings", "stage": stage, "pipeline": stage.pipeline, "form": form,
        "requirements": list(stage.requirements.order_by("position", "id")),
        "deals": Opportunity.objects.filter(stage=stage).count(),
    })


@login_required
@require_POST
def stage_shift(request, pk, direction):
    _ops(request)
    stage = get_object_or_404(Stage, pk=pk)
    if direction not in ("up", "down"):
        raise Http404()
    try:
        services.stage_shift(stage=stage, offset=-1 if direction == "up" else 1, actor=request.user)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    return redirect("opportunities:pipeline_settings_edit", pk=stage.pipeline_id)


@login_required
@require_POST
def stage_reorder(request, pk):
    """Drag-and-drop order: `stage` repeated, every stage id of the pipeline in the new order."""
    _ops(request)
    pipeline = get_object_or_404(Pipeline, pk=pk)
    try:
        services.stage_reorder(pipeline=pipeline, stage_ids=request.POST.getlist("stage"), actor=request.user)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    return redirect("opportunities:pipeline_settings_edit", pk=pk)


@login_required
@require_POST
def stage_delete(request, pk):
    _ops(request)
    stage = get_object_or_404(Stage, pk=pk)
    try:
        services.stage_delete(stage=stage, actor=request.user)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("%(name)s was deleted.") % {"name": stage.name})
    return redirect("opportunities:pipeline_settings_edit", pk=stage.pipeline_id)


@login_required
def requirement_edit(request, stage_pk=None, pk=None):
    """Add (under a stage) or edit one entry requirement, with the condition builder for conditional ones."""
    _ops(request)
    requirement = None
    if pk is not None:
        requirement = get_object_or_404(StageRequirement.objects.select_related("stage__pipeline"), pk=pk)
        stage = requirement.stage
    else:
        stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=stage_pk)
    form = StageRequirementForm(data=request.POST or None, user=request.user,
                                instance=copy.copy(requirement) if requirement else None,
                                initial=None if requirement else {"kind": StageRequirement.Kind.EVIDENCE,
                                                                  "min_count": 1, "condition": "{}"})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if requirement is None:
                data.setdefault("position", stage.requirements.count())
                services._require_ops(request.user)
                requirement = services.stage_requirement_create(actor=request.user, stage=stage, **data)
                messages.success(request, _("%(name)s was created.") % {"name": requirement})
            else:
                services._require_ops(request.user)
                services.stage_requirement_update(requirement=requirement, actor=request.user, **data)
                messages.success(request, _("%(name)s was saved.") % {"name": requirement})
        except DomainError as exc:
            g.apply_domain_error(form, exc)
        else:
            return redirect("opportunities:stage_settings", pk=stage.pk)
    raw = form["condition"].value() or "{}"
    try:
        condition = json.loads(raw) if isinstance(raw, str) else (raw or {})
    except ValueError:
        condition = {}
    return render(request, "opportunities/settings/requirement_form.html", {
        "title": requirement.label if requirement else _("New requirement"), "section": "settings",
        "form": form, "stage": stage, "pipeline": stage.pipeline, "requirement": requirement,
        "cb_input": "condition", "cb_model": "opportunity",
        "cb_value_json": json.dumps(condition if isinstance(condition, dict) else {}, ensure_ascii=False),
        "cb_empty_text": _("No conditions: the requirement applies to every deal."),
    })


@login_required
@require_POST
def requirement_delete(request, pk):
    _ops(request)
    requirement = get_object_or_404(StageRequirement, pk=pk)
    stage_id = requirement.stage_id
    try:
        services._require_ops(request.user)
        services.stage_requirement_delete(requirement=requirement, actor=request.user)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("%(name)s was deleted.") % {"name": requirement.label})
    return redirect("opportunities:stage_settings", pk=stage_id)
