from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from baton.reports import selectors


@login_required
def pivot_page(request):
    return render(request, "reports/pivot.html", {"catalogue": selectors.catalogue()})
