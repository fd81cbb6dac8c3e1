from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from baton.core import clock


class Target(models.TextChoices):
    LEADS = "leads", _("Leads")
    OPPORTUNITIES = "opportunities", _("Opportunities")


class StartEvent(models.TextChoices):
    CREATED = "created", _("Created")
    ASSIGNED = "assigned", _("Assigned")
    STAGE_ENTERED = "stage_entered", _("Stage entered")
    LAST_UPDATE = "last_update", _("Last update")


class StopEvent(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned")
    FIRST_CONTACT = "first_contact", _("First contact")
    ANY_UPDATE = "any_update", _("Any update")
    STAGE_LEFT = "stage_left", _("Stage left")


class CalendarKind(models.TextChoices):
    ALWAYS = "24x7", _("24×7")
    WORKING_HOURS = "working_hours", _("Working hours")


# Which events make sense for which target.
EVENTS = {
    Target.LEADS: ({"created", "assigned", "last_update"}, {"assigned", "first_contact", "any_update"}),
    Target.OPPORTUNITIES: ({"created", "stage_entered", "last_update"}, {"any_update", "stage_left"}),
}
ACTIONS = {"notify_owner", "notify_manager", "notify_ops", "notify_channel", "return_to_pool",
           "manager_task"}


def default_escalation():
    return [{"at": 100, "actions": ["notify_owner", "notify_manager"]},
            {"at": 200, "actions": ["manager_task"]}]


class SlaPolicy(models.Model):
    """A clock: on items of `target` matching `condition`, from `start_event` until `stop_event`,
    due after `target_seconds` of `calendar` time; warns at `warning_pct`, escalates per `escalation`."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    target = models.CharField(_("applies to"), max_length=20, choices=Target.choices, default=Target.LEADS)
    condition = models.JSONField(_("condition"), default=dict, blank=True)
    start_event = models.CharField(_("start event"), max_length=20, choices=StartEvent.choices)
    stop_event = models.CharField(_("stop event"), max_length=20, choices=StopEvent.choices)
    target_seconds = models.PositiveIntegerField(_("target duration (seconds)"), validators=[MinValueValidator(60)])
    calendar = models.CharField(_("calendar"), max_length=20, choices=CalendarKind.choices,
                                default=CalendarKind.ALWAYS)
    work_start = models.TimeField(_("working day starts"), default=time(9, 0))
    work_end = models.TimeField(_("working day ends"), default=time(18, 0))
    warning_pct = models.PositiveSmallIntegerField(_("warning at (%)"), default=75,
                                                   validators=[MinValueValidator(1), MaxValueValidator(99)])
    # [{"at": 100, "actions": ["notify_owner", "notify_manager"]}, {"at": 200, "actions": ["return_to_pool"]}]
    escalation = models.JSONField(_("escalation steps"), default=default_escalation, blank=True)
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    code = models.SlugField(_("code"), max_length=50, blank=True, help_text=_("Set on shipped defaults."))
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    # The scanner's high-water mark: every level due at or before it has been recorded. The next scan looks only
    # at clocks whose level falls due in (scanned_until, now] (plus items touched since); None = a full scan.
    scanned_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        from baton.conditions.compiler import validate

        errors = {}
        model = "leads.Lead" if self.target == Target.LEADS else "opportunities.Opportunity"
        problems = validate(model, self.condition or {}) if self.condition else []
        if problems:
            errors["condition"] = [f"{where}: {msg}" if where else msg for where, msg in problems]
        starts, stops = EVENTS.get(self.target, (set(), set()))
        if self.start_event and self.start_event not in starts:
            errors["start_event"] = _("This start event does not apply to this kind of item.")
        if self.stop_event and self.stop_event not in stops:
            errors["stop_event"] = _("This stop event does not apply to this kind of item.")
        if self.calendar == CalendarKind.WORKING_HOURS and self.work_start >= self.work_end:
            errors["work_end"] = _("The working day must end after it starts.")
        steps = self.escalation or []
        if not isinstance(steps, list) or not all(
            isinstance(s, dict) and isinstance(s.get("at"), int) and s["at"] >= 100
            and isinstance(s.get("actions"), list) and set(s["actions"]) <= ACTIONS for s in steps
        ) or len({s["at"] for s in steps}) != len(steps):
            errors["escalation"] = _("Each step needs a distinct “at” percentage (≥ 100) and known actions: %(a)s.") % {
                "a": ", ".join(sorted(ACTIONS))}
        elif steps:  # who is told at each step (baton.sla.recipients)
            from .recipients import validate_steps

            if problems := validate_steps(steps):
                errors["escalation"] = problems
        if errors:
            raise ValidationError(errors)

    def levels(self) -> list[tuple[str, int, list[str]]]:
        """(level, percent of target, actions): warning, then the escalation steps in order."""
        out = [("warning", self.warning_pct, ["notify_owner"])]
        n = 0
        for step in sorted(self.escalation or [], key=lambda s: s["at"]):
            if step["at"] == 100:
                out.append(("breach", 100, list(step["actions"])))
            else:
                n += 1
                out.append((f"escalation_{n}", step["at"], list(step["actions"])))
        if not any(level == "breach" for level, _p, _a in out):
            out.append(("breach", 100, []))
            out.sort(key=lambda t: t[1])
        return out


class HolidayOverride(models.Model):
    """A day whose working status differs from what the built-in Chinese calendar says (or a year it lacks)."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("holiday override")
        verbose_name_plural = _("holiday overrides")
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {self.name}"


class SlaCrossing(models.Model):
    """An item's clock crossed a level once (per clock cycle: a restarted clock is a new cycle)."""

    item_type = models.CharField(max_length=20, choices=Target.choices)
    item_id = models.BigIntegerField()
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="crossings")
    level = models.CharField(max_length=20)
    # When this clock cycle started: the clock restarts (e.g. a new assignment) → a new cycle, new crossings.
    cycle_start = models.DateTimeField()
    due_at = models.DateTimeField()
    crossed_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True)
    # Which scan inserted the row: the scan that inserted it, and only that one, fires its escalation (it reads
    # its rows from RETURNING, so nothing looks rows up by token: no index, each costs the scanner's inserts).
    scan_token = models.CharField(max_length=32)
    owner_id_at_crossing = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("SLA crossing")
        verbose_name_plural = _("SLA crossings")
        ordering = ["-crossed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["item_type", "item_id", "policy", "level", "cycle_start"],
                                    name="sla_crossing_once"),
        ]
        # An item's crossings are found through the unique constraint's leading (item_type, item_id).
        indexes = [
            models.Index(fields=["policy", "level"], condition=models.Q(resolved_at__isnull=True),
                         name="sla_crossing_open"),
        ]

    def __str__(self):
        return f"{self.item_type}#{self.item_id} {self.policy_id} {self.level}"


class SlaReasonCode(models.Model):
    """Why an alert needs no transfer (e.g. “the customer asked to call next week”): configurable."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=100)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SLA reason code")
        verbose_name_plural = _("SLA reason codes")
        ordering = ["code"]

    def __str__(self):
        return self.label


class ReportSchedule(models.Model):
    """A report that runs itself: which one, when (cron + time zone), to whom and over which channels."""

    class Kind(models.TextChoices):
        WEEKLY_HEALTH = "weekly_health", _("Weekly lead-timeliness health")
        DAILY_TOP20 = "daily_top20", _("Daily TOP20 leads to fix")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("report"), max_length=20, choices=Kind.choices)
    cron = models.CharField(_("cron expression"), max_length=100, help_text=_("e.g. “0 17 * * 5” = Fridays 17:00"))
    time_zone = models.CharField(_("time zone"), max_length=50, default="Asia/Shanghai")
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("recipients"), blank=True,
                                        related_name="+")
    channels = models.ManyToManyField("notifications.Channel", verbose_name=_("channels"), blank=True,
                                      related_name="+")
    active = models.BooleanField(_("active"), default=True)
    # The last due time that was run: the next due time is computed after it (never runs a slot twice).
    last_slot = models.DateTimeField(_("last run for"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from croniter import croniter

        errors = {}
        if not croniter.is_valid(self.cron or ""):
            errors["cron"] = _("Not a valid cron expression (minute hour day month weekday).")
        try:
            ZoneInfo(self.time_zone or "")
        except (ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = _("Unknown time zone.")
        if errors:
            raise ValidationError(errors)


class ReportRun(models.Model):
    """One run of a scheduled report: its figures, its Excel file and how delivery went."""

    class Status(models.TextChoices):
        OK = "ok", _("Done")
        FAILED = "failed", _("Failed")

    schedule = models.ForeignKey(ReportSchedule, verbose_name=_("schedule"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="runs")
    kind = models.CharField(_("report"), max_length=20, choices=ReportSchedule.Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    slot = models.DateTimeField(_("due at"))
    period_start = models.DateTimeField(_("period start"), null=True, blank=True)
    period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    excel = models.FileField(_("Excel file"), upload_to="sla_reports/%Y/%m/", blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OK)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("report run")
        verbose_name_plural = _("report runs")
        ordering = ["-slot", "-id"]
        constraints = [models.UniqueConstraint(fields=["schedule", "slot"], name="report_run_once_per_slot")]

    def __str__(self):
        return f"{self.name} {self.slot:%Y-%m-%d %H:%M}"
