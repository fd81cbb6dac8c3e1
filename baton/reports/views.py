from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.core import errors
from baton.core.views_generic import apply_domain_error
from baton.reports import selectors, services


@login_required
def pivot_page(request):
    from baton.reports import exports

    return render(request, "reports/pivot.html", {"catalogue": selectors.catalogue(),
                                                  "async_rows": exports.async_threshold()})


@login_required
def dashboard_page(request, key):
    from baton.reports import dashboards

    board = dashboards.render(key, user=request.user)
    if board is None:
        raise Http404()
    return render(request, "reports/dashboard.html", {"board": board})


@login_required
def dashboard_index(request):
    from django.shortcuts import redirect

    return redirect("reports:dashboard", key="lead-health")


# --- Anomaly lights -----------------------------------------------------------------------------------------
def _can_evaluate(user):
    return user.is_superuser or any(user.has_role(r) for r in ("ops", "director", "manager"))


def _is_ops(user):
    return user.is_superuser or user.has_role("ops")


@login_required
def anomalies_page(request):
    return render(request, "reports/anomalies.html", {
        "board": selectors.anomaly_board(), "can_evaluate": _can_evaluate(request.user),
        "can_edit": _is_ops(request.user)})


@login_required
@require_POST
def anomalies_evaluate(request):
    from baton.reports import anomalies

    if not _can_evaluate(request.user):
        raise PermissionDenied()
    lights = anomalies.evaluate()
    red = sum(x.level == "red" for x in lights)
    yellow = sum(x.level == "yellow" for x in lights)
    messages.success(request, _("Evaluated now: %(red)d red, %(yellow)d yellow, %(n)d lights in all.")
                     % {"red": red, "yellow": yellow, "n": len(lights)})
    return HttpResponseRedirect(reverse("reports:anomalies"))


@login_required
def anomaly_rule_edit(request, pk):
    from baton.reports.forms import AnomalyRuleForm
    from baton.reports.models import AnomalyRule

    if not _is_ops(request.user):
        raise PermissionDenied()
    rule = AnomalyRule.objects.filter(pk=pk).first()
    if rule is None:
        raise Http404()
    if request.method == "POST":
        import copy

        form = AnomalyRuleForm(request.POST, instance=copy.copy(rule), user=request.user)
        if form.is_valid():
            try:
                services.anomaly_rule_update(rule=rule, actor=request.user, **form.cleaned_data)
            except errors.DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("%(name)s was saved.") % {"name": rule.name})
                return HttpResponseRedirect(reverse("reports:anomalies"))
    else:
        form = AnomalyRuleForm(instance=rule, user=request.user)
    return render(request, "reports/anomaly_rule_form.html", {"form": form, "rule": rule})


@login_required
def anomaly_rows(request, pk):
    """The rows behind a light (or, with ?cause=1, behind its likely cause): its stored drill request."""
    from baton.reports.models import AnomalyLight

    light = AnomalyLight.objects.select_related("rule").filter(pk=pk).first()
    if light is None:
        raise Http404()
    cause = request.GET.get("cause") == "1"
    drill = (light.detail.get("cause") or {}).get("drill") if cause else light.detail.get("drill")
    if not drill:
        raise Http404()
    try:
        result = selectors.pivot_rows(user=request.user, source=drill["source"], dimensions=drill["dimensions"],
                                      cell=drill.get("cell") or {}, filters=drill.get("filters"), limit=500)
    except errors.ValidationFailed as exc:
        result = {"rows": [], "total": 0, "limit": 500, "error": str(exc)}
    columns = [k for k in (result["rows"][0] if result["rows"] else {}) if k != "url"]
    table = [{"cells": [r.get(c) for c in columns], "url": r.get("url")} for r in result["rows"]]
    return render(request, "reports/anomaly_rows.html", {"light": light, "result": result, "cause": cause,
                                                         "columns": columns, "table": table, "drill": drill})


# --- Finance review of held amounts ------------------------------------------------------------------------
def _finance(request):
    u = request.user
    if not (u.is_superuser or u.has_role("finance") or u.has_role("ops")):
        raise PermissionDenied()


@login_required
def held_page(request):
    from baton.reports.forms import GuardForm

    _finance(request)
    status = request.GET.get("status", "held")
    status = status if status in ("held", "released", "corrected", "all") else "held"
    cfg = services.guard_config()
    form = GuardForm(instance=cfg, user=request.user)
    if request.method == "POST":
        import copy

        form = GuardForm(request.POST, instance=copy.copy(cfg), user=request.user)
        if form.is_valid():
            try:
                services.guard_config_update(actor=request.user, **form.cleaned_data)
            except errors.DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("The large-contract guard was saved."))
                return HttpResponseRedirect(reverse("reports:held"))
    items = selectors.held_list(user=request.user, status=None if status == "all" else status)
    return render(request, "reports/held.html", {"items": items[:500], "status": status, "form": form,
                                                 "cfg": cfg})


def _parts_from_post(post):
    amounts, dates = post.getlist("part_amount"), post.getlist("part_date")
    return [{"amount": a.strip().replace(",", ""), "invoice_date": d.strip()}
            for a, d in zip(amounts, dates, strict=False) if a.strip() or d.strip()]


@login_required
def held_detail(request, pk):
    _finance(request)
    try:
        held = selectors.held_get(user=request.user, pk=pk)
    except errors.NotFound:
        raise Http404() from None
    form_errors, parts, total_reason, note = [], [], "", ""
    if request.method == "POST":
        action = request.POST.get("action")
        note = request.POST.get("note", "").strip()
        try:
            if action == "approve":
                services.held_approve(held=held, actor=request.user, note=note)
                messages.success(request, _("Approved: the amount is released into reports."))
            elif action == "correct":
                parts = _parts_from_post(request.POST)
                total_reason = request.POST.get("total_reason", "").strip()
                services.held_correct(held=held, actor=request.user, parts=parts, note=note,
                                      total_reason=total_reason)
                messages.success(request, _("Corrected: the parts replace the held amount in reports."))
            else:
                raise Http404()
        except errors.DomainError as exc:
            form_errors = [str(m) for _f, m in exc.errors] or [str(exc.message)]
        else:
            return HttpResponseRedirect(reverse("reports:held_detail", args=[held.pk]))
    if not parts:
        parts = [{"amount": str(held.amount), "invoice_date": (held.invoice.invoice_date if held.invoice_id
                                                               else held.month).isoformat()}]
    return render(request, "reports/held_detail.html", {
        "held": held, "form_errors": form_errors, "parts": parts, "total_reason": total_reason, "note": note,
        "over_by": held.month_total - held.threshold})


# --- Background exports -------------------------------------------------------------------------------------
def _job(request, pk):
    try:
        return selectors.export_job_get(user=request.user, pk=pk)
    except errors.NotFound:
        raise Http404() from None


@login_required
def export_job_status(request, pk):
    """The progress card of a background export (HTMX polls it every second until it is done or failed)."""
    return render(request, "reports/partials/export_job.html", {"job": _job(request, pk)})


@login_required
def export_job_download(request, pk):
    from baton.reports import exports

    job = _job(request, pk)
    if job.status != "done" or not job.file:
        raise Http404()
    path = exports.export_dir() / job.file
    if not path.is_file():
        raise Http404()
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.file)
