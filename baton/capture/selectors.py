from django.db import connection
from django.db.models import Count, Max, Q

from baton.capture import dedupe
from baton.capture.models import DedupePolicy, IntakeForm, IntakeSubmission
from baton.core import config_cache, scoping
from baton.leads.models import Lead, LeadStatus

MAX_FUZZY_CANDIDATES = 200
MAX_EXACT_MATCHES = 50  # per key: a phone number shared by hundreds of leads is a switchboard, not a person


def policy_for(source: str) -> DedupePolicy:
    """The active policy for `source`, else the active default (source ""), else an unsaved built-in one."""
    policies = config_cache.cached("dedupe_policies", lambda: {
        p.source: p for p in DedupePolicy.objects.filter(active=True)})
    return policies.get(source or "") or policies.get("") or DedupePolicy(
        source="", action=DedupePolicy.Action.FLAG, fuzzy_threshold=dedupe.DEFAULT_FUZZY_THRESHOLD
    )


def _prefix_filter(prefix: str) -> dict:
    # PostgreSQL answers LIKE 'ab%' from the varchar_pattern_ops index Django adds for db_index CharFields;
    # SQLite's LIKE is case-insensitive and cannot use the index, a binary range can (UTF-8 sorts by code point).
    if connection.vendor == "sqlite":
        return {"company_norm__gte": prefix, "company_norm__lt": prefix + "\U0010ffff"}
    return {"company_norm__startswith": prefix}


def _has_key(lead: Lead, reason: str, data: dict, phone: str, email: str, external_id: str) -> bool:
    if reason == "external_id":
        return lead.source == (data.get("source") or "") and lead.external_id == external_id
    if reason == "phone":
        return lead.phone_norm == phone
    return lead.email_norm == email


def _root(lead: Lead) -> Lead:
    """A flagged or merged duplicate points at its original: match that one."""
    seen = {lead.pk}
    while lead.duplicate_of_id and lead.duplicate_of_id not in seen:
        seen.add(lead.duplicate_of_id)
        lead = lead.duplicate_of
    return lead


def lead_find_duplicates(data: dict, *, threshold: int | None = None, exclude_pk=None) -> list[tuple]:
    """Existing leads `data` duplicates, as [(lead, [reasons])], exact matches first.

    Reasons: "external_id" (same source + external id), "phone", "email" (normalised), "company" (fuzzy name
    among leads sharing the first characters of the normalised name; indexed, never a full scan).
    """
    threshold = dedupe.DEFAULT_FUZZY_THRESHOLD if threshold is None else threshold
    found: dict[int, tuple[Lead, list[str]]] = {}
    order: list[int] = []

    def add(lead, reason):
        lead = _root(lead)
        if exclude_pk is not None and lead.pk == exclude_pk:
            return
        if lead.pk not in found:
            found[lead.pk] = (lead, [])
            order.append(lead.pk)
        if reason not in found[lead.pk][1]:
            found[lead.pk][1].append(reason)

    base = Lead.objects.select_related("duplicate_of")
    # Exact keys in one indexed query (an OR of three index lookups), each row's reasons told apart here;
    # rows keep the order of the per-key lookups: external id matches, then phone, then e-mail, newest first.
    keys = []
    external_id = (data.get("external_id") or "").strip()
    if external_id:
        keys.append(("external_id", Q(source=data.get("source") or "", external_id=external_id)))
    phone = data.get("phone_norm") or dedupe.normalise_phone(data.get("phone"))
    if phone:
        keys.append(("phone", Q(phone_norm=phone)))
    email = data.get("email_norm") or dedupe.normalise_email(data.get("email"))
    if email:
        keys.append(("email", Q(email_norm=email)))
    if keys:
        any_key = Q()
        for _reason, q in keys:
            any_key |= q
        matched = list(base.filter(any_key)[:MAX_EXACT_MATCHES * len(keys)])
        for reason, _q in keys:
            for lead in [m for m in matched if _has_key(m, reason, data, phone, email, external_id)]:
                add(lead, reason)
    company = data.get("company_norm") or dedupe.normalise_company(data.get("company"))
    if company:
        block = dedupe.blocking_key(company)
        # Names only for the comparison, and whole rows only for the originals the matches point at: in a
        # block of similar names most matches are flagged duplicates of the same few leads.
        candidates = (Lead.objects.filter(**_prefix_filter(block)).order_by("-created_at")
                      .values_list("pk", "company_norm", "duplicate_of_id")[:MAX_FUZZY_CANDIDATES])
        scored = [(dedupe.company_similarity(company, name), pk, original) for pk, name, original in candidates]
        hits = [(score, original or pk) for score, pk, original in scored if score >= threshold]
        if hits:
            leads = {lead.pk: lead for lead in base.filter(pk__in={pk for _score, pk in hits})}
            for _score, pk in sorted(hits, key=lambda sp: -sp[0]):
                add(leads[pk], "company")
    return [found[pk] for pk in order]


def flagged_duplicates(*, user):
    """Leads waiting for a duplicate review (flagged, not yet merged) that `user` may change."""
    qs = (Lead.objects.filter(duplicate_of__isnull=False).exclude(status=LeadStatus.DISQUALIFIED)
          .select_related("duplicate_of", "owner", "duplicate_of__owner").order_by("-created_at", "-id"))
    return scoping.restrict(qs, user, "change")


def dedupe_policies():
    """Every de-duplication policy, the default (no source) first. Configuration: ops pages only."""
    return DedupePolicy.objects.order_by("source")


def intake_forms():
    """Every intake form with its submission count and the time of its last submission."""
    return IntakeForm.objects.annotate(submission_count=Count("submissions"),
                                       last_received=Max("submissions__received_at")).order_by("name")


def intake_recent_submissions(form: IntakeForm, n: int = 20):
    return list(IntakeSubmission.objects.filter(form=form).select_related("lead").order_by("-received_at", "-id")[:n])
