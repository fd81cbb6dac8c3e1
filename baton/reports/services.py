"""State changes of the reports app: refreshing the analytics store (the only thing it writes)."""

from baton.core.errors import PermissionDenied
from baton.reports import store


def analytics_refresh(*, actor=None, full: bool = False, triggered_by: str = ""):
    """Sync the analytics store now. A person asking is recorded as `user:<username>` in the lineage."""
    if actor is not None and not actor.is_authenticated:
        raise PermissionDenied()
    if full and actor is not None and not (actor.is_superuser or actor.has_role("ops")):
        raise PermissionDenied()  # a full rebuild of a large store is an operator's call
    who = triggered_by or (f"user:{actor.get_username()}" if actor is not None else "schedule")
    return store.sync(triggered_by=who, full=full)
