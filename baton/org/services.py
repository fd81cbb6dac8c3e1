import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from baton.core import clock
from baton.core.errors import DomainError, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import record, update_object
from baton.org.models import ApiToken, hash_token


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


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token for `raw` (unrevoked, unexpired, active user), its last use stamped; else None."""
    if not raw:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
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
