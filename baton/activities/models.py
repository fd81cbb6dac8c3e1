from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Activity(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        VISIT = "visit", _("Visit")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("E-mail")
        WECHAT = "wechat", _("WeChat")
        NOTE = "note", _("Note")

    class Outcome(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        NO_ANSWER = "no_answer", _("No answer")
        BUSY = "busy", _("Busy")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        DONE = "done", _("Done")
        FOLLOW_UP = "follow_up", _("Needs follow-up")

    # Kinds that count as contact with the customer ("first contact" starts on the first of these).
    CONTACT_KINDS = (Kind.CALL, Kind.VISIT, Kind.MEETING, Kind.EMAIL, Kind.WECHAT)

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=clock.now, db_index=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True,
                                                   validators=[MinValueValidator(0)])
    lead = models.ForeignKey("leads.Lead", verbose_name=_("lead"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="activities")
    account = models.ForeignKey("accounts.Account", verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="activities")
    opportunity = models.ForeignKey("opportunities.Opportunity", verbose_name=_("opportunity"), null=True,
                                    blank=True, on_delete=models.CASCADE, related_name="activities")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT,
                               related_name="activities")
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    scope_owner_field = "author"

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["author", "occurred_at"])]

    def __str__(self):
        return self.subject or f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    class Origin(models.TextChoices):
        MANUAL = "manual", _("Manual")
        SLA = "sla", _("SLA clock")
        STAGE = "stage", _("Stage requirement")
        REVIEW = "review", _("Review")
        SYSTEM = "system", _("System")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assignee"), on_delete=models.PROTECT,
                                 related_name="tasks")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    due_at = models.DateTimeField(_("due"), null=True, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices, default=Origin.MANUAL)
    linked_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    linked_id = models.BigIntegerField(null=True, blank=True)
    linked_object = GenericForeignKey("linked_type", "linked_id")
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    scope_owner_field = "assignee"

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["status", "due_at", "id"]
        indexes = [models.Index(fields=["assignee", "status"]), models.Index(fields=["linked_type", "linked_id"])]

    def __str__(self):
        return self.title
