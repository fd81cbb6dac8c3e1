"""Configuration compiled once per process and re-read only when it changed.

The lead intake evaluates every tagging and scoring rule, every pool condition and every SLA policy on each
new lead. Re-reading and re-compiling them per request cost more than the rest of the intake; instead each
process keeps them, keyed by the `ConfigStamp` token, and one indexed read per use tells whether they are
still current. Every save or delete of a watched model (through services, the ORM or fixtures) replaces the
token in the same transaction, so a change is seen by the next request of every process, and a rolled-back
change leaves the old token (and the old rules) in force.
"""

import contextvars
import secrets
import threading

from django.apps import apps
from django.db import connection
from django.db.models.signals import post_delete, post_save

KEY = "config"

# model label -> fields whose changes are run-time state, not configuration (no new token for them)
WATCHED: dict[str, frozenset] = {
    "rules.taggingrule": frozenset(),
    "rules.scoringrule": frozenset(),
    "rules.gradebands": frozenset(),
    "conditions.customfield": frozenset(),
    "assignment.pool": frozenset({"rotation_last_user_id", "weighted_state", "counts_day", "day_counts"}),
    "sla.slapolicy": frozenset({"scanned_until"}),
    "sla.holidayoverride": frozenset(),
    "capture.dedupepolicy": frozenset(),
    "leads.tag": frozenset(),  # the rule set holds the rows of the tags its rules give
    # a pool's fixed members are kept with their users and today's absences (`assignment.pool_members`)
    "assignment.poolmember": frozenset(),
    "assignment.memberabsence": frozenset(),
    "org.user": frozenset({"last_login"}),
}

_cache: dict[str, tuple[str, object]] = {}
_lock = threading.Lock()
# Within one request the token is read once (`RequestTokenMiddleware`): a request sees one configuration
# from start to end, as a change committed by someone else halfway through would race with it anyway.
_request_memo: contextvars.ContextVar[list | None] = contextvars.ContextVar("config_token_memo", default=None)


def current_token() -> str | None:
    """The token now in force (None before the first configuration change of an empty database)."""
    memo = _request_memo.get()
    if memo:
        return memo[0]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {token_subquery()}")
        token = cursor.fetchone()[0]
    if memo is not None:
        memo.append(token)
    return token


def token_subquery() -> str:
    """SQL for the token in force as a scalar subquery (NULL before the first change): `current_token` selects
    it alone, and a statement every request sends anyway (the API token's read) carries it; pass its value to
    `prime`."""
    from baton.core.models import ConfigStamp

    qn = connection.ops.quote_name
    return (f"(SELECT {qn(ConfigStamp._meta.get_field('token').column)} FROM {qn(ConfigStamp._meta.db_table)} "
            f"WHERE {qn(ConfigStamp._meta.get_field('key').column)} = '{KEY}')")


def prime(token: str | None) -> None:
    """Take `token` (read by `token_subquery`) as this request's, unless the request already read one."""
    memo = _request_memo.get()
    if memo is not None and not memo:
        memo.append(token)


class RequestTokenMiddleware:
    """Read the configuration token at most once per request (see `_request_memo`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reset = _request_memo.set([])
        try:
            return self.get_response(request)
        finally:
            _request_memo.reset(reset)


def bump() -> None:
    from baton.core.models import ConfigStamp

    token = secrets.token_hex(16)
    if not ConfigStamp.objects.filter(key=KEY).update(token=token):
        ConfigStamp.objects.update_or_create(key=KEY, defaults={"token": token})
    memo = _request_memo.get()
    if memo is not None:  # this request goes on with its own change
        memo[:] = [token]


def cached(name: str, load, token: str | None = None):
    """`load()`'s value for the configuration in force, from this process's memory when it is current.

    Pass `token` when the caller already read it in this request. Without a token (a database whose
    configuration never changed since migrating) nothing is kept: the value is loaded every time.
    """
    token = current_token() if token is None else token
    hit = _cache.get(name)
    if token is not None and hit is not None and hit[0] == token:
        return hit[1]
    value = load()
    if token is not None:
        with _lock:
            _cache[name] = (token, value)
    return value


def _changed(sender, instance, update_fields=None, **kwargs):
    ignored = WATCHED.get(sender._meta.label_lower, frozenset())
    if update_fields is not None and ignored and set(update_fields) <= ignored:
        return
    bump()


def connect() -> None:
    """Called once from `CoreConfig.ready`."""
    for label in WATCHED:
        try:
            model = apps.get_model(label)
        except LookupError:  # app not installed
            continue
        post_save.connect(_changed, sender=model, dispatch_uid=f"config_cache:{label}:save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"config_cache:{label}:delete")
