"""`Idempotency-Key` support for any django-ninja handler.

    @router.post("/leads", response={201: LeadOut})
    @idempotent
    def lead_create_api(request, payload: LeadIn): ...

A retry carrying the same key (per user) and the same body gets the first answer back (same status and
JSON body) and the handler does not run again; the same key with another body answers 409. Only
successful (2xx) answers are remembered: a refused request leaves nothing behind and may be retried.

Concurrency: the handler's writes and the key row are committed in ONE transaction, and the key row is
unique per (user, key). Of two parallel retries, the second blocks on the unique index (PostgreSQL) or on
the write lock (SQLite) until the first commits, then fails to insert the key, rolls its own writes back
and replays the first answer. So two parallel retries never create two rows.
"""

import hashlib
import json
from functools import wraps

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils.translation import gettext as _
from ninja.utils import contribute_operation_callback

from baton.capture.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def _user(request):
    auth = getattr(request, "auth", None)
    for candidate in (auth, getattr(auth, "user", None), getattr(request, "user", None)):
        if candidate is not None and getattr(candidate, "is_authenticated", False) and getattr(candidate, "pk", None):
            return candidate
    return None


def _error(status: int, message: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": message, "errors": [{"field": None, "message": message, "code": code}]},
                        status=status)


def _replay(row: IdempotencyKey, digest: str, request) -> JsonResponse:
    if row.request_sha256 != digest or row.method != request.method or row.path != request.path:
        return _error(409, _("This Idempotency-Key was already used with a different request."),
                      "idempotency_key_reused")
    response = JsonResponse(row.response_body, status=row.response_status, safe=False)
    response["Idempotent-Replayed"] = "true"
    return response


class _Discard(Exception):  # noqa: N818 - control flow: roll the transaction back, answer `response`
    def __init__(self, response):
        self.response = response


def _render(op, request, result):
    """The HttpResponse ninja would send for `result` (same status, same JSON)."""
    if op.api is None:  # the router's own operation; mounted copies are bound, this one renders the same
        from baton.config.api import api

        op.api = api
    return op._result_to_response(request, result, op.api.create_temporal_response(request))


def idempotent(view):
    """Decorate a ninja handler (below the @router.<method> line) to honour the Idempotency-Key header."""
    operation = {}

    def remember(op):
        operation["op"] = op

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        key = (request.headers.get(HEADER) or "").strip()
        user = _user(request)
        if not key or user is None:
            return view(request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            return _error(422, _("The Idempotency-Key header is too long (at most %(n)s characters).")
                          % {"n": MAX_KEY_LENGTH}, "idempotency_key_invalid")
        digest = hashlib.sha256(request.body or b"").hexdigest()

        def existing():
            return IdempotencyKey.objects.filter(user=user, key=key).first()

        if (row := existing()) is not None:
            return _replay(row, digest, request)
        try:
            with transaction.atomic():
                result = view(request, *args, **kwargs)
                response = _render(operation["op"], request, result)
                if not 200 <= response.status_code < 300:
                    raise _Discard(response)
                body = json.loads(response.content) if response.content else None
                with transaction.atomic():
                    IdempotencyKey.objects.create(user=user, key=key, method=request.method, path=request.path,
                                                  request_sha256=digest, response_status=response.status_code,
                                                  response_body=body)
        except _Discard as discard:
            if (row := existing()) is not None:
                return _replay(row, digest, request)
            return discard.response
        except (IntegrityError, Exception):
            # A parallel twin committed first (its key, or a unique value the handler writes): answer as it did.
            if (row := existing()) is not None:
                return _replay(row, digest, request)
            raise
        return response

    contribute_operation_callback(wrapper, remember)
    return wrapper
