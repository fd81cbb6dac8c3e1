from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from baton.reports import selectors


@login_required
def pivot_page(request):
    return render(request, "reports/pivot.html", {"catalogue": selectors.catalogue()})


@login_required
def dashboard_page(request, key):
    from django.http import Http404

    from baton.reports import dashboards

    board = dashboards.render(key, user=request.user)
    if board is None:
        raise Http404()
    return render(request, "reports/dashboard.html", {"board": board})


@login_required
def dashboard_index(request):
    from django.shortcuts import redirect

    return redirect("reports:dashboard", key="lead-health")
