"""The one clock every time-dependent rule reads.

Domain code calls `clock.now()`, never `timezone.now()`, so tests and commands (`--now`) can move time.
Precedence: a `frozen()` block, then the BATON_NOW environment variable, then the real time.
"""

import contextvars
import os
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("baton_now", default=None)


def parse_now(value: str) -> datetime:
    """Parse an ISO time; a naive one is read in the company time zone."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def now() -> datetime:
    if (value := _frozen.get()) is not None:
        return value
    if env := os.environ.get("BATON_NOW"):
        return parse_now(env)
    return timezone.now()


def today():
    return timezone.localdate(now())


@contextmanager
def frozen(at: datetime | str):
    """Run a block as if it were `at`."""
    value = parse_now(at) if isinstance(at, str) else at
    token = _frozen.set(value)
    try:
        yield value
    finally:
        _frozen.reset(token)
