from django import forms
from django.utils.translation import gettext_lazy as _

from baton.conditions.models import CustomField
from baton.rules.forms import StyledForm


def parse_choices(text: str) -> list[dict]:
    """One choice a line: `value | 中文 | English` (labels optional)."""
    out = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.split("|")]
        if parts and parts[0]:
            out.append({"value": parts[0], "label_zh": parts[1] if len(parts) > 1 else "",
                        "label_en": parts[2] if len(parts) > 2 else ""})
    return out


def choices_text(choices) -> str:
    return "\n".join(" | ".join([c.get("value", ""), c.get("label_zh", ""), c.get("label_en", "")])
                     for c in choices or [])


CHOICES_HELP = _("One choice a line: value | Chinese label | English label.")


class CustomFieldForm(StyledForm):
    target = forms.ChoiceField(label=_("record type"), choices=CustomField.Target.choices)
    key = forms.CharField(label=_("key"), max_length=40)
    label_zh = forms.CharField(label=_("label (Chinese)"), max_length=80)
    label_en = forms.CharField(label=_("label (English)"), max_length=80)
    type = forms.ChoiceField(label=_("type"), choices=CustomField.Type.choices)
    choices = forms.CharField(label=_("choices"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
                              help_text=CHOICES_HELP)
    required = forms.BooleanField(label=_("required"), required=False)
    position = forms.IntegerField(label=_("position"), min_value=0, max_value=32767, initial=0)
    active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:  # key, target and type are fixed once created (the type has its own form)
            for name in ("target", "key", "type"):
                del self.fields[name]

    def clean_choices(self):
        return parse_choices(self.cleaned_data.get("choices"))


class ChangeTypeForm(StyledForm):
    type = forms.ChoiceField(label=_("new type"), choices=CustomField.Type.choices)
    choices = forms.CharField(label=_("choices"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("Optional for a choice type: empty makes the existing values the choices."))

    def clean_choices(self):
        return parse_choices(self.cleaned_data.get("choices")) or None
