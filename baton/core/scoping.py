"""Data scopes: the one function every list, detail, export and API answer goes through.

A role grants, per action, a scope: none < own < team < region < all. A user holding several roles gets
the widest. Each scoped model names the path to the user who owns a row (`scope_owner_field`) and,
optionally, the path to its region (`scope_region_field`) so that unowned rows (a lead waiting in a
region's pool) are visible to that region's directors.
"""

from django.db.models import Q, QuerySet

NONE, OWN, TEAM, REGION, ALL = "none", "own", "team", "region", "all"
SCOPE_ORDER = [NONE, OWN, TEAM, REGION, ALL]
ACTIONS = ("view", "change", "delete")

# role -> action -> scope. Changes here change who sees what: the matrix test reads this table.
POLICY: dict[str, dict[str, str]] = {
    "rep": {"view": OWN, "change": OWN, "delete": NONE},
    "mentor": {"view": TEAM, "change": OWN, "delete": NONE},
    "manager": {"view": TEAM, "change": TEAM, "delete": TEAM},
    "director": {"view": REGION, "change": REGION, "delete": REGION},
    "presales": {"view": TEAM, "change": OWN, "delete": NONE},
    "legal": {"view": OWN, "change": OWN, "delete": NONE},
    "finance": {"view": OWN, "change": OWN, "delete": NONE},
    "delivery": {"view": OWN, "change": OWN, "delete": NONE},
    "csm": {"view": TEAM, "change": OWN, "delete": NONE},
    "ops": {"view": ALL, "change": ALL, "delete": ALL},
}

# (role, model label) -> action -> scope: where a role's reach differs for one kind of record.
# Legal and finance review every deal and customer, but do not work leads.
OVERRIDES: dict[tuple[str, str], dict[str, str]] = {
    ("legal", "opportunities.opportunity"): {"view": ALL},
    ("legal", "accounts.account"): {"view": ALL},
    ("legal", "accounts.contact"): {"view": ALL},
    ("finance", "opportunities.opportunity"): {"view": ALL},
    ("finance", "accounts.account"): {"view": ALL},
    ("finance", "accounts.contact"): {"view": ALL},
}


def role_scope(role: str, model_label: str, action: str) -> str:
    override = OVERRIDES.get((role, model_label), {})
    return override.get(action) or POLICY.get(role, {}).get(action, NONE)


def scope_for(user, model, action: str) -> str:
    if user is None or not user.is_authenticated or not user.is_active:
        return NONE
    if user.is_superuser:
        return ALL
    label = model._meta.label_lower
    best = NONE
    for role in user.role_codes:
        scope = role_scope(role, label, action)
        if SCOPE_ORDER.index(scope) > SCOPE_ORDER.index(best):
            best = scope
    return best


def scope_q(user, model, scope: str) -> Q | None:
    """The filter for `scope`; None means everything."""
    if scope == ALL:
        return None
    owner = getattr(model, "scope_owner_field", None)
    # Configuration rows (custom fields, rules, pools) have no owner: only an "all" scope reaches them.
    if scope == NONE or owner is None:
        return Q(pk__in=[])
    region_path = getattr(model, "scope_region_field", None)
    if scope == OWN:
        return Q(**{owner: user.pk})
    if scope == TEAM:
        return Q(**{f"{owner}__in": user.team_member_ids()})
    if scope == REGION:
        if user.region_id is None:
            return Q(**{owner: user.pk})
        q = Q(**{f"{owner}__region": user.region_id})
        if region_path:
            q |= Q(**{region_path: user.region_id})
        return q
    raise ValueError(scope)


def restrict(qs: QuerySet, user, action: str = "view") -> QuerySet:
    """`qs` narrowed to what `user` may `action`. Every read of business data starts here."""
    scope = scope_for(user, qs.model, action)
    q = scope_q(user, qs.model, scope)
    return qs if q is None else qs.filter(q)


def can(user, model, action: str) -> bool:
    return scope_for(user, model, action) != NONE
