from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.capture import selectors, services
from baton.core.errors import DomainError, NotFound
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
