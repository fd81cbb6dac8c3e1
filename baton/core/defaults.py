"""The shipped, editable defaults of a fresh install (and of the demo company), in one idempotent call.

Each installer creates only what is missing (found by a stable key or code) and never touches what a user
has since edited, so `baton defaults` can run on every start.
"""

from django.db import transaction


def install_defaults() -> dict:
    """Pipeline + stage requirements, tagging/scoring rules and grade bands, reassignment reasons, pools,
    SLA policies. Returns what each installer reported."""
    from baton.assignment.services import assignment_install_defaults, pools_install_defaults
    from baton.opportunities import services as opportunities
    from baton.rules.services import rules_install_defaults

    out = {}
    with transaction.atomic():
        opportunities.pipeline_ensure_default()
        if hasattr(opportunities, "stage_requirements_install_defaults"):
            out["stage_requirements"] = opportunities.stage_requirements_install_defaults()
        out["rules"] = rules_install_defaults()
        out["reassign_reasons"] = assignment_install_defaults()
        out["pools"] = pools_install_defaults()
        try:
            from baton.sla.services import sla_install_defaults
        except ImportError:  # the SLA app is optional
            pass
        else:
            out["sla_policies"] = sla_install_defaults()
        from baton.process.services import process_install_defaults

        out["process"] = process_install_defaults()
    return out
