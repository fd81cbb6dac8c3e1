from django import template

register = template.Library()


@register.inclusion_tag("sla/partials/clock_card.html", takes_context=True)
def sla_clock_card(context, obj):
    """The item's clocks (on track / warning / breached, time left or overdue) and, when an alert is open,
    the one-click action panel (transfer, record a reason)."""
    from baton.assignment.services import reassign_reasons
    from baton.sla import selectors, services, views

    request = context.get("request")
    clocks = selectors.item_clocks(obj)
    for c in clocks:
        c["text"] = views.time_text(c["seconds"], c["state"])
        c["label"] = views.state_label(c["state"])
        c["colour"] = views.STATE_COLOURS[c["state"]]
    has_alert = services.open_crossings(obj).exists()
    ctx = {"clocks": clocks, "has_alert": has_alert, "object": obj, "request": request,
           "csrf_token": context.get("csrf_token"), "key": f"{services.target_of(obj)}:{obj.pk}",
           "next": request.get_full_path() if request else ""}
    if has_alert and request is not None:
        users, pools = views._transfer_targets(request.user)
        ctx.update(can_transfer=services.target_of(obj) == "leads" and views._can_transfer(request.user),
                   users=users, pools=pools, reasons=services.sla_reason_codes(),
                   reassign_reasons=reassign_reasons())
    return ctx


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag
def fmt_figure(key, value):
    from django.utils.translation import gettext as _

    if value is None:
        return "—"
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if key == "median_first_contact_minutes":
        return _("%(m)s min") % {"m": value}
    return str(value)


@register.simple_tag
def fmt_change(key, value):
    from django.utils.translation import gettext as _

    sign = "+" if value >= 0 else ""
    if key.endswith("_rate"):
        return f"{sign}{value * 100:.1f} pt"
    if key == "median_first_contact_minutes":
        return sign + _("%(m)s min") % {"m": value}
    return f"{sign}{value}"
