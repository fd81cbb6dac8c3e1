from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Industry(models.Model):
    """The configurable industry list (multi-select on accounts and leads)."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("industry")
        verbose_name_plural = _("industries")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Account(models.Model):
    name = models.CharField(_("company name"), max_length=200, db_index=True)
    # Unified social credit code (统一社会信用代码): 18 characters; optional, but unique when given.
    credit_code = models.CharField(_("unified social credit code"), max_length=18, null=True, blank=True, unique=True)
    industries = models.ManyToManyField(Industry, verbose_name=_("industries"), blank=True, related_name="accounts")
    region = models.ForeignKey(
        "org.Region", verbose_name=_("region"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True,
                            validators=[MinValueValidator(-90), MaxValueValidator(90)])
    lng = models.FloatField(_("longitude"), null=True, blank=True,
                            validators=[MinValueValidator(-180), MaxValueValidator(180)])
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="accounts",
    )
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    scope_owner_field = "owner"
    scope_region_field = "region"

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Contact(models.Model):
    class DecisionRole(models.TextChoices):
        INITIATOR = "initiator", _("Initiator")
        INFLUENCER = "influencer", _("Influencer")
        DECISION_MAKER = "decision_maker", _("Decision-maker")
        VETO = "veto", _("Veto")
        USER = "user", _("User")

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=80)
    title = models.CharField(_("title"), max_length=80, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    decision_role = models.CharField(_("decision role"), max_length=20, choices=DecisionRole.choices, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    scope_owner_field = "account__owner"
    scope_region_field = "account__region"

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name"]

    def __str__(self):
        return self.name
