"""Reads shared by every app: scoped fetches, history and timeline."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from baton.core import scoping
from baton.core.errors import NotFound
from baton.core.models import Attachment, AuditEntry


def get_scoped(qs: QuerySet, user, pk, action: str = "view"):
    """One row of `qs` that `user` may `action`; anything else (missing or out of scope) is NotFound."""
    try:
        return scoping.restrict(qs, user, action).get(pk=pk)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


def history_for(obj) -> QuerySet:
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return AuditEntry.objects.filter(content_type=ct, object_id=obj.pk).select_related("actor")


def attachments_for(obj) -> QuerySet:
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return Attachment.objects.filter(linked_type=ct, linked_id=obj.pk)
