from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "baton.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from baton.core import config_cache

        config_cache.connect()
