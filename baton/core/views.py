from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.static import serve

from baton.org.services import user_set_language


@login_required
def home(request):
    """A small dashboard of the signed-in user's work, everything counted through the scoped selectors."""
    from datetime import datetime, time, timedelta

    from django.db.models import Count, Sum
    from django.utils import timezone

    from baton.activities.models import Task
    from baton.activities.selectors import task_list
    from baton.core import clock
    from baton.leads.models import OPEN_LEAD_STATUSES
    from baton.leads.selectors import lead_list
    from baton.opportunities.models import Opportunity
    from baton.opportunities.selectors import opportunity_list

    user = request.user
    today = timezone.localdate(clock.now())
    tomorrow = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    my_leads = lead_list(user=user).filter(owner=user, status__in=OPEN_LEAD_STATUSES)
    deals = opportunity_list(user=user).filter(status=Opportunity.Status.OPEN).aggregate(
        n=Count("id"), total=Sum("amount"))
    due = task_list(user=user).filter(assignee=user, status=Task.Status.OPEN, due_at__lt=tomorrow)
    return render(request, "core/home.html", {
        "my_open_leads": my_leads.count(),
        "open_deals": deals["n"] or 0,
        "open_amount": deals["total"] or 0,
        "tasks_due": due.count(),
        "recent_leads": my_leads[:5],
        "due_tasks": due.order_by("due_at")[:5],
        "now": clock.now(),
        "open_lead_statuses": [str(s) for s in OPEN_LEAD_STATUSES],
    })


@require_POST
def set_language(request):
    lang = request.POST.get("language", "")
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = "/"
    response = HttpResponseRedirect(nxt)
    if request.user.is_authenticated and lang in dict(settings.LANGUAGES):
        # The real row, not the request's lazy wrapper: the service audits it like any other write.
        user = get_user_model().objects.get(pk=request.user.pk)
        user_set_language(user=user, language=lang, actor=user)
    if lang in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


@login_required
def media(request, path, document_root=None):
    return serve(request, path, document_root=document_root)
