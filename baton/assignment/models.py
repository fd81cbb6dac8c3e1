"""Who gets a new lead: pools of reps with a strategy, caps, absences, a backlog, and an assignment log."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    WEIGHTED = "weighted", _("Weighted")
    LEAST_LOADED = "least_loaded", _("Least loaded today")


class PoolAction(models.TextChoices):
    ASSIGN = "assign", _("Assign to a member")
    NURTURE = "nurture", _("Nurture (no owner)")


class Pool(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # Lower numbers are tried first.
    priority = models.IntegerField(_("priority"), default=100)
    condition = models.JSONField(_("eligibility condition"), default=dict, blank=True)
    region = models.ForeignKey("org.Region", verbose_name=_("region"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               help_text=_("When set, only leads of this region enter the pool."))
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices,
                                default=Strategy.ROUND_ROBIN)
    active = models.BooleanField(_("active"), default=True)
    # A nurture pool takes its leads out of the sales queue: status "nurturing", no owner, no backlog.
    action = models.CharField(_("action"), max_length=10, choices=PoolAction.choices, default=PoolAction.ASSIGN)
    # Stable key for shipped defaults so installing them twice changes nothing; blank for user pools.
    key = models.CharField(_("key"), max_length=80, blank=True, editable=False)
    # {"kind": "top_newcomers", "n": 3, "metric": "first_contact_success_rate", "plus_users": [ids],
    #  "daily_cap": 8}: members resolved at assignment time instead of (or besides) fixed members.
    dynamic_rule = models.JSONField(_("dynamic membership"), default=dict, blank=True)
    # Rotation state, changed only while the pool row is locked.
    rotation_last_user_id = models.BigIntegerField(null=True, blank=True, editable=False)
    weighted_state = models.JSONField(default=dict, blank=True, editable=False)
    # Today's capped assignments per member ({"<user id>": n}) on `counts_day`, kept with the rotation: the
    # statement that locks the pool returns them, so an intake counts nothing while it holds the lock. A new
    # day starts from the day's assignment rows (`assignment.services.pool_candidates`). Counts are kept as the
    # engine assigns: a lead deleted later keeps its place in the day's count, and a row written outside the
    # engine after the day's first pick counts from the next import chunk (which recounts) or the next day.
    counts_day = models.DateField(null=True, blank=True, editable=False)
    day_counts = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("assignment pool")
        verbose_name_plural = _("assignment pools")
        ordering = ["priority", "id"]

    def __str__(self):
        return self.name


class PoolMember(models.Model):
    pool = models.ForeignKey(Pool, verbose_name=_("pool"), on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="pool_memberships")
    weight = models.PositiveIntegerField(_("weight"), default=1, validators=[MinValueValidator(1)])
    daily_cap = models.PositiveIntegerField(_("daily cap"), default=8)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("pool member")
        verbose_name_plural = _("pool members")
        ordering = ["pool", "id"]
        constraints = [models.UniqueConstraint(fields=["pool", "user"], name="poolmember_unique")]

    def __str__(self):
        return f"{self.user} @ {self.pool}"


class MemberAbsence(models.Model):
    class Reason(models.TextChoices):
        LEAVE = "leave", _("Leave")
        ABSENT = "absent", _("Absent")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="absences")
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices, default=Reason.LEAVE)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["-date_from"]

    def __str__(self):
        return f"{self.user} {self.date_from}–{self.date_to}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValidationError({"date_to": _("The end date is before the start date.")})


class ReassignReason(models.Model):
    """The configurable list of reasons a manager gives when moving a lead to someone else."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=100)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("reassignment reason")
        verbose_name_plural = _("reassignment reasons")
        ordering = ["code"]

    def __str__(self):
        return self.label


class Assignment(models.Model):
    """One assignment decision (automatic, from the backlog, or a manager's reassignment) and why."""

    class Kind(models.TextChoices):
        AUTO = "auto", _("Automatic")
        BACKLOG = "backlog", _("Waiting in backlog")
        DRAIN = "drain", _("From backlog")
        MANUAL = "manual", _("Reassigned by a manager")
        UNMATCHED = "unmatched", _("No pool matched")
        NURTURE = "nurture", _("Sent to nurturing")

    # No single-column indexes on lead and pool: the (lead, at) and (pool, user, kind, at) indexes start with
    # them, and a second index on pool alone led PostgreSQL (before statistics) to count today's
    # assignments of a member by walking every assignment the pool ever made.
    lead = models.ForeignKey("leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE,
                             related_name="assignments", db_index=False)
    pool = models.ForeignKey(Pool, verbose_name=_("pool"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="assignments", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="lead_assignments")
    previous_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("previous owner"), null=True,
                                      blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.AUTO)
    at = models.DateTimeField(_("time"), default=clock.now, db_index=True)
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices, blank=True)
    rotation_position = models.IntegerField(_("rotation position"), null=True, blank=True)
    # [{"user": id, "name": "...", "reason": "capped" | "absent" | "inactive"}]
    skipped = models.JSONField(_("skipped"), default=list, blank=True)
    explanation = models.TextField(_("explanation"), blank=True)
    reason_code = models.CharField(_("reason"), max_length=40, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["-at", "-id"]
        # (pool, user, kind, at) answers "today's capped assignments of this member" on every intake from
        # the index alone: kind in the index spares a table read per assignment counted.
        indexes = [models.Index(fields=["pool", "user", "kind", "at"], name="assignment_member_day"),
                   models.Index(fields=["lead", "at"])]

    def __str__(self):
        return f"{self.lead_id} → {self.user_id or '-'}"


class PoolBacklog(models.Model):
    """A lead no member could take: it waits here, visible and counted, until capacity frees."""

    pool = models.ForeignKey(Pool, verbose_name=_("pool"), on_delete=models.CASCADE, related_name="backlog")
    lead = models.OneToOneField("leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE,
                                related_name="backlog_entry")
    since = models.DateTimeField(_("since"), default=clock.now)

    class Meta:
        verbose_name = _("backlog entry")
        verbose_name_plural = _("backlog entries")
        ordering = ["since", "id"]

    def __str__(self):
        return f"{self.lead_id} waits in {self.pool}"
