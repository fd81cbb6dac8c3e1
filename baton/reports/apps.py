from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "baton.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self):
        from baton.reports import metrics

        metrics.register_condition_fields()
