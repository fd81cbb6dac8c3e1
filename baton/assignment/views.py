"""/pools/: assignment pools (list, edit, members), absences, the live load board, and a manager's
reassignment of a lead. Thin views: one service call per write."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.assignment import selectors, services
from baton.assignment.forms import AbsenceForm, MemberForm, MemberUpdateForm, PoolForm, ReassignForm
from baton.assignment.models import MemberAbsence, Pool, PoolMember
from baton.core.errors import DomainError, NotFound
from baton.core.views_generic import apply_domain_error

VIEW_ROLES = selectors.BOARD_ROLES  # manager, director, ops
EDIT_ROLES = ("ops", "director")


def _may(user, roles) -> bool:
    return user.is_superuser or any(user.has_role(r) for r in roles)


def _need(request, roles):
    if not _may(request.user, roles):
        raise PermissionDenied()


def _pool(pk):
    pool = Pool.objects.filter(pk=pk).first()
    if pool is None:
        raise Http404()
    return pool


def _error_text(exc: DomainError) -> str:
    return " ".join([str(exc.message), *[str(m) for _f, m in exc.errors]])


@login_required
def pool_list(request):
    _need(request, VIEW_ROLES)
    pools = list(selectors.pool_list())
    for pool in pools:
        pool.member_rows = list(selectors.pool_members(pool))
        pool.condition_text = json.dumps(pool.condition or {}, ensure_ascii=False)
    return render(request, "assignment/pool_list.html", {"pools": pools, "can_edit": _may(request.user, EDIT_ROLES)})


@login_required
def pool_edit(request, pk=None):
    _need(request, EDIT_ROLES)
    pool = _pool(pk) if pk is not None else None
    if request.method == "POST":
        form = PoolForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                if pool is None:
                    pool = services.pool_create(actor=request.user, **data)
                    messages.success(request, _("%(name)s was created.") % {"name": pool})
                else:
                    services.pool_update(pool=pool, actor=request.user, **data)
                    messages.success(request, _("%(name)s was saved.") % {"name": pool})
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                return HttpResponseRedirect(reverse("assignment:edit", args=[pool.pk]))
    else:
        initial = {"priority": 100, "active": True, "condition": "{}", "dynamic_rule": ""}
        if pool is not None:
            initial = {"name": pool.name, "priority": pool.priority, "strategy": pool.strategy,
                       "action": pool.action, "region": pool.region_id, "active": pool.active,
                       "condition": json.dumps(pool.condition or {}, ensure_ascii=False),
                       "dynamic_rule": json.dumps(pool.dynamic_rule, ensure_ascii=False) if pool.dynamic_rule else ""}
        form = PoolForm(initial=initial)
    try:
        condition = json.loads(form["condition"].value() or "{}")
    except ValueError:
        condition = {}
    return render(request, "assignment/pool_form.html", {
        "form": form, "pool": pool, "title": pool.name if pool else _("New pool"),
        "cb_input": "condition", "cb_value_json": json.dumps(condition, ensure_ascii=False),
        "members": selectors.pool_members(pool) if pool else [],
        "member_form": MemberForm(), "backlog": selectors.backlog_list(pool)[:50] if pool else [],
    })


def _run_member_form(request, form, success: str, call) -> None:
    """Validate a pool-member form and call its service; the outcome (or the form's errors) becomes a message."""
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return
    try:
        call(**form.cleaned_data)
        messages.success(request, success)
    except DomainError as exc:
        messages.error(request, _error_text(exc))


@login_required
@require_POST
def member_add(request, pk):
    _need(request, VIEW_ROLES)
    pool = _pool(pk)
    _run_member_form(request, MemberForm(request.POST), _("Member added."),
                     lambda **data: services.member_add(pool=pool, actor=request.user, **data))
    return HttpResponseRedirect(reverse("assignment:edit", args=[pool.pk]))


@login_required
@require_POST
def member_update(request, pk):
    _need(request, VIEW_ROLES)
    member = PoolMember.objects.filter(pk=pk).select_related("pool").first()
    if member is None:
        raise Http404()
    if request.POST.get("remove"):
        services.member_remove(member=member, actor=request.user)
        messages.success(request, _("Member removed."))
    else:
        _run_member_form(request, MemberUpdateForm(request.POST), _("Member saved."),
                         lambda **data: services.member_update(member=member, actor=request.user, **data))
    return HttpResponseRedirect(reverse("assignment:edit", args=[member.pool_id]))


@login_required
@require_POST
def pool_delete(request, pk):
    _need(request, EDIT_ROLES)
    pool = _pool(pk)
    services.pool_delete(pool=pool, actor=request.user)
    messages.success(request, _("%(name)s was deleted.") % {"name": pool.name})
    return HttpResponseRedirect(reverse("assignment:list"))


@login_required
def absences(request):
    _need(request, VIEW_ROLES)
    form = AbsenceForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("delete"):
            absence = MemberAbsence.objects.filter(pk=request.POST["delete"]).first()
            if absence is None:
                raise Http404()
            services.absence_delete(absence=absence, actor=request.user)
            messages.success(request, _("Absence removed."))
            return HttpResponseRedirect(reverse("assignment:absences"))
        if form.is_valid():
            try:
                services.absence_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("Absence recorded."))
                return HttpResponseRedirect(reverse("assignment:absences"))
    return render(request, "assignment/absences.html", {"form": form, "absences": selectors.absence_list()[:200]})


@login_required
def board(request):
    try:
        data = selectors.assignment_board(user=request.user)
    except DomainError:
        raise PermissionDenied() from None
    for pool in data["pools"]:
        for m in pool["members"]:
            m["percent"] = min(100, round(100 * m["today"] / m["cap"])) if m["cap"] else 100
    template = "assignment/partials/board_body.html" if request.htmx else "assignment/board.html"
    return render(request, template, {"board": data})


@login_required
def reassign(request, lead_pk):
    from baton.leads import selectors as lead_selectors

    _need(request, ("manager", "director", "ops"))
    try:
        lead = lead_selectors.lead_get(user=request.user, pk=lead_pk, action="change")
    except NotFound:
        raise Http404() from None
    form = ReassignForm(request.POST or None, reasons=services.reassign_reasons(),
                        pools=Pool.objects.filter(active=True, action="assign"))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.lead_reassign(lead=lead, actor=request.user, reason_code=data["reason_code"],
                                   to_user=data["to_user"], pool=data["pool"], note=data["note"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, _("Lead reassigned."))
            return HttpResponseRedirect(reverse("leads:detail", args=[lead.pk]))
    return render(request, "assignment/reassign.html", {"form": form, "lead": lead})
