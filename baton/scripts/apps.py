from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScriptsConfig(AppConfig):
    name = "baton.scripts"
    label = "scripts"
    verbose_name = _("Script packs")
