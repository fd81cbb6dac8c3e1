"""Script packs (what to say in a scenario), their scripts, and each use of a script in a logged activity."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Scenario(models.TextChoices):
    PRICE_SENSITIVE = "price_sensitive", _("Price-sensitive customer")
    LONG_CHAIN = "long_chain", _("Long decision chain")
    COMPETITOR = "competitor", _("Competitor comparison")
    CUSTOM = "custom", _("Custom")


class ScriptPack(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    scenario = models.CharField(_("scenario"), max_length=20, choices=Scenario.choices, default=Scenario.CUSTOM)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Set for the packs Baton ships; the installer finds them by this key and never duplicates them.
    builtin_key = models.CharField(max_length=50, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("script pack")
        verbose_name_plural = _("script packs")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Script(models.Model):
    pack = models.ForeignKey(ScriptPack, verbose_name=_("pack"), on_delete=models.CASCADE, related_name="scripts")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"))
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("script")
        verbose_name_plural = _("scripts")
        ordering = ["pack", "position", "id"]

    def __str__(self):
        return self.title


class ScriptUse(models.Model):
    """One script inserted into one saved activity: counted per script, per rep and per outcome."""

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="uses")
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="script_uses")
    activity = models.ForeignKey("activities.Activity", on_delete=models.CASCADE, related_name="script_uses")
    outcome = models.CharField(max_length=20, blank=True)
    at = models.DateTimeField(default=clock.now, db_index=True)

    scope_owner_field = "rep"

    class Meta:
        verbose_name = _("script use")
        verbose_name_plural = _("script uses")
        constraints = [models.UniqueConstraint(fields=["script", "activity"], name="scriptuse_once_per_activity")]

    def __str__(self):
        return f"{self.script} · {self.activity_id}"
