"""Pages: the phone page a rep uses on site, and the managers' overview (counts per rep, recent visits)."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from baton.accounts.selectors import account_list
from baton.core import clock
from baton.core.errors import NotFound
from baton.visits import selectors
from baton.visits.api import visit_out
from baton.visits.models import PhotoKind, Verdict


@login_required
def visit_new(request):
    """Start / photograph / end a visit. Talks to /api/visits with the session; resumes ?visit=<id>."""
    account = visit = None
    if request.GET.get("visit"):
        try:
            visit = visit_out(selectors.visit_get(user=request.user, pk=request.GET["visit"]))
        except NotFound:
            raise Http404() from None
    elif request.GET.get("account"):
        account = account_list(user=request.user).filter(pk=request.GET["account"]).first()
        if account is None:
            raise Http404()
    accounts = [] if (account or visit) else list(account_list(user=request.user).order_by("name")[:200])
    policy = selectors.visit_policy()
    return render(request, "visits/visit_new.html", {
        "account": account, "visit": visit, "accounts": accounts, "policy": policy,
        "kinds": [(k, str(label)) for k, label in PhotoKind.choices if k in policy.required_photo_kinds]
        or list(PhotoKind.choices),
    })


@login_required
def visit_overview(request):
    """Per rep: valid / invalid / suspicious / open visits over the last N days, and the latest visits."""
    try:
        days = max(1, min(366, int(request.GET.get("days", 30))))
    except ValueError:
        days = 30
    since = clock.now() - timedelta(days=days)
    qs = selectors.visit_list(user=request.user).filter(started_at__gte=since)
    verdict = request.GET.get("verdict")
    if verdict in Verdict.values:
        qs = qs.filter(verdict=verdict)
    return render(request, "visits/overview.html", {
        "counts": selectors.visit_counts_by_rep(user=request.user, since=since),
        "visits": [visit_out(v) for v in qs[:50]], "days": days, "verdict": verdict,
        "verdicts": Verdict.choices,
    })
