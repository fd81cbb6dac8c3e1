import functools
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from baton.core import clock, config_cache, rawread
from baton.core.errors import DomainError, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import record, update_object
from baton.org.models import ApiToken, Role, User, hash_token


def user_set_language(*, user, language: str, actor, source=ChangeSource.UI) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ValidationFailed(errors=[("language", _("Unknown language."))])
    update_object(user, actor=actor, source=source, data={"language": language}, check_scope=False)


# --- API tokens -------------------------------------------------------------------------------------


class InvalidCredentials(DomainError):
    status_code = 401
    default_message = gettext_lazy("Invalid username or password.")


def api_token_issue(*, username: str, password: str, name: str = "", source=ChangeSource.API):
    """Check the credentials and issue a token. Returns (ApiToken, raw); only the SHA-256 is stored."""
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials()
    raw = secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, key_hash=hash_token(raw), prefix=raw[:8], name=name[:80],
                                        created_at=now, expires_at=ApiToken.default_expiry(now))
        record(user, actor=user, source=source, action=AuditEntry.Action.EVENT,
               message=f"API token {token.prefix}… issued")
    return token, raw


LAST_USED_RESOLUTION = timedelta(minutes=1)


@functools.cache
def _token_statement(vendor: str) -> str:
    """The token row, its user and the user's role codes (an array on PostgreSQL; JSON text on SQLite, as a
    code may hold any character a separator would) by key hash."""
    quote = connection.ops.quote_name
    token, user = rawread.reader(ApiToken, "t"), rawread.reader(User, "u")
    through = User.roles.through._meta
    user_id, role_id = (quote(through.get_field(name).column) for name in ("user", "role"))
    code = quote(Role._meta.get_field("code").column)
    codes = f"array_agg(r.{code})" if vendor == "postgresql" else f"json_group_array(r.{code})"
    user_pk = f"u.{quote(User._meta.pk.column)}"
    # the configuration's token rides along: the request would read it next, in a statement of its own
    return (f"SELECT {token.columns}, {user.columns}, (SELECT {codes} FROM {quote(through.db_table)} ur "
            f"JOIN {quote(Role._meta.db_table)} r ON r.{quote(Role._meta.pk.column)} = ur.{role_id} "
            f"WHERE ur.{user_id} = {user_pk}), {config_cache.token_subquery()} "
            f"FROM {quote(ApiToken._meta.db_table)} t "
            f"JOIN {quote(User._meta.db_table)} u ON {user_pk} = t.{quote(ApiToken._meta.get_field('user').column)} "
            f"WHERE t.{quote(ApiToken._meta.get_field('key_hash').column)} = %s")


def _token_with_user(key_hash: str) -> ApiToken | None:
    """The token, its user and the user's role codes (for scoping) in one hand-written statement: every API
    call reads them, and the ORM's compilation (and a second query for the roles) cost more than the database
    did."""
    with connection.cursor() as cursor:
        cursor.execute(_token_statement(connection.vendor), [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    token_reader = rawread.reader(ApiToken, "t")
    token = token_reader.instance(row)
    user = rawread.reader(User, "u").instance(row, token_reader.width)
    codes = row[-2]
    config_cache.prime(row[-1])
    user._role_codes = frozenset((json.loads(codes) if isinstance(codes, str) else codes) or ())
    ApiToken.user.field.set_cached_value(token, user)
    return token


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token for `raw` (unrevoked, unexpired, active user), its last use stamped; else None."""
    if not raw:
        return None
    token = _token_with_user(hash_token(raw))
    now = clock.now()
    if token is None or not token.is_valid(now) or not token.user.is_active:
        return None
    # "Last used" is for people reviewing tokens, to the minute: stamping it on every call would add a
    # write (and, on SQLite, a wait for the write lock) to every API request of a busy client.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION or now < token.last_used_at:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_revoke(*, token: ApiToken, actor, source=ChangeSource.API) -> None:
    now = clock.now()
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        token.revoked_at = now
        record(token.user, actor=actor, source=source, action=AuditEntry.Action.EVENT,
               message=f"API token {token.prefix}… revoked")
