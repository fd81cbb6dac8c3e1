from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=20, default="blue")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class LeadSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    TRADE_SHOW = "trade_show", _("Trade show")
    PHONE = "phone", _("Phone")
    API = "api", _("API")
    REFERRAL = "referral", _("Referral")
    ADVERTISING = "advertising", _("Advertising")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    CONVERTED = "converted", _("Converted")
    DISQUALIFIED = "disqualified", _("Disqualified")
    NURTURING = "nurturing", _("Nurturing")


OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.ASSIGNED, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)


def _last_update_expr():
    """The "last update" instant of a lead, as SQL: the SLA scanner's start expression (indexed on open leads)."""
    from django.db.models.functions import Coalesce, Greatest

    dt = models.DateTimeField()
    return Greatest("created_at", Coalesce("status_changed_at", "created_at", output_field=dt),
                    Coalesce("last_activity_at", "created_at", output_field=dt), output_field=dt)


class Grade(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"


class Lead(models.Model):
    source = models.CharField(_("source"), max_length=30, choices=LeadSource.choices, default=LeadSource.OTHER)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    utm_source = models.CharField("utm_source", max_length=100, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=100, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=100, blank=True)
    utm_term = models.CharField("utm_term", max_length=100, blank=True)
    utm_content = models.CharField("utm_content", max_length=100, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True, db_index=True)
    contact_name = models.CharField(_("contact name"), max_length=80, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True, db_index=True)
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    # Normalised keys for duplicate lookup (E.164 phone, lower-case e-mail, stripped company name);
    # filled by leads.services from baton.capture.dedupe, never edited by hand.
    phone_norm = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    email_norm = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    company_norm = models.CharField(max_length=200, blank=True, db_index=True, editable=False)
    industries = models.ManyToManyField(
        "accounts.Industry", verbose_name=_("industries"), blank=True, related_name="leads"
    )
    budget = models.DecimalField(_("budget (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True,
                                 validators=[MinValueValidator(0)])
    region = models.ForeignKey(
        "org.Region", verbose_name=_("region"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(_("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW,
                              db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="leads",
    )
    score = models.PositiveSmallIntegerField(_("score"), default=0,
                                             validators=[MinValueValidator(0), MaxValueValidator(100)])
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, blank=True, db_index=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="leads")
    notes = models.TextField(_("notes"), blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    duplicate_of = models.ForeignKey(
        "self", verbose_name=_("duplicate of"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="duplicates",
    )
    # Set when the lead is converted.
    account = models.ForeignKey("accounts.Account", verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="leads")
    contact = models.ForeignKey("accounts.Contact", verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")

    # Clock stamps: what SLA clocks start and stop on.
    created_at = models.DateTimeField(_("created at"), default=clock.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_contact_at = models.DateTimeField(_("first contact at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)

    scope_owner_field = "owner"
    scope_region_field = "region"

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~models.Q(external_id=""),
                name="lead_unique_external_id_per_source",
                violation_error_message=_("A lead with this external id already exists for this source."),
            )
        ]
        indexes = [
            models.Index(fields=["owner", "status"]), models.Index(fields=["region", "status"]),
            # Partial indexes on open leads for the SLA scanner: each clock's start over the rows it can run on.
            models.Index(fields=["created_at"], name="lead_open_unassigned",
                         condition=models.Q(status__in=OPEN_LEAD_STATUSES, owner__isnull=True)),
            models.Index(fields=["assigned_at"], name="lead_open_uncontacted_asg",
                         condition=models.Q(status__in=OPEN_LEAD_STATUSES, first_contact_at__isnull=True)),
            models.Index(fields=["created_at"], name="lead_open_uncontacted_crt",
                         condition=models.Q(status__in=OPEN_LEAD_STATUSES, first_contact_at__isnull=True)),
            models.Index(fields=["updated_at"], name="lead_open_updated",
                         condition=models.Q(status__in=OPEN_LEAD_STATUSES)),
            models.Index(_last_update_expr(), name="lead_open_last_update",
                         condition=models.Q(status__in=OPEN_LEAD_STATUSES)),
        ]

    def __str__(self):
        return self.company or self.contact_name or f"#{self.pk}"

    def validate_constraints(self, exclude=None):
        # The unique (source, external id) pair binds only leads that carry an external id; without one the
        # check cannot fail, so it costs no query (most leads from forms and the API have none).
        if not self.external_id:
            exclude = {*(exclude or ()), "external_id"}
        super().validate_constraints(exclude=exclude)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LEAD_STATUSES
