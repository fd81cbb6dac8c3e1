import functools
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Max

from baton.capture import dedupe
from baton.capture.models import DedupePolicy, IntakeForm, IntakeSubmission
from baton.core import config_cache, rawread, scoping
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


class _Match(NamedTuple):
    """A lead that matched (its keys only) and, whole, the lead it points at: itself when it points nowhere."""

    pk: int
    duplicate_of_id: int | None
    source: str
    external_id: str
    phone_norm: str
    email_norm: str
    original: Lead


_MATCH_KEYS = ("id", "duplicate_of_id", "source", "external_id", "phone_norm", "email_norm")


@functools.cache
def _statements(vendor: str) -> dict[str, str]:
    """The fixed parts of the lookup's SQL for `vendor`, composed once: every capture runs them."""
    quote = connection.ops.quote_name
    table = quote(Lead._meta.db_table)

    def col(field, alias="l"):
        return f"{alias}.{quote(Lead._meta.get_field(field).column)}"

    # PostgreSQL answers LIKE 'ab%' from the varchar_pattern_ops index Django adds for db_index CharFields;
    # SQLite's LIKE is case-insensitive and cannot use the index, a binary range can (UTF-8 sorts by code point).
    prefix = (f"{col('company_norm')} >= %s AND {col('company_norm')} < %s" if vendor == "sqlite"
              else f"{col('company_norm')} LIKE %s")
    # Newest first, but never by walking the created_at index: with ORDER BY … LIMIT, SQLite may prefer that
    # walk (a scan of every lead) to the key indexes; `+col` is an expression no index can serve.
    newest = f"+{col('created_at')}" if vendor == "sqlite" else col("created_at")
    return {
        # Each matched lead `l` with the lead it points at, `r`, in the same row: `_root`'s first hop is free.
        "matches": (f"SELECT {', '.join(col(f) for f in _MATCH_KEYS)}, {rawread.reader(Lead, 'r').columns} "
                    f"FROM {table} l JOIN {table} r ON {col('id', 'r')} = COALESCE({col('duplicate_of')}, "
                    f"{col('id')}) WHERE "),
        # The partial unique index on (source, external id) holds only non-empty ids: repeating its predicate
        # in its own words lets the planner use it with a bound parameter (SQLite scanned every lead without).
        "external_id": f"({col('source')} = %s AND {col('external_id')} = %s AND NOT ({col('external_id')} = ''))",
        "phone": f"{col('phone_norm')} = %s",
        "email": f"{col('email_norm')} = %s",
        "newest_first": f" ORDER BY {newest} DESC, {col('id')} DESC LIMIT %s",
        "id_in": f"{col('id')} IN ",
        "candidates": (f"SELECT {col('id')}, {col('company_norm')}, {col('duplicate_of')} FROM {table} l "
                       f"WHERE {prefix} ORDER BY {newest} DESC LIMIT %s"),
    }


def _prefix_params(prefix: str) -> list[str]:
    if connection.vendor == "sqlite":
        return [prefix, prefix + "\U0010ffff"]
    # A literal prefix: LIKE's wildcards in it escaped, as Django's startswith does.
    return [connection.ops.prep_for_like_query(prefix) + "%"]


def _has_key(lead, reason: str, data: dict, phone: str, email: str, external_id: str) -> bool:
    if reason == "external_id":
        return lead.source == (data.get("source") or "") and lead.external_id == external_id
    if reason == "phone":
        return lead.phone_norm == phone
    return lead.email_norm == email


def _matches(sql: str, params: list) -> list[_Match]:
    """The rows of a "matches" statement; a Lead is built once for each distinct original."""
    reader = rawread.reader(Lead, "r")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    originals: dict[int, Lead] = {}
    out = []
    for row in rows:
        original_pk = row[0] if row[1] is None else row[1]
        original = originals.get(original_pk)
        if original is None:
            original = originals[original_pk] = reader.instance(row, len(_MATCH_KEYS))
        out.append(_Match(*row[:len(_MATCH_KEYS)], original))
    return out


def _root(match: _Match) -> Lead:
    """A flagged or merged duplicate points at its original: match that one."""
    lead = match.original
    seen = {match.pk, lead.pk}
    while lead.duplicate_of_id and lead.duplicate_of_id not in seen:
        seen.add(lead.duplicate_of_id)
        lead = lead.duplicate_of
    return lead


def lead_find_duplicates(data: dict, *, threshold: int | None = None, exclude_pk=None) -> list[tuple]:
    """Existing leads `data` duplicates, as [(lead, [reasons])], exact matches first.

    Reasons: "external_id" (same source + external id), "phone", "email" (normalised), "company" (fuzzy name
    among leads sharing the first characters of the normalised name; indexed, never a full scan).
    Hand-written SQL: it runs on every capture, and the ORM's compilation and row building cost it more
    than the database did.
    """
    threshold = dedupe.DEFAULT_FUZZY_THRESHOLD if threshold is None else threshold
    found: dict[int, tuple[Lead, list[str]]] = {}
    order: list[int] = []

    def add(match, reason):
        lead = _root(match)
        if exclude_pk is not None and lead.pk == exclude_pk:
            return
        if lead.pk not in found:
            found[lead.pk] = (lead, [])
            order.append(lead.pk)
        if reason not in found[lead.pk][1]:
            found[lead.pk][1].append(reason)

    sql = _statements(connection.vendor)
    # Exact keys in one indexed query (an OR of three index lookups), each row's reasons told apart here;
    # rows keep the order of the per-key lookups: external id matches, then phone, then e-mail, newest first.
    keys = []
    external_id = (data.get("external_id") or "").strip()
    if external_id:
        keys.append(("external_id", [data.get("source") or "", external_id]))
    phone = data.get("phone_norm") or dedupe.normalise_phone(data.get("phone"))
    if phone:
        keys.append(("phone", [phone]))
    email = data.get("email_norm") or dedupe.normalise_email(data.get("email"))
    if email:
        keys.append(("email", [email]))
    if keys:
        matched = _matches(sql["matches"] + " OR ".join(sql[reason] for reason, _p in keys) + sql["newest_first"],
                           [p for _reason, params in keys for p in params] + [MAX_EXACT_MATCHES * len(keys)])
        for reason, _params in keys:
            for match in [m for m in matched if _has_key(m, reason, data, phone, email, external_id)]:
                add(match, reason)
    company = data.get("company_norm") or dedupe.normalise_company(data.get("company"))
    if company:
        # Names only for the comparison, and whole rows only for the originals the matches point at: in a
        # block of similar names most matches are flagged duplicates of the same few leads.
        with connection.cursor() as cursor:
            cursor.execute(sql["candidates"], [*_prefix_params(dedupe.blocking_key(company)), MAX_FUZZY_CANDIDATES])
            candidates = cursor.fetchall()
        scored = [(dedupe.company_similarity(company, name), pk, original) for pk, name, original in candidates]
        hits = [(score, original or pk) for score, pk, original in scored if score >= threshold]
        if hits:
            pks = list({pk for _score, pk in hits})
            in_pks = f"{sql['id_in']}({', '.join(['%s'] * len(pks))})"
            originals = {m.pk: m for m in _matches(sql["matches"] + in_pks, pks)}
            for _score, pk in sorted(hits, key=lambda sp: -sp[0]):
                add(originals[pk], "company")
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
