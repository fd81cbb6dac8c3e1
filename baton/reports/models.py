from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


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


class Invoice(models.Model):
    """Finance's invoiced amount: the trusted revenue of a deal (or of an account).

    `status`: active invoices count in reports; a held one waits for finance's review (large-contract guard);
    a superseded one was replaced by the split a finance correction recorded.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        HELD = "held", _("Held for review")
        SUPERSEDED = "superseded", _("Superseded by a correction")

    scope_owner_field = "account__owner"
    scope_region_field = "account__region"

    number = models.CharField(_("invoice number"), max_length=80)
    source_system = models.CharField(_("source system"), max_length=60, default="manual")
    account = models.ForeignKey("accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT,
                                related_name="invoices")
    opportunity = models.ForeignKey("opportunities.Opportunity", verbose_name=_("opportunity"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="invoices")
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    invoice_date = models.DateField(_("invoice date"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-invoice_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["source_system", "number"], name="invoice_number_per_source")]

    def __str__(self):
        return f"{self.source_system}:{self.number}"


class GuardConfig(models.Model):
    """The large-contract guard's setting (one row): a customer's monthly total above `threshold` is held."""

    threshold = models.DecimalField(_("threshold"), max_digits=16, decimal_places=2, default=500000)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("large-contract guard")
        verbose_name_plural = _("large-contract guard")

    def __str__(self):
        return f"{self.threshold} {self.currency}"


class HeldAmount(models.Model):
    """An amount held out of reports until finance approves (released) or corrects it (split / adjusted)."""

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        RELEASED = "released", _("Released")
        CORRECTED = "corrected", _("Corrected")

    account = models.ForeignKey("accounts.Account", verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="held_amounts")
    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="holds")
    opportunity = models.ForeignKey("opportunities.Opportunity", verbose_name=_("opportunity"), null=True,
                                    blank=True, on_delete=models.CASCADE, related_name="holds")
    month = models.DateField(_("month"))
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    month_total = models.DecimalField(_("month total with this amount"), max_digits=18, decimal_places=2)
    threshold = models.DecimalField(_("threshold"), max_digits=16, decimal_places=2)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    task = models.ForeignKey("activities.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    correction = models.JSONField(_("correction"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("held amount")
        verbose_name_plural = _("held amounts")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.account_id} {self.month:%Y-%m} {self.amount}"


class AnomalyRule(models.Model):
    """A light: compare a metric over the last `window_days` with the window before, per dimension value."""

    class Kind(models.TextChoices):
        DROP = "drop", _("Drop week on week")
        RISE = "rise", _("Rise week on week")
        NO_WON = "no_won", _("No won deal for days")

    key = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DROP)
    source = models.CharField(_("source"), max_length=20, default="leads")
    metric = models.CharField(_("metric"), max_length=60, blank=True)
    dimension = models.CharField(_("dimension"), max_length=40, blank=True)
    window_days = models.PositiveSmallIntegerField(_("window (days)"), default=7)
    red_threshold = models.FloatField(_("red threshold"), help_text=_("Percent change, or days for no-won."))
    yellow_threshold = models.FloatField(_("yellow threshold"))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("anomaly rule")
        verbose_name_plural = _("anomaly rules")
        ordering = ["key"]

    def __str__(self):
        return self.name


class AnomalyLight(models.Model):
    """One evaluation's result for one rule and dimension value (the latest per rule+key is the current light)."""

    class Level(models.TextChoices):
        RED = "red", _("Red")
        YELLOW = "yellow", _("Yellow")
        GREEN = "green", _("Green")

    rule = models.ForeignKey(AnomalyRule, on_delete=models.CASCADE, related_name="lights")
    key = models.CharField(_("dimension value"), max_length=120, blank=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices)
    current = models.FloatField(null=True, blank=True)
    previous = models.FloatField(null=True, blank=True)
    change_pct = models.FloatField(null=True, blank=True)
    cause = models.TextField(_("likely cause"), blank=True)
    detail = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated at"))

    class Meta:
        verbose_name = _("anomaly light")
        verbose_name_plural = _("anomaly lights")
        ordering = ["-evaluated_at", "rule", "key"]

    def __str__(self):
        return f"{self.rule_id}/{self.key}: {self.level}"


class SavedPivot(models.Model):
    """A pivot request saved by its owner, optionally shared with a team, a region or everyone."""

    class Share(models.TextChoices):
        PRIVATE = "private", _("Only me")
        TEAM = "team", _("My team")
        REGION = "region", _("My region")
        ALL = "all", _("Everyone")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_pivots")
    name = models.CharField(_("name"), max_length=120)
    request = models.JSONField(_("pivot request"))
    shared_with = models.CharField(_("shared with"), max_length=10, choices=Share.choices, default=Share.PRIVATE)
    team = models.ForeignKey("org.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("saved pivot")
        verbose_name_plural = _("saved pivots")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class ExportJob(models.Model):
    """A large export written in the background (huey) under `var/exports/`; the page polls its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    format = models.CharField(_("format"), max_length=8)
    request = models.JSONField(_("pivot request"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    file = models.CharField(_("file"), max_length=300, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"export {self.pk} ({self.format}, {self.status})"
