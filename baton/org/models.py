import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Region(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    code = models.SlugField(_("code"), max_length=20, unique=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Team(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="teams")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="managed_teams",
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.Model):
    """A role a user holds. Codes are fixed (scopes are keyed by them); names are translated."""

    class Code(models.TextChoices):
        REP = "rep", _("Sales rep")
        MENTOR = "mentor", _("Mentor")
        MANAGER = "manager", _("Manager")
        DIRECTOR = "director", _("Director")
        PRESALES = "presales", _("Presales")
        LEGAL = "legal", _("Legal")
        FINANCE = "finance", _("Finance")
        DELIVERY = "delivery", _("Delivery")
        CSM = "csm", _("Customer success")
        OPS = "ops", _("Sales ops (admin)")

    code = models.CharField(_("code"), max_length=20, choices=Code.choices, unique=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["code"]

    def __str__(self):
        return self.get_code_display()


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    manager = models.ForeignKey(
        "self", verbose_name=_("manager"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="direct_reports",
    )
    mentor = models.ForeignKey(
        "self", verbose_name=_("mentor"), null=True, blank=True, on_delete=models.SET_NULL, related_name="mentees"
    )
    roles = models.ManyToManyField(Role, verbose_name=_("roles"), blank=True, related_name="users")
    hire_date = models.DateField(_("hire date"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self):
        return self.display_name or self.get_full_name() or self.username

    @property
    def role_codes(self) -> frozenset[str]:
        # Cached per instance: scoping asks on every query. API token authentication fills it from its own
        # query (org.services).
        if not hasattr(self, "_role_codes"):
            self._role_codes = frozenset(self.roles.values_list("code", flat=True)) if self.pk else frozenset()
        return self._role_codes

    def has_role(self, code: str) -> bool:
        return code in self.role_codes

    def is_newcomer(self, on=None) -> bool:
        if self.hire_date is None:
            return False
        on = on or clock.today()
        return 0 <= (on - self.hire_date).days < settings.BATON_NEWCOMER_DAYS

    def team_member_ids(self) -> set[int]:
        """Users in my team scope: my team, the teams I manage, and everyone below me in the manager chain."""
        if hasattr(self, "_team_member_ids"):
            return self._team_member_ids
        team_ids = set(Team.objects.filter(manager=self).values_list("id", flat=True))
        if self.team_id:
            team_ids.add(self.team_id)
        ids = {self.pk} | set(User.objects.filter(team_id__in=team_ids).values_list("id", flat=True))
        frontier = {self.pk}
        while frontier:  # walk the manager hierarchy down
            below = set(User.objects.filter(manager_id__in=frontier).values_list("id", flat=True)) - ids
            ids |= below
            frontier = below
        self._team_member_ids = ids
        return ids


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the raw value is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    name = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    def is_valid(self, now=None) -> bool:
        now = now or clock.now()
        return self.revoked_at is None and self.expires_at > now

    @staticmethod
    def default_expiry(now):
        return now + timedelta(days=settings.API_TOKEN_TTL_DAYS)
