from datetime import date, time

import pytest

from baton.core.clock import parse_now as at
from baton.sla.calendar import Calendar, clock_state

WORK = Calendar(kind="working_hours")
H = 3600


def test_24x7_is_wall_time():
    assert Calendar().add(at("2026-03-07T23:00"), 2 * H) == at("2026-03-08T01:00")


@pytest.mark.parametrize("start,hours,due", [
    # inside one working day
    ("2026-03-09T10:00", 4, "2026-03-09T14:00"),
    # Friday evening → over the weekend → Monday
    ("2026-03-06T17:00", 4, "2026-03-09T12:00"),
    # started on a Saturday: the clock waits for Monday 09:00
    ("2026-03-07T10:00", 1, "2026-03-09T10:00"),
    # after hours on a working day: counts from the next morning
    ("2026-03-09T20:00", 2, "2026-03-10T11:00"),
    # National Day: 30 Sep 17:00, holiday 1–7 Oct, back on Thursday 8 Oct
    ("2026-09-30T17:00", 4, "2026-10-08T12:00"),
    # make-up workday: Saturday 10 Oct 2026 is a working day
    ("2026-10-09T17:00", 4, "2026-10-10T12:00"),
    # Mid-Autumn Festival on Friday 25 Sep 2026 is a holiday
    ("2026-09-24T17:00", 4, "2026-09-28T12:00"),
])
def test_working_hours(start, hours, due):
    assert WORK.add(at(start), hours * H) == at(due)


def test_override_table_wins_and_covers_unknown_years():
    # the company gives the make-up Saturday off anyway
    cal = Calendar(kind="working_hours", overrides={date(2026, 10, 10): False})
    assert cal.add(at("2026-10-09T17:00"), 4 * H) == at("2026-10-12T12:00")
    # 2031 is beyond the package's data: weekdays count, unless the table says otherwise
    assert WORK.add(at("2031-01-06T17:00"), 4 * H) == at("2031-01-07T12:00")
    cal = Calendar(kind="working_hours", overrides={date(2031, 1, 7): False})
    assert cal.add(at("2031-01-06T17:00"), 4 * H) == at("2031-01-08T12:00")


def test_custom_working_day():
    cal = Calendar(kind="working_hours", work_start=time(8, 30), work_end=time(17, 30))
    assert cal.add(at("2026-03-09T17:00"), 1 * H) == at("2026-03-10T09:00")


def test_clock_state():
    start = at("2026-03-09T10:00")
    kw = {"start": start, "calendar": Calendar(), "target_seconds": 4 * H, "warning_pct": 75}
    assert clock_state(stop=None, now=at("2026-03-09T12:59"), **kw).state == "on_track"
    assert clock_state(stop=None, now=at("2026-03-09T13:00"), **kw).state == "warning"
    st = clock_state(stop=None, now=at("2026-03-09T14:00"), **kw)
    assert (st.state, st.due_at) == ("breached", at("2026-03-09T14:00"))
    assert clock_state(stop=at("2026-03-09T11:00"), now=at("2026-03-09T15:00"), **kw).state == "stopped"
