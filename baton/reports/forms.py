"""Forms of the reports pages: anomaly rules (ops) and the large-contract guard (finance / ops)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from baton.core.forms import ServiceModelForm
from baton.reports import metrics as M
from baton.reports.models import AnomalyRule, GuardConfig


class AnomalyRuleForm(ServiceModelForm):
    class Meta:
        model = AnomalyRule
        fields = ["name", "metric", "dimension", "window_days", "red_threshold", "yellow_threshold", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rule = self.instance
        if rule.kind == AnomalyRule.Kind.NO_WON:
            for name in ("metric", "dimension"):
                del self.fields[name]
            self.fields["red_threshold"].help_text = _("Days without a won deal.")
            self.fields["yellow_threshold"].help_text = _("Days without a won deal.")
            return
        self.fields["metric"] = forms.ChoiceField(
            label=_("metric"), choices=[(m.name, m.label) for m in M.metrics_for(rule.source).values()],
            widget=forms.Select(attrs={"class": "form-select"}))
        self.fields["dimension"] = forms.ChoiceField(
            label=_("dimension"), required=False,
            choices=[("", _("(whole company)"))] + [(d.name, d.label)
                                                   for d in M.dimensions_for(rule.source).values()],
            widget=forms.Select(attrs={"class": "form-select"}))
        self.fields["red_threshold"].help_text = _("Percent change week on week that turns the light red.")
        self.fields["yellow_threshold"].help_text = _("A softer percent change (below red) that turns it yellow.")


class GuardForm(ServiceModelForm):
    class Meta:
        model = GuardConfig
        fields = ["threshold", "enabled"]
