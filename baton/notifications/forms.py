from django import forms
from django.utils.translation import gettext_lazy as _

from baton.core.forms import ServiceModelForm

from .models import Channel


class ChannelForm(ServiceModelForm):
    secret = forms.CharField(label=_("signing secret"), required=False, max_length=200,
                             widget=forms.PasswordInput(render_value=False),
                             help_text=_("DingTalk / Feishu signature secret. Leave blank to keep the current one."))
    clear_secret = forms.BooleanField(label=_("remove the signing secret"), required=False)

    class Meta:
        model = Channel
        fields = ["name", "kind", "webhook_url", "secret", "message_format", "team", "region", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["message_format"].help_text = _(
            "Blank: markdown (WeCom, DingTalk) or text (Feishu). Cards carry a “Handle” button opening the board.")
        self.fields["team"].help_text = _("Empty team and region: company-wide.")

    def service_data(self, instance=None) -> dict:
        data = dict(self.cleaned_data)
        clear = data.pop("clear_secret", False)
        if clear:
            data["secret"] = ""
        elif not data.get("secret") and instance is not None:
            data.pop("secret")  # blank keeps the stored secret
        return data
