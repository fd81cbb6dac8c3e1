"""Reads for the notification settings pages (ops only: channels and the outbox are company-wide)."""

from django.db.models import Count, Q

from .models import Channel, OutboxMessage


def channel_list():
    return (Channel.objects.select_related("team", "region")
            .annotate(dead=Count("messages", filter=Q(messages__status=OutboxMessage.Status.DEAD)),
                      pending=Count("messages", filter=Q(messages__status=OutboxMessage.Status.PENDING)))
            .order_by("name"))


def dead_letters(*, channel=None):
    qs = OutboxMessage.objects.filter(status=OutboxMessage.Status.DEAD).select_related("channel")
    if channel:
        qs = qs.filter(channel_id=channel)
    return qs.order_by("-created_at", "-id")
