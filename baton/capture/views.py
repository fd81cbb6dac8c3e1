import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.capture import selectors, services
from baton.capture.forms import DedupePolicyForm, IntakeFormForm
from baton.capture.models import DedupePolicy, IntakeForm
from baton.core.errors import DomainError, NotFound
from baton.core.views_generic import save_form
from baton.leads import selectors as lead_selectors


def lead_get(*, user, pk, action):
    try:
        return lead_selectors.lead_get(user=user, pk=pk, action=action)
    except NotFound:
        raise Http404() from None


@login_required
def review(request):
    pairs = selectors.flagged_duplicates(user=request.user)[:200]
    return render(request, "capture/review.html", {"pairs": pairs})


@login_required
@require_POST
def review_merge(request, pk: int):
    lead = lead_get(user=request.user, pk=pk, action="change")
    try:
        if lead.duplicate_of_id is None:
            raise DomainError(_("This lead is not flagged as a duplicate."))
        into = lead_get(user=request.user, pk=lead.duplicate_of_id, action="change")
        services.duplicate_merge(lead=lead, into=into, actor=request.user)
        messages.success(request, _("Lead merged."))
    except DomainError as exc:
        messages.error(request, " ".join([str(exc.message), *[str(m) for _f, m in exc.errors]]))
    return redirect("capture:review")


@login_required
@require_POST
def review_dismiss(request, pk: int):
    lead = lead_get(user=request.user, pk=pk, action="change")
    try:
        services.duplicate_dismiss(lead=lead, actor=request.user)
        messages.success(request, _("Duplicate flag dismissed."))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return redirect("capture:review")


# --- Settings (sales ops): de-duplication policies and intake forms ------------------------------------------


def _ops(request):
    if not (request.user.is_superuser or request.user.has_role("ops")):
        raise PermissionDenied()


def _one(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise Http404()
    return obj


@login_required
def dedupe_list(request):
    _ops(request)
    return render(request, "capture/dedupe_list.html", {"policies": selectors.dedupe_policies()})


@login_required
def dedupe_edit(request, pk=None):
    _ops(request)
    policy = _one(DedupePolicy, pk) if pk is not None else None
    if request.method == "POST":
        form = DedupePolicyForm(request.POST)
        if save_form(request, form, policy, create=services.dedupe_policy_create,
                     update=lambda obj, **kw: services.dedupe_policy_update(policy=obj, **kw)):
            return redirect("capture:dedupe_list")
    elif policy is not None:
        form = DedupePolicyForm(initial={"lead_source": policy.source, "action": policy.action,
                                         "fuzzy_threshold": policy.fuzzy_threshold, "active": policy.active})
    else:
        form = DedupePolicyForm()
    status = 400 if request.method == "POST" else 200
    return render(request, "capture/dedupe_form.html", {"form": form, "policy": policy}, status=status)


@login_required
@require_POST
def dedupe_delete(request, pk):
    _ops(request)
    policy = _one(DedupePolicy, pk)
    services.dedupe_policy_delete(policy=policy, actor=request.user)
    messages.success(request, _("%(name)s was deleted.") % {"name": policy})
    return redirect("capture:dedupe_list")


@login_required
def intake_list(request):
    _ops(request)
    return render(request, "capture/intake_list.html", {"forms": selectors.intake_forms()})


def _snippet(request, form: IntakeForm) -> dict:
    url = request.build_absolute_uri(f"/api/intake/{form.key}")
    fields = [k for k in (form.field_mapping or {})] or ["company", "contact_name", "phone", "email"]
    html = render_to_string("capture/partials/intake_snippet.txt", {"url": url, "fields": fields, "form": form})
    sample = {name: "…" for name in fields}
    curl = (f"curl -X POST '{url}' \\\n  -H 'Content-Type: application/json' \\\n"
            f"  -d '{json.dumps(sample, ensure_ascii=False)}'")
    return {"url": url, "html": html.strip(), "curl": curl}


@login_required
def intake_edit(request, pk=None):
    _ops(request)
    obj = _one(IntakeForm, pk) if pk is not None else None
    if request.method == "POST":
        form = IntakeFormForm(request.POST)
        saved = save_form(request, form, obj, create=services.intake_form_create,
                          update=lambda o, **kw: services.intake_form_update(form=o, **kw))
        if saved:
            return redirect("capture:intake_edit", pk=saved.pk)
    elif obj is not None:
        form = IntakeFormForm(initial=IntakeFormForm.initial_for(obj))
    else:
        form = IntakeFormForm()
    ctx = {"form": form, "intake": obj, "targets": services.mapping_targets()}
    if obj is not None and obj.pk:
        obj.refresh_from_db()
        ctx["snippet"] = _snippet(request, obj)
        ctx["submissions"] = selectors.intake_recent_submissions(obj)
    return render(request, "capture/intake_form.html", ctx, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def intake_delete(request, pk):
    _ops(request)
    obj = _one(IntakeForm, pk)
    services.intake_form_delete(form=obj, actor=request.user)
    messages.success(request, _("%(name)s was deleted.") % {"name": obj})
    return redirect("capture:intake_list")
