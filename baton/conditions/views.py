"""/settings/custom-fields/: sales ops add, edit and re-type custom fields (calling baton.conditions.services)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from baton.conditions import selectors, services
from baton.conditions.forms import ChangeTypeForm, CustomFieldForm, choices_text
from baton.conditions.models import CustomField
from baton.core.errors import DomainError
from baton.core.views_generic import apply_domain_error


def _admin(request):
    if not (request.user.is_superuser or request.user.has_role("ops")):
        raise PermissionDenied()


def _field(pk):
    field = CustomField.objects.filter(pk=pk).first()
    if field is None:
        raise Http404()
    return field


@login_required
def field_list(request):
    _admin(request)
    return render(request, "conditions/field_list.html", {"fields": selectors.custom_field_list()})


@login_required
def field_edit(request, pk=None):
    _admin(request)
    field = _field(pk) if pk is not None else None
    if request.method == "POST":
        form = CustomFieldForm(request.POST, editing=field is not None)
        if form.is_valid():
            try:
                if field is None:
                    field = services.custom_field_create(actor=request.user, **form.cleaned_data)
                    messages.success(request, _("%(name)s was created.") % {"name": field})
                else:
                    services.custom_field_update(field=field, actor=request.user, **form.cleaned_data)
                    messages.success(request, _("%(name)s was saved.") % {"name": field})
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                return HttpResponseRedirect(reverse("conditions:list"))
    elif field is not None:
        form = CustomFieldForm(editing=True, initial={
            "label_zh": field.label_zh, "label_en": field.label_en, "choices": choices_text(field.choices),
            "required": field.required, "position": field.position, "active": field.active})
    else:
        form = CustomFieldForm()
    type_form = ChangeTypeForm(initial={"type": field.type}) if field else None
    return render(request, "conditions/field_form.html", {"form": form, "field": field, "type_form": type_form})


@login_required
def field_change_type(request, pk):
    _admin(request)
    field = _field(pk)
    form = ChangeTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            n = services.custom_field_change_type(field, form.cleaned_data["type"], request.user,
                                                  choices=form.cleaned_data["choices"])
        except DomainError as exc:
            messages.error(request, " ".join([str(exc.message), *[str(m) for _f, m in exc.errors]]))
        else:
            messages.success(request, _("Type changed; %(n)s records converted.") % {"n": n})
            return HttpResponseRedirect(reverse("conditions:list"))
    return HttpResponseRedirect(reverse("conditions:edit", args=[field.pk]))
