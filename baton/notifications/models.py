from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Notification(models.Model):
    """One message in a user's in-app inbox (the bell)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE,
                                  related_name="notifications")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    key = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    scope_owner_field = "recipient"

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], condition=~models.Q(key=""),
                                               name="notification_once_per_key")]

    def __str__(self):
        return self.title


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        WECOM = "wecom", _("WeCom group robot")
        DINGTALK = "dingtalk", _("DingTalk robot")
        FEISHU = "feishu", _("Feishu bot")

    class Format(models.TextChoices):
        MARKDOWN = "markdown", _("Markdown (WeCom, DingTalk)")
        ACTION_CARD = "action_card", _("actionCard with a “Handle” button (DingTalk)")
        TEXT = "text", _("Text (Feishu)")
        INTERACTIVE = "interactive", _("Interactive card with a “Handle” button (Feishu)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    webhook_url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    # Empty scope = company-wide; otherwise only alerts about items of this team / region go here.
    team = models.ForeignKey("org.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    region = models.ForeignKey("org.Region", verbose_name=_("region"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+")
    # Blank = the vendor's plain format (markdown for WeCom / DingTalk, text for Feishu).
    message_format = models.CharField(_("message format"), max_length=20, choices=Format.choices, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]

    def __str__(self):
        return self.name

    FORMATS = {"email": {""}, "wecom": {"", "markdown"}, "dingtalk": {"", "markdown", "action_card"},
               "feishu": {"", "text", "interactive"}}

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind != self.Kind.EMAIL and not self.webhook_url:
            errors["webhook_url"] = _("A bot channel needs its webhook URL.")
        if self.message_format not in self.FORMATS.get(self.kind, {""}):
            errors["message_format"] = _("This message format is not available for this kind of channel.")
        if self.team_id and self.region_id:
            errors["region"] = _("Scope a channel to a team or to a region, not both.")
        if errors:
            raise ValidationError(errors)


class OutboxMessage(models.Model):
    """A message owed to a channel. Delivered at least once; `sending` rows whose lease ran out go back."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        MERGED = "merged", _("Sent in a digest")
        DEAD = "dead", _("Dead letter")

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.CASCADE,
                                related_name="messages")
    # {"title": ..., "text": ..., "link": ..., "to": [e-mail addresses]} — rendered per vendor at delivery.
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=clock.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["channel", "next_attempt_at"], condition=models.Q(status="pending"),
                         name="outbox_pending"),
            models.Index(fields=["channel", "sent_at"]),
        ]

    def __str__(self):
        return f"{self.channel_id}: {self.payload.get('title', '')}"
