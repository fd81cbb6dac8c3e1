"""Reads for the condition language: the relations a predicate walks, custom field lists."""

from django.db.models import QuerySet

from baton.conditions.models import CustomField
from baton.conditions.registry import fields_for, resolve_model


def relations_for(model) -> tuple[list[str], list[str]]:
    """(select_related, prefetch_related) paths that let a predicate test many rows without extra queries."""
    model = resolve_model(model)
    select, prefetch = set(), set()
    for fd in fields_for(model).values():
        if fd.kind == "m2m":
            prefetch.add(fd.path)
        elif fd.kind == "column" and "__" in fd.path:
            select.add(fd.path.rsplit("__", 1)[0])
    if model._meta.label_lower == "leads.lead":
        prefetch.add("events")
    return sorted(select), sorted(prefetch)


def with_relations(qs: QuerySet) -> QuerySet:
    """`qs` with everything a predicate on its model reads already loaded."""
    select, prefetch = relations_for(qs.model)
    return qs.select_related(*select).prefetch_related(*prefetch)


def custom_field_list(target: str | None = None, *, include_inactive: bool = True) -> QuerySet:
    qs = CustomField.objects.all()
    if target:
        qs = qs.filter(target=target)
    if not include_inactive:
        qs = qs.filter(active=True)
    return qs.order_by("target", "position", "id")


def custom_fields_for(model, *, include_inactive: bool = False) -> list[CustomField]:
    from baton.conditions.registry import model_target

    return list(custom_field_list(model_target(model), include_inactive=include_inactive))
