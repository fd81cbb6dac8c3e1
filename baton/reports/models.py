from django.db import models
from django.utils.translation import gettext_lazy as _


class SyncState(models.Model):
    """Where the analytics store stands for one fact table: up to which change stamp it has copied, and when.

    `watermark` is the largest change stamp (`updated_at`, or `created_at` for activities) copied so far;
    `store_id` is the id written into the DuckDB file when it was created, so a new or replaced file is
    noticed and filled from scratch instead of trusting a watermark that belongs to another file.
    """

    table = models.CharField(_("table"), max_length=40, unique=True)
    store_id = models.CharField(max_length=40, blank=True)
    watermark = models.DateTimeField(_("watermark"), null=True, blank=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_full_at = models.DateTimeField(_("last full refresh"), null=True, blank=True)
    rows = models.BigIntegerField(_("rows in store"), default=0)
    changed = models.BigIntegerField(_("rows copied in the last sync"), default=0)
    deleted = models.BigIntegerField(_("rows deleted in the last sync"), default=0)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    triggered_by = models.CharField(_("triggered by"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("analytics sync state")
        verbose_name_plural = _("analytics sync states")
        ordering = ["table"]

    def __str__(self):
        return self.table
