"""Form base: Tabler styling, user-scoped choices, and no model validation (the service validates)."""

from django import forms

from baton.org.models import User

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def active_users():
    return User.objects.filter(is_active=True)


class ServiceModelForm(forms.ModelForm):
    """A ModelForm whose cleaned_data goes to a domain service.

    Field-level checks (types, required, min/max validators copied from the model) run here; whole-object
    checks (uniqueness, cross-field rules, scope) are the service's, whose errors the view puts back on
    the form. So the instance is never touched here and the service sees the object as it was.
    """

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            # The model's own validators (min/max value, ...) belong to the field check, so every bad
            # value is reported at once instead of after the service is first called.
            try:
                model_field = self._meta.model._meta.get_field(name)
            except Exception:  # a form-only field
                model_field = None
            if model_field is not None and not model_field.many_to_many:
                have = {type(v) for v in field.validators}
                field.validators += [v for v in model_field.validators if type(v) not in have]
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.HiddenInput):
                continue
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")

    def _post_clean(self):
        pass
