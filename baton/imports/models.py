"""Lead imports: saved column mappings and import jobs (dry runs and real runs) with their progress."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class ImportMapping(models.Model):
    """A saved mapping from file headers to Baton targets, reusable across files of the same shape.

    `columns`: {"<header>": "<target>"}; a target is a Lead field ("company", "phone", "source", …),
    "custom:<key>" (a lead custom field) or "" (ignored). `options`: {"source_values": {"<value>": "<LeadSource>"},
    "source_default": "<LeadSource>" (for values not listed; without it they are row errors),
    "keep_source_in": "utm_source" | "custom:<key>" (keep the file's original source text),
    "new_custom_fields": {"<header>": {"key", "type", "label_zh", "label_en", "choices"}}}.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    columns = models.JSONField(_("columns"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    builtin = models.BooleanField(_("shipped preset"), default=False, editable=False)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("import mapping")
        verbose_name_plural = _("import mappings")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ImportJob(models.Model):
    """One uploaded file going through a dry run or an import, and what became of each row."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    file_name = models.CharField(_("file name"), max_length=255)
    mapping = models.ForeignKey(ImportMapping, verbose_name=_("saved mapping"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="jobs")
    # The mapping actually used (copied, so later edits to a saved mapping do not rewrite history).
    columns = models.JSONField(_("columns"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    total_rows = models.PositiveIntegerField(_("total rows"), null=True, blank=True)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    # Rows really written (== accepted once done; after a crash, what the committed chunks hold).
    committed = models.PositiveIntegerField(_("committed"), default=0)
    error_report = models.FileField(_("error report"), upload_to="imports/reports/%Y/%m/", blank=True)
    # The first rejected rows, for the page: [{"row", "column", "value", "message"}]
    error_sample = models.JSONField(_("first errors"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=clock.now, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    scope_owner_field = "created_by"

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.file_name} #{self.pk}"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status in (self.Status.DONE, self.Status.FAILED) else 0
        return min(100, int(self.processed * 100 / self.total_rows))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
