from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def money(value) -> str:
    """An amount with thousands grouped and two decimals (1,234,567.00), the same in every language."""
    try:
        return f"{Decimal(value or 0):,.2f}"
    except (InvalidOperation, TypeError, ValueError):
        return ""
