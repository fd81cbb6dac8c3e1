from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_why(context, lead):
    """Why the lead has its score, tags and owner (for the "Why" card on the lead page)."""
    from baton.assignment.selectors import BOARD_ROLES, lead_explanations
    from baton.rules.selectors import lead_explanations as rule_explanations

    user = context.get("user")
    out = {**rule_explanations(lead), **lead_explanations(lead)}
    out["can_reassign"] = bool(user and user.is_authenticated and (
        user.is_superuser or any(user.has_role(r) for r in BOARD_ROLES)))
    return out
