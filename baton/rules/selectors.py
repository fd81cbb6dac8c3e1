"""Reads of the rules app: rule lists, versions, runs, and a lead's explanation."""

from baton.rules.models import LeadEvaluation, RuleRun, RuleVersion, ScoringRule, TaggingRule


def tagging_rule_list():
    return TaggingRule.objects.order_by("priority", "id")


def scoring_rule_list():
    return ScoringRule.objects.order_by("priority", "id")


def rule_versions(*, rule_type, rule_id):
    return RuleVersion.objects.filter(rule_type=rule_type, rule_id=rule_id).select_related("actor")


def rule_run_list():
    return RuleRun.objects.select_related("actor")


def lead_explanations(lead) -> dict:
    """Why the lead has its score, grade and automatic tags (empty lists when never evaluated).

    {"score_explanation": [{"rule", "rule_id", "version", "points", "kind", ...}],
     "tag_explanation": [{"rule", "rule_id", "version", "tags"}], "raw_score": float | None,
     "evaluated_at": datetime | None}
    """
    evaluation = LeadEvaluation.objects.filter(lead_id=lead.pk).first()
    if evaluation is None:
        return {"score_explanation": [], "tag_explanation": [], "raw_score": None, "evaluated_at": None}
    return {"score_explanation": evaluation.score_explanation, "tag_explanation": evaluation.tag_explanation,
            "raw_score": evaluation.raw_score, "evaluated_at": evaluation.evaluated_at}
