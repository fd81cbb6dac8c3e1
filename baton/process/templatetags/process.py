from django import template

from baton.process.selectors import actions_of_deal

register = template.Library()


@register.filter
def pct(value):
    """0.6667 → 66.7%; None → —."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.simple_tag
def required_actions(opportunity):
    return list(actions_of_deal(opportunity))
