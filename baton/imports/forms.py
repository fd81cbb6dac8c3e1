from django import forms
from django.utils.translation import gettext_lazy as _

from baton.imports.models import ImportMapping


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"))
    mapping = forms.ModelChoiceField(label=_("Saved mapping"), queryset=ImportMapping.objects.all(),
                                     required=False, empty_label=_("Guess from the headers"))
