"""Settings of `intake_hold.py`'s server: Baton's settings plus timers around the express intake's steps.

Each worker appends one line per assigned intake to `$BATON_HOLD_LOG.<pid>`. An intake that locked its pool:
`L`, milliseconds from the start of `lead_create_express` to the pool's lock being granted, the wait inside the
lock statement, the time from the grant to the return (the pool's lock is held until the commit inside it),
then `step=ms` for the steps measured. An intake whose pick was swapped in without a lock (PostgreSQL's
express path, `assignment_reserve`): `S`, the number of swap statements sent (1 when no other pick came
first), the milliseconds spent in them, and the intake's total. Used by the bench only; never by the
product."""

import os
import threading
import time

import django.apps

from baton.config.settings import *  # noqa: F401,F403

_local = threading.local()
_log = open(f"{os.environ['BATON_HOLD_LOG']}.{os.getpid()}", "a", buffering=1)  # noqa: SIM115


def _timed(owner, name, step):
    inner = getattr(owner, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            steps = getattr(_local, "steps", None)
            if steps is not None:
                steps[step] = steps.get(step, 0.0) + time.perf_counter() - t0
    setattr(owner, name, timed)


def _install():
    from django.db.backends.base.base import BaseDatabaseWrapper

    from baton.assignment import services
    from baton.leads import express

    real_lock, swap, create = services.pool_lock, services.pool_rotation_swap, express.lead_create_express

    def pool_lock(pool, *, lock=True):
        t0 = time.perf_counter()
        locked = real_lock(pool, lock=lock)
        granted = time.perf_counter()
        if lock:
            _local.granted, _local.granted_wait = granted, granted - t0
        return locked

    def pool_rotation_swap(pool, before):
        t0 = time.perf_counter()
        try:
            return swap(pool, before)
        finally:
            _local.swaps.append(time.perf_counter() - t0)

    def lead_create_express(**kwargs):
        _local.granted, _local.steps, _local.swaps = None, {}, []
        t0 = time.perf_counter()
        lead = create(**kwargs)
        end = time.perf_counter()
        if _local.granted:
            steps = " ".join(f"{k}={v * 1000:.3f}" for k, v in sorted(_local.steps.items()))
            _log.write(f"L {(_local.granted - t0) * 1000:.3f} {_local.granted_wait * 1000:.3f} "
                       f"{(end - _local.granted) * 1000:.3f} {steps}\n")
        elif _local.swaps:
            _log.write(f"S {len(_local.swaps)} {sum(_local.swaps) * 1000:.3f} {(end - t0) * 1000:.3f}\n")
        _local.steps = None
        return lead

    services.pool_lock, express.lead_create_express = pool_lock, lead_create_express
    services.pool_rotation_swap = pool_rotation_swap
    _timed(services, "pool_candidates", "members")
    _timed(express, "insert_linked", "insert")
    _timed(BaseDatabaseWrapper, "commit", "commit")


_populate = django.apps.registry.Apps.populate


def _populate_then_install(self, installed_apps=None):
    _populate(self, installed_apps)
    _install()


django.apps.registry.Apps.populate = _populate_then_install
