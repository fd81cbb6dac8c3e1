"""The ceiling for `POST /api/leads`: a minimal Django endpoint that validates a JSON lead and inserts one
row into the same indexed lead table (no auth, no rules, no assignment, no audit)."""

import json
import re

from django.db import transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from baton.core import clock
from baton.leads.models import Lead, LeadSource

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SOURCES = set(LeadSource.values)


@csrf_exempt
def bare_lead(request):
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "bad JSON"}, status=400)
    company, email = str(data.get("company", ""))[:200], str(data.get("email", ""))
    source = data.get("source", "other")
    if source not in _SOURCES or (email and not _EMAIL.match(email)):
        return JsonResponse({"detail": "invalid"}, status=422)
    now = clock.now()
    with transaction.atomic():
        lead = Lead.objects.create(company=company, email=email, email_norm=email.lower(), source=source,
                                   phone=str(data.get("phone", ""))[:30], created_at=now, updated_at=now)
    return JsonResponse({"id": lead.pk}, status=201)


urlpatterns = [path("api/bare-leads", bare_lead)]
