from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.core import views_generic as g
from baton.core.errors import DomainError, NotFound
from baton.opportunities.selectors import opportunity_get
from baton.process import selectors, services
from baton.process.api import period
from baton.process.models import RiskStrategy, label_of


def _error_text(exc: DomainError) -> str:
    return " ".join(m for _f, m in exc.errors) or str(exc.message)


def _dates(request):
    def parse(name):
        try:
            return parse_date(request.GET.get(name) or "")
        except ValueError:
            return None

    start, end = period(parse("from"), parse("to"))
    return start, end


def _may_see(user, rep) -> bool:
    return (user.is_superuser or user.has_role("ops") or user.has_role("director")
            or rep.pk in user.team_member_ids())


@login_required
def compliance(request):
    group = request.GET.get("group") if request.GET.get("group") in selectors.GROUPS else "rep"
    start, end = _dates(request)
    rows = selectors.compliance(user=request.user, group=group, start=start, end=end)
    key = request.GET.get("key")
    drill = None
    if key is not None:
        drill = list(selectors.compliance_drill(user=request.user, group=group, key=key, start=start, end=end)
                     .select_related("opportunity", "owner", "template"))
    total_due = sum(r["due"] for r in rows)
    total_on_time = sum(r["on_time"] for r in rows)
    return render(request, "process/compliance.html", {
        "title": _("Process compliance"), "section": "process", "group": group, "rows": rows, "drill": drill,
        "key": key, "start": start.date(), "end_day": end.date(), "to": request.GET.get("to", ""),
        "from": request.GET.get("from", ""), "groups": [("rep", _("Rep")), ("team", _("Team")),
                                                        ("region", _("Region"))],
        "total": {"due": total_due, "on_time": total_on_time,
                  "rate": total_on_time / total_due if total_due else None},
    })


def _axes_meta():
    return [("avg_stage_days", _("Average days per stage")), ("evidence_completeness", _("Evidence completeness")),
            ("alerts", _("Alerts triggered")), ("compliance", _("Compliance rate"))]


@login_required
def rep_radar(request, pk):
    from baton.org.models import User

    rep = get_object_or_404(User, pk=pk)
    if not _may_see(request.user, rep):
        raise Http404()
    start, end = _dates(request)
    team = list(User.objects.filter(team_id=rep.team_id, is_active=True)) if rep.team_id else [rep]
    values = selectors.radar(user=request.user, rep_ids=[u.pk for u in team], start=start, end=end)
    avg = selectors.team_average(values)
    axes = _axes_meta()
    mine = values.get(rep.pk, {})
    maxima = {a: max([v[a] or 0 for v in values.values()] + [avg[a] or 0]) for a, _l in axes}
    chart = {
        "indicator": [{"name": label, "max": 1 if a in ("evidence_completeness", "compliance")
                       else max(1, round(maxima[a] * 1.2, 2))} for a, label in axes],
        "series": [{"name": str(rep), "value": [mine.get(a) or 0 for a, _l in axes]},
                   {"name": _("Team average"), "value": [avg[a] or 0 for a, _l in axes]}],
    }
    return render(request, "process/rep_radar.html", {
        "title": _("Capability radar: %(rep)s") % {"rep": rep}, "section": "process", "rep": rep, "chart": chart,
        "rows": [{"label": label, "mine": mine.get(a), "avg": avg[a], "axis": a} for a, label in axes],
        "start": start.date(), "from": request.GET.get("from", ""), "to": request.GET.get("to", ""),
    })


@login_required
def team_radar(request, pk):
    from baton.org.models import Team, User

    team = get_object_or_404(Team, pk=pk)
    members = list(User.objects.filter(team=team, is_active=True))
    if not (request.user.is_superuser or request.user.has_role("ops") or request.user.has_role("director")
            or team.manager_id == request.user.pk or request.user.team_id == team.pk):
        raise Http404()
    start, end = _dates(request)
    values = selectors.radar(user=request.user, rep_ids=[u.pk for u in members], start=start, end=end)
    labels = {u.pk: str(u) for u in members}
    ranks = selectors.rankings(values, labels)
    return render(request, "process/team_radar.html", {
        "title": _("Team capability: %(team)s") % {"team": team}, "section": "process", "team": team,
        "axes": [{"axis": a, "label": label, "rows": ranks[a]} for a, label in _axes_meta()],
        "avg": selectors.team_average(values), "from": request.GET.get("from", ""), "to": request.GET.get("to", ""),
    })


@login_required
def my_team(request):
    if not request.user.team_id:
        raise Http404()
    return redirect("process:team_radar", pk=request.user.team_id)


def _action(request, pk, action="view"):
    try:
        return selectors.action_get(user=request.user, pk=pk, action=action)
    except NotFound:
        raise Http404() from None


def _form_fields(template):
    """The form's fields from the template's requirements, for rendering."""
    out = []
    for req in template.requirements:
        if req["type"] == "form":
            for f in req.get("fields", []):
                out.append({"name": f["name"], "label": label_of(f.get("label")), "type": f.get("type", "text")})
        elif req["type"] == "text_or_audio":
            out.append({"name": req["field"], "label": label_of(req.get("label")), "type": "textarea",
                        "help": _("Or upload a voice recording as evidence.")})
        elif req["type"] == "match":
            out.append({"name": req["items_field"], "label": _("Proposal items (one per line)"), "type": "list"})
            out.append({"name": req["history_field"], "label": _("Customer's purchase history (one per line)"),
                        "type": "list"})
        elif req["type"] == "risk_strategy":
            out.append({"name": "risk_type", "label": _("Risk type"), "type": "risk_type"})
            out.append({"name": "strategy", "label": _("Response strategy"), "type": "strategy"})
    return out


@login_required
def action_detail(request, pk):
    action = _action(request, pk)
    if request.method == "POST":
        action = _action(request, pk, "change")
        form = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "op")}
        try:
            if request.POST.get("op") == "save":
                services.action_save(action=action, form=form, actor=request.user)
                messages.success(request, _("Saved."))
            else:
                services.action_complete(action=action, form=form, actor=request.user)
                messages.success(request, _("Required action completed."))
                return redirect("opportunities:detail", pk=action.opportunity_id)
        except DomainError as exc:
            for _f, message in exc.errors or [(None, str(exc.message))]:
                messages.error(request, message)
        return redirect("process:action", pk=pk)
    action.refresh_from_db()
    fields = _form_fields(action.template)
    for f in fields:
        value = action.form_data.get(f["name"], "")
        f["value"] = "\n".join(value) if isinstance(value, list) else value
    from baton.core.models import Attachment

    return render(request, "process/action.html", {
        "title": action.template.name, "section": "opportunities", "action": action, "fields": fields,
        "evidence": list(action.evidence.all()), "kinds": Attachment.Kind.choices,
        "requirements": [{"type": r["type"], "label": label_of(r.get("label"))} for r in action.template.requirements],
        "risks": RiskStrategy.objects.filter(active=True).order_by("risk_type", "position"),
        "match": action.result.get("match"),
    })


@login_required
@require_POST
def action_evidence(request, pk):
    action = _action(request, pk, "change")
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file to upload."))
    else:
        try:
            services.action_attach(action=action, file=upload, kind=request.POST.get("kind", "document"),
                                   actor=request.user)
            messages.success(request, _("Evidence uploaded: %(name)s") % {"name": upload.name})
        except DomainError as exc:
            messages.error(request, _error_text(exc))
    return redirect("process:action", pk=pk)


@login_required
@require_POST
def signal(request, pk):
    try:
        deal = opportunity_get(user=request.user, pk=pk, action="change")
    except NotFound:
        raise Http404() from None
    try:
        raised = services.deal_signal(opportunity=deal, kind=request.POST.get("kind", ""),
                                      detail=request.POST.get("detail", ""), actor=request.user)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        if raised:
            messages.success(request, _("Required actions raised: %(names)s") % {
                "names": "、".join(a.template.name for a in raised)})
        else:
            messages.info(request, _("Signal recorded; no new required action."))
    return redirect("opportunities:detail", pk=pk)


# --- settings: required-action templates and the risk strategy library (ops) -------------------------------

def _ops(request):
    from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

    if not (request.user.is_superuser or request.user.has_role("ops")):
        raise DjangoPermissionDenied()


@login_required
def settings_index(request):
    """/process/settings/: the golden six and custom required actions, and the risk strategy library."""
    from baton.process.forms import RiskStrategyForm
    from baton.process.models import ActionTemplate

    _ops(request)
    form = RiskStrategyForm(data=request.POST or None, user=request.user, initial={"position": 0, "active": True})
    if request.method == "POST" and form.is_valid():
        try:
            services.risk_strategy_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            g.apply_domain_error(form, exc)
        else:
            messages.success(request, _("Risk strategy added."))
            return redirect("process:settings")
    golden = {spec["code"] for spec in services.GOLDEN_SIX}
    return render(request, "process/settings.html", {
        "title": _("Required actions"), "section": "settings", "form": form, "golden": golden,
        "templates": list(ActionTemplate.objects.order_by("position", "code")),
        "risks": list(RiskStrategy.objects.order_by("risk_type", "position", "id")),
    })


@login_required
def template_edit(request, pk=None):
    import copy
    import json

    from baton.process.forms import ActionTemplateForm
    from baton.process.models import ActionTemplate

    _ops(request)
    template = get_object_or_404(ActionTemplate, pk=pk) if pk is not None else None
    form = ActionTemplateForm(data=request.POST or None, user=request.user,
                              instance=copy.copy(template) if template else None,
                              initial=None if template else {"trigger_kind": "event", "deadline_value": 24,
                                                             "deadline_unit": "hours", "warning_pct": 75,
                                                             "active": True, "requirements": "[]"})
    if request.method == "POST" and form.is_valid():
        try:
            if template is None:
                template = services.template_create(actor=request.user, **form.cleaned_data)
                messages.success(request, _("%(name)s was created.") % {"name": template})
            else:
                services.template_update(template=template, actor=request.user, **form.cleaned_data)
                messages.success(request, _("%(name)s was saved.") % {"name": template})
        except DomainError as exc:
            g.apply_domain_error(form, exc)
        else:
            return redirect("process:settings")
    raw = form["trigger_condition"].value() or "{}"
    try:
        condition = json.loads(raw) if isinstance(raw, str) else (raw or {})
    except ValueError:
        condition = {}
    return render(request, "process/template_form.html", {
        "title": template.name if template else _("New required action"), "section": "settings", "form": form,
        "template": template, "cb_input": "trigger_condition", "cb_model": "opportunity",
        "cb_value_json": json.dumps(condition if isinstance(condition, dict) else {}, ensure_ascii=False),
        "cb_empty_text": _("No condition yet: add one for a condition trigger."),
    })


@login_required
def risk_edit(request, pk):
    import copy

    from baton.process.forms import RiskStrategyForm

    _ops(request)
    strategy = get_object_or_404(RiskStrategy, pk=pk)
    form = RiskStrategyForm(data=request.POST or None, instance=copy.copy(strategy), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.risk_strategy_update(risk_strategy=strategy, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            g.apply_domain_error(form, exc)
        else:
            messages.success(request, _("%(name)s was saved.") % {"name": strategy})
            return redirect("process:settings")
    return render(request, "process/risk_form.html", {"title": str(strategy), "section": "settings", "form": form,
                                                      "strategy": strategy})


@login_required
@require_POST
def risk_delete(request, pk):
    _ops(request)
    strategy = get_object_or_404(RiskStrategy, pk=pk)
    try:
        services.risk_strategy_delete(risk_strategy=strategy, actor=request.user)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("%(name)s was deleted.") % {"name": strategy})
    return redirect("process:settings")
