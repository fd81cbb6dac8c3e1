from django.db.models import QuerySet

from baton.core import scoping
from baton.core.selectors import get_scoped
from baton.imports.models import ImportJob, ImportMapping


def job_list(*, user) -> QuerySet:
    return scoping.restrict(ImportJob.objects.select_related("created_by", "mapping"), user, "view")


def job_get(*, user, pk, action="view") -> ImportJob:
    return get_scoped(ImportJob.objects.all(), user, pk, action)


def mapping_list() -> QuerySet:
    return ImportMapping.objects.all()


def mapping_get_by_name(name: str) -> ImportMapping | None:
    return ImportMapping.objects.filter(name=name).first()
