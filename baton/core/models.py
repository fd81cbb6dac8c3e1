from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class ChangeSource(models.TextChoices):
    UI = "ui", _("Web UI")
    API = "api", _("API")
    JOB = "job", _("Background job")
    IMPORT = "import", _("Import")
    SYSTEM = "system", _("System")


class AuditEntry(models.Model):
    """One row per write: who changed what, when, from where, and each field's old → new value.

    Written only by `core.services` helpers inside the same transaction as the write itself, so a
    write that rolls back leaves no audit row and a write that commits always has one.
    """

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")
        EVENT = "event", _("Event")

    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    source = models.CharField(_("source"), max_length=10, choices=ChangeSource.choices)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    # Indexed by the (content_type, object_id, at) index, which starts with it: one index less per write.
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+", db_index=False)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=200)
    # {"field": [old, new]}; related objects are stored as {"id": .., "label": ..} so history stays readable
    # after the related row is renamed or deleted.
    changes = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr}"


class Attachment(models.Model):
    """A file linked to any business record (evidence, photos, signed PDFs)."""

    class Kind(models.TextChoices):
        DOCUMENT = "document", _("Document")
        PHOTO = "photo", _("Photo")
        SIGNED_PDF = "signed_pdf", _("Signed PDF")
        EMAIL_SCREENSHOT = "email_screenshot", _("E-mail screenshot")
        OTHER = "other", _("Other")

    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/")
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, default=Kind.DOCUMENT)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("content type"), max_length=100)
    linked_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    linked_id = models.BigIntegerField()
    linked_object = GenericForeignKey("linked_type", "linked_id")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"))

    scope_owner_field = "uploaded_by"

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["-uploaded_at"]
        indexes = [models.Index(fields=["linked_type", "linked_id"])]

    def __str__(self):
        return self.name


class ConfigStamp(models.Model):
    """Changes whenever configuration that processes compile and keep in memory changes (rules, grade bands,
    pools, custom fields, SLA policies, holidays, de-duplication policies; see `core.config_cache`).

    A random token rather than a counter: a configuration change that rolls back and a later, different one
    must never leave the same stamp behind, or a process would keep answering from the rolled-back rules.
    """

    key = models.CharField(primary_key=True, max_length=40)
    token = models.CharField(max_length=32)

    def __str__(self):
        return f"{self.key}: {self.token}"
