"""Notifications: the in-app inbox, and the outbox that delivers to e-mail and group bots.

Delivery is at-least-once and never drops a message: a row is claimed (`sending`, with a lease) before the
request and finished after it; a worker killed in between leaves a `sending` row whose lease runs out and
the next run sends it again. Over a bot's rate limit, the owed messages are merged into one digest.
"""

import uuid
from datetime import timedelta

from django.core.files.storage import default_storage
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from baton.core import clock
from baton.core.errors import PermissionDenied
from baton.core.models import ChangeSource
from baton.core.services import create_object, record, update_object

from . import bots
from .models import Channel, Notification, OutboxMessage

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
LEASE_SECONDS = 120
DIGEST_MAX_CHARS = 3500


def _is_admin(actor) -> bool:
    return actor is None or actor.is_superuser or actor.has_role("ops")


# --- In-app inbox -----------------------------------------------------------------------------------------


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notification_mark_read(*, user, ids=None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())


# --- Sending ----------------------------------------------------------------------------------------------


def _in_app(link: str) -> str:
    """Absolute links (for bots and e-mail) become site-relative in the app, so they work on any host."""
    from django.conf import settings

    base = (getattr(settings, "BATON_BASE_URL", "") or "").rstrip("/")
    return link[len(base):] if base and link.startswith(base + "/") else link


def notify(*, users, title: str, text: str, link: str = "", key: str = "", team=None, region=None,
           bots_too: bool = True) -> int:
    """Tell `users` in the app; and (bots_too) every active channel whose scope covers `team`/`region`:
    bots get one message, e-mail channels one message to all recipients. `key` makes it idempotent."""
    now = clock.now()
    people = list({u.pk: u for u in users if u is not None and u.is_active}.values())
    Notification.objects.bulk_create(
        [Notification(recipient=u, title=title[:200], body=text, link=_in_app(link), key=key[:120], created_at=now)
         for u in people], ignore_conflicts=True)
    if not bots_too:
        return 0
    scope = Q(team__isnull=True, region__isnull=True)
    if team is not None:
        scope |= Q(team=team)
    if region is not None:
        scope |= Q(region=region, team__isnull=True)
    rows = []
    for channel in Channel.objects.filter(scope, active=True):
        payload = {"title": title, "text": text, "link": link}
        if channel.kind == Channel.Kind.EMAIL:
            payload["to"] = sorted({u.email for u in people if u.email})
            if not payload["to"]:
                continue
        dedupe = f"{key}:{channel.pk}" if key else f"once:{uuid.uuid4().hex}"
        rows.append(OutboxMessage(channel=channel, payload=payload, dedupe_key=dedupe[:200], created_at=now,
                                  next_attempt_at=now))
    OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def outbox_enqueue(*, channel: Channel, title: str, text: str, link: str = "", to=None, key: str = "",
                   attachments=None) -> None:
    """Queue one message. `attachments` (e-mail only): [{"name": storage name, "filename", "mimetype"}]."""
    payload = {"title": title, "text": text, "link": link}
    if to:
        payload["to"] = list(to)
    if attachments:
        payload["attachments"] = list(attachments)
    now = clock.now()
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(channel=channel, payload=payload, dedupe_key=(key or f"once:{uuid.uuid4().hex}")[:200],
                       created_at=now, next_attempt_at=now)], ignore_conflicts=True)


def _room(channel: Channel, now) -> int | None:
    """How many more messages the channel's bot accepts right now (None: no limit)."""
    limits = bots.RATE_LIMITS.get(channel.kind) or []
    if not limits:
        return None
    room = None
    for window, cap in limits:
        used = OutboxMessage.objects.filter(channel=channel, status=OutboxMessage.Status.SENT,
                                            sent_at__gt=now - timedelta(seconds=window)).count()
        room = cap - used if room is None else min(room, cap - used)
    return max(room, 0)


def _digest_payload(messages) -> dict:
    lines, used = [], 0
    for i, m in enumerate(messages):
        line = f"- {m.payload.get('title', '')}"
        if m.payload.get("link"):
            line += f" {m.payload['link']}"
        if used + len(line) > DIGEST_MAX_CHARS:
            lines.append(_("… and %(n)s more.") % {"n": len(messages) - i})
            break
        lines.append(line)
        used += len(line) + 1
    return {"title": _("%(n)s alerts") % {"n": len(messages)}, "text": "\n".join(lines), "link": "",
            "digest_of": [m.pk for m in messages]}


def _send(message: OutboxMessage) -> bots.Outcome:
    channel = message.channel
    payload = message.payload
    if channel.kind == Channel.Kind.EMAIL:
        body = payload.get("text", "")
        if payload.get("link"):
            body += f"\n\n{payload['link']}"
        try:
            mail = EmailMessage(subject=payload.get("title", "")[:200], body=body, to=payload.get("to") or [],
                                connection=get_connection(timeout=10))
            for item in payload.get("attachments") or []:
                with default_storage.open(item["name"], "rb") as fh:
                    mail.attach(item.get("filename") or item["name"].rsplit("/", 1)[-1], fh.read(),
                                item.get("mimetype") or "application/octet-stream")
            mail.send()
        except Exception as exc:  # noqa: BLE001 - any SMTP failure is retried
            return bots.Outcome(False, False, f"{type(exc).__name__}: {exc}")
        return bots.Outcome(True)
    if channel.message_format:
        payload = {**payload, "format": channel.message_format}
    return bots.post(channel.kind, channel.webhook_url, channel.secret, payload)


def _finish(message: OutboxMessage, outcome: bots.Outcome, now) -> str:
    if outcome.ok:
        OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.SENT, sent_at=now,
                                                           lease_until=None, last_error="")
        return "sent"
    if outcome.rate_limited:  # the vendor says later: not the message's fault, no attempt spent
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxMessage.Status.PENDING, lease_until=None, last_error=outcome.error[:2000],
            next_attempt_at=now + timedelta(seconds=60))
        return "rate_limited"
    attempts = message.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.DEAD, attempts=attempts,
                                                           lease_until=None, last_error=outcome.error[:2000])
        return "dead"
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX_SECONDS)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.PENDING, attempts=attempts, lease_until=None,
        last_error=outcome.error[:2000], next_attempt_at=now + timedelta(seconds=delay))
    return "retry"


def _deliver_channel(channel: Channel, now, stats: dict) -> None:
    due = list(OutboxMessage.objects.filter(channel=channel, status=OutboxMessage.Status.PENDING,
                                            next_attempt_at__lte=now).order_by("created_at", "id"))
    if not due:
        return
    room = _room(channel, now)
    if room is not None and room <= 0:
        stats["waiting"] += len(due)
        return
    batch = due
    if room is not None and len(due) > room:
        # Over the limit: send what fits, and merge the rest into one digest (never drop).
        batch, rest = due[: room - 1], due[room - 1:]
        with transaction.atomic():
            digest = OutboxMessage.objects.create(
                channel=channel, payload=_digest_payload(rest), dedupe_key=f"digest:{uuid.uuid4().hex}",
                created_at=now, next_attempt_at=now)
            merged = OutboxMessage.objects.filter(pk__in=[m.pk for m in rest],
                                                  status=OutboxMessage.Status.PENDING)
            n = merged.update(status=OutboxMessage.Status.MERGED, merged_into=digest, lease_until=None)
            if n != len(rest):  # another worker took some of them meanwhile: rebuild from what we merged
                taken = list(OutboxMessage.objects.filter(merged_into=digest).order_by("created_at", "id"))
                digest.payload = _digest_payload(taken)
                digest.save(update_fields=["payload"])
        stats["merged"] += n
        batch = [*batch, digest]
    for message in batch:
        claimed = OutboxMessage.objects.filter(pk=message.pk, status=OutboxMessage.Status.PENDING).update(
            status=OutboxMessage.Status.SENDING, lease_until=now + timedelta(seconds=LEASE_SECONDS))
        if not claimed:
            continue
        result = _finish(message, _send(message), now)
        stats[result] += 1


def outbox_deliver(now=None) -> dict:
    """Deliver every message owed now, channel by channel, within each bot's rate limits."""
    now = now or clock.now()
    stats = {"sent": 0, "retry": 0, "dead": 0, "rate_limited": 0, "merged": 0, "waiting": 0, "requeued": 0}
    stats["requeued"] = OutboxMessage.objects.filter(status=OutboxMessage.Status.SENDING,
                                                     lease_until__lt=now).update(
        status=OutboxMessage.Status.PENDING, lease_until=None)
    channel_ids = set(OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
                      .values_list("channel_id", flat=True).distinct())
    for channel in Channel.objects.filter(pk__in=channel_ids, active=True).order_by("id"):
        _deliver_channel(channel, now, stats)
    return stats


def outbox_retry_now(*, message: OutboxMessage, actor, source=ChangeSource.UI) -> None:
    """An admin sends a dead letter (or a waiting message) again now."""
    if not _is_admin(actor):
        raise PermissionDenied()
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=message.pk).exclude(status=OutboxMessage.Status.SENT).update(
            status=OutboxMessage.Status.PENDING, attempts=0, next_attempt_at=clock.now(), lease_until=None)
        record(message.channel, actor=actor, source=source, action="event",
               message=_("Outbox message %(id)s queued again") % {"id": message.pk})


# --- Channels ---------------------------------------------------------------------------------------------


def channel_create(*, actor, source=ChangeSource.UI, **data) -> Channel:
    if not _is_admin(actor):
        raise PermissionDenied()
    return create_object(Channel, actor=actor, source=source, data=data, check_scope=False)


def channel_update(*, channel: Channel, actor, source=ChangeSource.UI, **data) -> dict:
    if not _is_admin(actor):
        raise PermissionDenied()
    return update_object(channel, actor=actor, source=source, data=data, check_scope=False)


def channel_test(*, channel: Channel, to=None) -> bots.Outcome:
    """Send a test message right away (not through the outbox) and report what the vendor answered."""
    message = OutboxMessage(channel=channel, payload={
        "title": _("Baton test message"),
        "text": _("If you can read this, the channel “%(name)s” works.") % {"name": channel.name},
        "link": "", "to": list(to or [])})
    return _send(message)


def outbox_retry_all(*, actor, channel: Channel | None = None, source=ChangeSource.UI) -> int:
    """An admin sends every dead letter (of one channel, or all) again now; audited once per channel."""
    if not _is_admin(actor):
        raise PermissionDenied()
    dead = OutboxMessage.objects.filter(status=OutboxMessage.Status.DEAD)
    if channel is not None:
        dead = dead.filter(channel=channel)
    n = 0
    with transaction.atomic():
        by_channel = {}
        for pk, channel_id in dead.select_for_update().values_list("pk", "channel_id"):
            by_channel.setdefault(channel_id, []).append(pk)
        for ch in Channel.objects.filter(pk__in=by_channel):
            ids = by_channel[ch.pk]
            n += OutboxMessage.objects.filter(pk__in=ids, status=OutboxMessage.Status.DEAD).update(
                status=OutboxMessage.Status.PENDING, attempts=0, next_attempt_at=clock.now(), lease_until=None)
            record(ch, actor=actor, source=source, action="event",
                   message=_("%(n)s dead letters queued again") % {"n": len(ids)})
    return n
