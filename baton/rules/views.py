"""/rules/: the rule builder (tagging and scoring rules with a visual condition editor and a live preview),
grade bands, and the progress of the background re-evaluation after a save."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.core.errors import DomainError
from baton.core.views_generic import apply_domain_error
from baton.rules import selectors, services
from baton.rules.forms import GradeBandsForm, ScoringRuleForm, TaggingRuleForm
from baton.rules.models import RuleRun, RuleType, ScoringRule, TaggingRule

READ_ROLES = ("ops", "director", "manager")
TYPES = {
    "scoring": (RuleType.SCORING, ScoringRule, ScoringRuleForm),
    "tagging": (RuleType.TAGGING, TaggingRule, TaggingRuleForm),
}


def _may(user, roles) -> bool:
    return user.is_superuser or any(user.has_role(r) for r in roles)


def _reader(request):
    if not _may(request.user, READ_ROLES):
        raise PermissionDenied()


def _admin(request):
    if not _may(request.user, ("ops",)):
        raise PermissionDenied()


def _type(rule_type):
    if rule_type not in TYPES:
        raise Http404()
    return TYPES[rule_type]


def _latest_run(rule_type, rule):
    return selectors.rule_run_list().filter(rule_type=rule_type, rule_id=rule.pk).first()


@login_required
def rule_list(request):
    _reader(request)
    return render(request, "rules/rule_list.html", {
        "scoring_rules": selectors.scoring_rule_list(),
        "tagging_rules": selectors.tagging_rule_list(),
        "bands": services.grade_bands_get(),
        "runs": selectors.rule_run_list()[:5],
        "can_edit": _may(request.user, ("ops",)),
    })


def _initial(rule_type, rule):
    if rule is None:
        return {"condition": "{}", "active": True, "priority": 100}
    data = {"name": rule.name, "priority": rule.priority, "active": rule.active,
            "condition": json.dumps(rule.condition or {}, ensure_ascii=False)}
    if rule_type == "scoring":
        data.update(points=rule.points, kind=rule.kind, event_kind=rule.event_kind,
                    half_life_hours=rule.half_life_hours)
    else:
        data["tags"] = ", ".join(rule.tags)
    return data


@login_required
def rule_edit(request, rule_type, pk=None):
    _admin(request)
    kind, model, form_class = _type(rule_type)
    rule = None
    if pk is not None:
        rule = model.objects.filter(pk=pk).first()
        if rule is None:
            raise Http404()
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                if rule is None:
                    rule = services.rule_create(rule_type=kind, actor=request.user, **data)
                    messages.success(request, _("%(name)s was created.") % {"name": rule})
                else:
                    rule = services.rule_update(rule=rule, actor=request.user, **data)
                    messages.success(request, _("%(name)s was saved.") % {"name": rule})
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                url = reverse("rules:edit", args=[rule_type, rule.pk])
                run = _latest_run(kind, rule)
                return HttpResponseRedirect(f"{url}?run={run.pk}" if run else url)
    else:
        form = form_class(initial=_initial(rule_type, rule))
    condition = form["condition"].value() or "{}"
    try:
        condition_value = json.loads(condition)
    except ValueError:
        condition_value = {}
    run = None
    if rule is not None and request.GET.get("run", "").isdigit():
        run = RuleRun.objects.filter(pk=int(request.GET["run"])).first()
    versions = selectors.rule_versions(rule_type=kind, rule_id=rule.pk)[:10] if rule is not None else []
    return render(request, "rules/rule_form.html", {
        "form": form, "rule": rule, "rule_type": rule_type,
        "title": (_("New scoring rule") if rule_type == "scoring" else _("New tagging rule")) if rule is None
        else rule.name,
        "cb_input": "condition", "cb_value_json": json.dumps(condition_value, ensure_ascii=False),
        "run": run, "versions": versions,
    })


@login_required
@require_POST
def rule_delete(request, rule_type, pk):
    _admin(request)
    _kind, model, _form = _type(rule_type)
    rule = model.objects.filter(pk=pk).first()
    if rule is None:
        raise Http404()
    try:
        services.rule_delete(rule=rule, actor=request.user)
        messages.success(request, _("%(name)s was deleted.") % {"name": rule.name})
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return HttpResponseRedirect(reverse("rules:list"))


@login_required
def run_progress(request, pk):
    """The progress of a re-evaluation run (polled by htmx until it is done or failed)."""
    _reader(request)
    run = RuleRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404()
    return render(request, "rules/partials/run_progress.html", {"run": run})


@login_required
def grade_bands(request):
    _admin(request)
    bands = services.grade_bands_get()
    form = GradeBandsForm(request.POST or None, initial={"a_min": bands.a_min, "b_min": bands.b_min})
    if request.method == "POST" and form.is_valid():
        try:
            services.grade_bands_update(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, _("Grade bands saved; open leads are being re-graded."))
            return HttpResponseRedirect(reverse("rules:list"))
    return render(request, "rules/grade_bands.html", {"form": form, "bands": bands})
