"""The shipped, editable defaults of a fresh install (and of the demo company), in one idempotent call.

Each installer creates only what is missing (found by a stable key or code) and never touches what a user
has since edited, so `baton defaults` can run on every start.
"""

from django.db import transaction


def install_defaults() -> dict:
    """Every app's shipped defaults, in dependency order. Returns what each installer reported."""
    from baton.assignment.services import assignment_install_defaults, pools_install_defaults
    from baton.imports.services import presets_install
    from baton.opportunities.services import pipeline_ensure_default, stage_requirements_install_defaults
    from baton.process.services import process_install_defaults
    from baton.rules.services import rules_install_defaults
    from baton.scripts.services import scripts_install_defaults
    from baton.sla.reports import report_install_defaults
    from baton.sla.services import sla_install_defaults

    out = {}
    with transaction.atomic():
        pipeline_ensure_default()
        out["stage_requirements"] = stage_requirements_install_defaults()
        out["rules"] = rules_install_defaults()  # needs the industry list: the demo loads it first
        out["reassign_reasons"] = assignment_install_defaults()
        out["pools"] = pools_install_defaults()  # members come from the reps that exist now
        out["sla_policies"] = sla_install_defaults()
        out["report_schedules"] = report_install_defaults()
        out["process"] = process_install_defaults()
        from baton.reports.anomalies import install_defaults as anomaly_rules_install_defaults

        out["anomaly_rules"] = anomaly_rules_install_defaults()
        out["script_packs"] = scripts_install_defaults()
        out["import_presets"] = presets_install()
    return out
