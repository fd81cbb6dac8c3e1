"""Clock math as pure functions: when is a clock due, and what state is it in at a given time.

Working-hours calendars count only time inside [work_start, work_end) on working days, in the company time
zone. A day is a working day by, in order: the editable override table, the `chinesecalendar` package
(statutory holidays and make-up workdays), and for years that package does not know, Monday–Friday.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from django.utils import timezone

MAX_DAYS = 3700


@lru_cache(maxsize=4096)
def builtin_is_workday(day: date) -> bool:
    # The package's tables are fixed for the life of the process, so each day is answered once (due times
    # walk the same few days again and again); the override table is consulted before this, on every call.
    try:
        import chinese_calendar

        return chinese_calendar.is_workday(day)
    except (NotImplementedError, ImportError):
        return day.weekday() < 5


@dataclass(frozen=True)
class Calendar:
    kind: str = "24x7"  # or "working_hours"
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    overrides: dict = field(default_factory=dict)  # date -> is_workday

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return builtin_is_workday(day)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` of calendar time after `start`."""
        if self.kind != "working_hours":
            return start + timedelta(seconds=seconds)
        tz = timezone.get_default_timezone()
        cursor = timezone.localtime(start, tz)
        remaining = timedelta(seconds=seconds)
        for _i in range(MAX_DAYS):
            day = cursor.date()
            if self.is_workday(day):
                ws = timezone.make_aware(datetime.combine(day, self.work_start), tz)
                we = timezone.make_aware(datetime.combine(day, self.work_end), tz)
                if cursor < ws:
                    cursor = ws
                if cursor < we:
                    available = we - cursor
                    if remaining <= available:
                        return cursor + remaining
                    remaining -= available
            cursor = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), tz)
        raise ValueError("no working time within ten years")


@dataclass(frozen=True)
class ClockState:
    state: str  # on_track | warning | breached | stopped
    due_at: datetime
    warning_at: datetime


def clock_state(*, start: datetime, stop: datetime | None, calendar: Calendar, target_seconds: int,
                now: datetime, warning_pct: int = 75) -> ClockState:
    """The state of one clock at `now`: stopped once the stop event happened, else by due times."""
    due = calendar.add(start, target_seconds)
    warn = calendar.add(start, target_seconds * warning_pct / 100)
    if stop is not None:
        state = "stopped"
    elif now >= due:
        state = "breached"
    elif now >= warn:
        state = "warning"
    else:
        state = "on_track"
    return ClockState(state=state, due_at=due, warning_at=warn)
