"""Generic object views, configured per model (NetBox style).

Each app's `views.py` subclasses these with its selectors, filterset, form, service functions and columns;
the templates in `templates/generic/` render every object type the same way. Views stay thin: reads go
through selectors (out of scope is 404), writes go through ONE service call whose `DomainError.errors`
are put back on the form.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import ProtectedError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from baton.core import scoping
from baton.core.errors import DomainError, NotFound
from baton.core.selectors import history_for
from baton.core.templatetags.baton_tags import money

EMPTY = "—"

# model label -> (url namespace, url name prefix): where each object type's pages live.
URLS = {
    "leads.lead": ("leads", ""),
    "accounts.account": ("accounts", ""),
    "accounts.contact": ("accounts", "contact_"),
    "opportunities.opportunity": ("opportunities", ""),
    "activities.activity": ("activities", ""),
    "activities.task": ("activities", "task_"),
}

# Tabler colours for status-like values, shared by lists and detail pages.
BADGE_COLOURS = {
    # leads
    "new": "azure", "assigned": "blue", "contacted": "indigo", "qualified": "green", "converted": "teal",
    "disqualified": "secondary", "nurturing": "yellow",
    # grades
    "A": "green", "B": "yellow", "C": "secondary",
    # deals and tasks
    "open": "blue", "won": "green", "lost": "red", "done": "green", "cancelled": "secondary",
}


def url_for(model_or_obj, action: str, pk=None) -> str | None:
    """The URL of a model's page (`list`, `create`) or an object's (`detail`, `edit`, `delete`)."""
    label = model_or_obj._meta.label_lower
    if label not in URLS:
        return None
    namespace, prefix = URLS[label]
    if pk is None and not isinstance(model_or_obj, type):
        pk = model_or_obj.pk
    try:
        return reverse(f"{namespace}:{prefix}{action}", args=[pk] if pk is not None else [])
    except NoReverseMatch:
        return None


def badge(value, label, colour=None):
    colour = colour or BADGE_COLOURS.get(value, "secondary")
    return format_html('<span class="badge bg-{}-lt">{}</span>', colour, label)


def format_datetime(value) -> str:
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_format(value, "Y-m-d H:i")
    if isinstance(value, date):
        return date_format(value, "Y-m-d")
    return str(value)


def display(obj, name: str):
    """A field of `obj` as safe HTML for a table cell or a detail row."""
    field = obj._meta.get_field(name)
    if field.many_to_many:
        items = list(getattr(obj, name).all())
        if not items:
            return EMPTY
        return format_html_join(" ", '<span class="badge bg-{}-lt">{}</span>',
                                ((getattr(i, "color", "") or "blue", str(i)) for i in items))
    value = getattr(obj, name)
    if value is None or value == "":
        return EMPTY
    if field.choices:
        return badge(value, getattr(obj, f"get_{name}_display")()) if name in ("status", "grade") else \
            getattr(obj, f"get_{name}_display")()
    if field.is_relation:
        url = url_for(value, "detail")
        return format_html('<a href="{}">{}</a>', url, value) if url else str(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime | date):
        return format_datetime(value)
    if field.get_internal_type() == "EmailField":
        return format_html('<a href="mailto:{}">{}</a>', value, value)
    return str(value)


@dataclass
class Column:
    """One column of an object list."""

    name: str
    label: str | None = None
    link: bool = False  # link the cell to the object's detail page
    order_by: str | None = None  # the filterset's ordering key, if the column sorts
    css: str = ""  # e.g. "d-none d-md-table-cell" to hide a secondary column on phones
    render: Callable | None = None  # obj -> HTML, for anything the default display can't show

    def header(self, model) -> str:
        if self.label:
            return self.label
        try:
            return str(model._meta.get_field(self.name).verbose_name)
        except FieldDoesNotExist:
            return self.name

    def cell(self, obj):
        html = self.render(obj) if self.render else display(obj, self.name)
        if self.link:
            url = url_for(obj, "detail")
            if url:
                return format_html('<a href="{}" class="fw-medium">{}</a>', url, html if html != EMPTY else obj)
        return html


def _format_change_value(field, value):
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, dict):
        return str(value.get("label", value.get("id", "")))
    if isinstance(value, list):
        return ", ".join(str(v.get("label", v)) if isinstance(v, dict) else str(v) for v in value)
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str) and field is not None:
        kind = field.get_internal_type()
        if kind == "DateTimeField":
            parsed = parse_datetime(value)
            return format_datetime(parsed) if parsed else value
        if kind == "DateField":
            parsed = parse_date(value)
            return format_datetime(parsed) if parsed else value
    return str(value)


def history_rows(obj, entries):
    """Audit entries with each change as (field label, old, new) ready to show."""
    model = type(obj)
    rows = []
    for entry in entries:
        changes = []
        for name, pair in (entry.changes or {}).items():
            try:
                field = model._meta.get_field(name)
                label = str(getattr(field, "verbose_name", name))
            except FieldDoesNotExist:
                field, label = None, name
            old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
            changes.append((label, _format_change_value(field, old), _format_change_value(field, new)))
        rows.append({"entry": entry, "changes": changes})
    return rows


def _safe_next(request, fallback):
    nxt = request.POST.get("next") or request.GET.get("next")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return nxt
    return fallback


def allowed(user, obj, action: str) -> bool:
    """May `user` `action` ("change"/"delete") this row? Decides which buttons show."""
    model = type(obj)
    return scoping.restrict(model._default_manager.filter(pk=obj.pk), user, action).exists()


class ObjectMixin(LoginRequiredMixin):
    model = None
    list_selector: Callable = None  # (user=, action=) -> QuerySet
    get_selector: Callable = None  # (user=, pk=, action=) -> obj, raises NotFound

    def get_object(self, pk, action="view"):
        try:
            obj = self._selector("get_selector")(user=self.request.user, pk=pk)
        except NotFound:
            raise Http404() from None
        if action != "view" and not allowed(self.request.user, obj, action):
            raise PermissionDenied()
        return obj

    def _selector(self, name):
        """A configured function (selector or service), unbound: they are plain keyword-only functions."""
        for klass in type(self).__mro__:
            if klass.__dict__.get(name) is not None:
                return klass.__dict__[name]
        raise NotImplementedError(name)

    def base_context(self, **extra):
        meta = self.model._meta
        return {
            "model_name": meta.verbose_name,
            "model_name_plural": meta.verbose_name_plural,
            "list_url": url_for(self.model, "list"),
            "create_url": url_for(self.model, "create"),
            "can_create": scoping.can(self.request.user, self.model, "change"),
            **extra,
        }


class ObjectListView(ObjectMixin, View):
    filterset_class = None
    columns: list[Column] = []
    paginate_by = 25
    user_filters: tuple[str, ...] = ("owner",)  # NumberFilters holding a user id: shown as a user select
    primary_filters: tuple[str, ...] | None = None  # shown open; the rest fold under "More filters"
    template_name = "generic/object_list.html"
    table_template = "generic/partials/object_table.html"

    def get_queryset(self):
        return self._selector("list_selector")(user=self.request.user)

    def filterset(self, qs):
        fs = self.filterset_class(self.request.GET or None, queryset=qs, request=self.request)
        form = fs.form
        for name in self.user_filters:
            if name in form.fields:
                from baton.org.models import User

                users = [("", _("Anyone"))] + [(u.pk, str(u)) for u in User.objects.filter(is_active=True)]
                form.fields[name].widget = forms.Select(choices=users)
        for name, field in form.fields.items():
            if isinstance(field, forms.MultipleChoiceField):
                field.widget = forms.CheckboxSelectMultiple(choices=field.choices)
                continue
            field.widget.attrs["class"] = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            if name == "q":
                field.widget.attrs["placeholder"] = _("Search…")
                field.widget.attrs["type"] = "search"
        return fs

    def get(self, request):
        fs = self.filterset(self.get_queryset())
        qs = fs.qs
        page = Paginator(qs, self.paginate_by).get_page(request.GET.get("page"))
        ordering = request.GET.get("ordering", "")
        columns = [
            {
                "label": c.header(self.model),
                "css": c.css,
                "order_by": c.order_by,
                "sorted": "asc" if ordering == c.order_by else "desc" if ordering == f"-{c.order_by}" else "",
            }
            for c in self.columns
        ]
        rows = [{"obj": obj, "url": url_for(obj, "detail"), "cells": [(c.cell(obj), c.css) for c in self.columns]}
                for obj in page.object_list]
        fields = [bf for bf in fs.form if bf.name != "ordering"]
        primary = [bf for bf in fields if self.primary_filters is None or bf.name in self.primary_filters]
        more = [bf for bf in fields if bf not in primary]
        ctx = self.base_context(filterset=fs, page=page, columns=columns, rows=rows,
                                primary_filters=primary, more_filters=more,
                                more_filters_used=any(request.GET.get(bf.name) for bf in more),
                                filters_active=any(v for k, v in request.GET.items() if k not in ("page",)))
        if request.htmx and not request.htmx.boosted:
            return render(request, self.table_template, ctx)
        return render(request, self.template_name, ctx)


class ObjectDetailView(ObjectMixin, View):
    fields: list[str] = []  # shown in the details card
    timeline = True
    template_name = "generic/object_detail.html"
    extra_templates: list[str] = []  # more cards under the details card
    activity_link: str | None = None  # "lead"/"account"/"opportunity": offer "log activity" here
    history_limit = 200

    def extra_context(self, obj) -> dict:
        return {}

    def actions(self, obj) -> list[dict]:
        """Extra buttons next to edit/delete: [{"url", "label", "css"}]."""
        return []

    def get(self, request, pk):
        obj = self.get_object(pk)
        history = history_rows(obj, list(history_for(obj)[: self.history_limit]))
        timeline = self.timeline_items(obj, history) if self.timeline else []
        ctx = self.base_context(
            object=obj,
            title=str(obj),
            field_rows=[(str(obj._meta.get_field(f).verbose_name), display(obj, f)) for f in self.fields],
            history=history,
            timeline=timeline,
            show_timeline=self.timeline,
            can_change=allowed(request.user, obj, "change"),
            can_delete=allowed(request.user, obj, "delete"),
            edit_url=url_for(obj, "edit"),
            delete_url=url_for(obj, "delete"),
            actions=self.actions(obj),
            extra_templates=self.extra_templates,
            activity_link=self.activity_link,
            activity_create_url=url_for_name("activities:create"),
            task_create_url=url_for_name("activities:task_create"),
            **self.extra_context(obj),
        )
        if self.activity_link:
            from baton.activities.forms import ActivityForm

            ctx["activity_form"] = ActivityForm(user=request.user, initial={self.activity_link: obj.pk})
        return render(request, self.template_name, ctx)

    def timeline_items(self, obj, history):
        from baton.activities.selectors import activities_for, tasks_for

        items = []
        if self.activity_link:
            for a in activities_for(obj, user=self.request.user)[:100]:
                items.append({"kind": "activity", "at": a.occurred_at, "obj": a, "url": url_for(a, "detail")})
        for t in tasks_for(obj, user=self.request.user).select_related("assignee")[:100]:
            items.append({"kind": "task", "at": t.due_at or t.created_at, "obj": t, "url": url_for(t, "detail")})
        for row in history:
            items.append({"kind": "audit", "at": row["entry"].at, "obj": row["entry"], "changes": row["changes"]})
        items.sort(key=lambda i: i["at"], reverse=True)
        return items


def url_for_name(name, *args):
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def apply_domain_error(form, exc: DomainError) -> None:
    """Put a service's refusal on the form: each (field, message) on its field, the rest on top."""
    if not exc.errors:
        form.add_error(None, str(exc.message))
    for field, msg in exc.errors:
        form.add_error(field if field in form.fields else None, msg)


def save_form(request, form, obj, *, create: Callable, update: Callable):
    """For a small create/edit settings page: validate the bound form, then create (obj is None) or update obj
    through ONE service (`create(actor=, **cleaned_data)` / `update(obj, actor=, **cleaned_data)`). A service's
    refusal goes onto the form. Returns the saved object (with a "saved" message), or None when the form shows
    errors."""
    if not form.is_valid():
        return None
    try:
        if obj is None:
            obj = create(actor=request.user, **form.cleaned_data)
        else:
            update(obj, actor=request.user, **form.cleaned_data)
    except DomainError as exc:
        apply_domain_error(form, exc)
        return None
    messages.success(request, _("%(name)s was saved.") % {"name": obj})
    return obj


class ObjectEditView(ObjectMixin, View):
    form_class = None
    create_service: Callable = None  # (actor=, **cleaned_data) -> obj
    update_service: Callable = None  # (<service_object_arg>=obj, actor=, **cleaned_data) -> changes
    service_object_arg = ""
    template_name = "generic/object_edit.html"

    def get_initial(self) -> dict:
        return {}

    def service_data(self, form) -> dict:
        return dict(form.cleaned_data)

    def created(self, request, obj):
        """The answer to a create that went through (a subclass may say more, e.g. a merged duplicate)."""
        messages.success(request, _("%(name)s was created.") % {"name": obj})
        return HttpResponseRedirect(_safe_next(request, url_for(obj, "detail")))

    def get_form(self, obj, data=None):
        # The form works on a copy: the service must see the object as it was to audit old → new.
        return self.form_class(data=data, files=self.request.FILES if data is not None else None,
                               instance=copy.copy(obj) if obj is not None else None,
                               initial=self.get_initial() if obj is None else None, user=self.request.user)

    def render_form(self, form, obj):
        title = _("Edit %(name)s") % {"name": obj} if obj else \
            _("New %(model)s") % {"model": self.model._meta.verbose_name}
        cancel = url_for(obj, "detail") if obj else url_for(self.model, "list")
        return render(self.request, self.template_name, self.base_context(
            form=form, object=obj, title=title, cancel_url=_safe_next(self.request, cancel),
            next=self.request.POST.get("next") or self.request.GET.get("next", ""),
        ))

    def get(self, request, pk=None):
        if pk is None and not scoping.can(request.user, self.model, "change"):
            raise PermissionDenied()
        obj = self.get_object(pk, "change") if pk is not None else None
        return self.render_form(self.get_form(obj), obj)

    def post(self, request, pk=None):
        if pk is None and not scoping.can(request.user, self.model, "change"):
            raise PermissionDenied()
        obj = self.get_object(pk, "change") if pk is not None else None
        form = self.get_form(obj, data=request.POST)
        if form.is_valid():
            data = self.service_data(form)
            try:
                if obj is None:
                    obj = self._selector("create_service")(actor=request.user, **data)
                    return self.created(request, obj)
                else:
                    self._selector("update_service")(**{self.service_object_arg: obj}, actor=request.user, **data)
                    messages.success(request, _("%(name)s was saved.") % {"name": obj})
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                return HttpResponseRedirect(_safe_next(request, url_for(obj, "detail")))
        return self.render_form(form, obj if pk is not None else None)


class ObjectDeleteView(ObjectMixin, View):
    delete_service: Callable = None  # (<service_object_arg>=obj, actor=)
    service_object_arg = ""
    template_name = "generic/object_delete.html"

    def get(self, request, pk):
        obj = self.get_object(pk, "delete")
        return render(request, self.template_name, self.base_context(
            object=obj, title=_("Delete %(name)s") % {"name": obj}, cancel_url=url_for(obj, "detail")))

    def post(self, request, pk):
        obj = self.get_object(pk, "delete")
        name = str(obj)
        try:
            self._selector("delete_service")(**{self.service_object_arg: obj}, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc.message))
            return HttpResponseRedirect(url_for(obj, "detail"))
        except ProtectedError:
            messages.error(request, _("%(name)s cannot be deleted while other records refer to it.") % {"name": name})
            return HttpResponseRedirect(url_for(obj, "detail"))
        messages.success(request, _("%(name)s was deleted.") % {"name": name})
        return HttpResponseRedirect(url_for(self.model, "list"))
