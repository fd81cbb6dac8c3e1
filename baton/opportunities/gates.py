"""Stage gates: what a deal must show before it may move forward into a stage, and why a move is refused."""

from dataclasses import dataclass

from django.db.models import Count
from django.utils.translation import gettext as _

from baton.core.models import Attachment
from baton.opportunities.models import ChecklistItem, Opportunity, Stage, StageEvidence, StageRequirement


@dataclass
class Unmet:
    requirement: StageRequirement
    message: str

    @property
    def skippable(self) -> bool:
        return self.requirement.skippable


def gated_stages(opportunity: Opportunity, target: Stage, *, creating: bool = False) -> list[Stage]:
    """Stages whose requirements a move to `target` must meet: every stage passed on the way, target included.

    Moving back, sideways or to a lost stage passes no gate.
    """
    if target.kind == Stage.Kind.LOST:
        return []
    stages = target.pipeline.stages.exclude(kind=Stage.Kind.LOST).filter(position__lte=target.position)
    current = None if creating else opportunity.stage if opportunity.stage_id else None
    if current is not None and current.pipeline_id == target.pipeline_id:
        if target.position <= current.position:
            return []
        stages = stages.filter(position__gt=current.position)
    elif creating or current is None:
        first = target.pipeline.stages.filter(kind=Stage.Kind.OPEN).order_by("position").first()
        if first is not None:
            stages = stages.filter(position__gt=first.position)
    return list(stages.order_by("position"))


def _has_value(value) -> bool:
    if value is None or value == "" or value == {} or value == []:
        return False
    if isinstance(value, int | float) or hasattr(value, "is_zero"):
        return value > 0
    return True


def _applies(requirement: StageRequirement, opportunity: Opportunity) -> bool:
    if not requirement.condition:
        return True
    from baton.conditions.compiler import to_predicate
    from baton.core.errors import ValidationFailed

    try:
        predicate = to_predicate("opportunities.opportunity", requirement.condition)
    except ValidationFailed:
        # The condition names a value that no longer exists (e.g. an industry code not configured here):
        # no deal can match it. Conditions are validated when a requirement is saved.
        return False
    return predicate(opportunity)


def requirement_status(requirement: StageRequirement, opportunity: Opportunity) -> tuple[bool, str]:
    """(met, message): message says precisely what is missing (or what is there)."""
    kind = requirement.kind
    label = requirement.label
    if kind == StageRequirement.Kind.FIELD:
        field = Opportunity._meta.get_field(requirement.field_name)
        met = _has_value(getattr(opportunity, field.attname, None))
        return met, _("Fill in “%(field)s” (%(label)s).") % {"field": field.verbose_name, "label": label}
    if kind == StageRequirement.Kind.EVIDENCE:
        have = 0
        if opportunity.pk:
            have = StageEvidence.objects.filter(opportunity=opportunity, requirement=requirement,
                                                attachment__kind=requirement.attachment_kind).count()
        kind_label = dict(Attachment.Kind.choices).get(requirement.attachment_kind, requirement.attachment_kind)
        return have >= requirement.min_count, _(
            "Upload “%(label)s”: at least %(n)s × %(kind)s (%(have)s uploaded)."
        ) % {"label": label, "n": requirement.min_count, "kind": kind_label, "have": have}
    if kind == StageRequirement.Kind.CHECKLIST:
        done = bool(opportunity.pk) and ChecklistItem.objects.filter(opportunity=opportunity,
                                                                      requirement=requirement).exists()
        return done, _("Tick the checklist action “%(label)s”.") % {"label": label}
    if kind == StageRequirement.Kind.DECISION_CONTACTS:
        have = 0
        if opportunity.account_id:
            have = opportunity.account.contacts.exclude(decision_role="").count()
        elif opportunity.contact_id and opportunity.contact.decision_role:
            have = 1
        return have >= requirement.min_count, _(
            "Name at least %(n)s contact(s) of the account with a decision role (%(have)s so far)."
        ) % {"n": requirement.min_count, "have": have}
    return True, ""


def requirements_for(stages) -> list[StageRequirement]:
    return list(StageRequirement.objects.filter(stage__in=stages).select_related("stage")
                .order_by("stage__position", "position", "id"))


def gate_check(opportunity: Opportunity, target_stage: Stage, *, creating: bool = False) -> list[Unmet]:
    """Every requirement the deal does not meet for a move to `target_stage` (empty: the move may pass)."""
    unmet = []
    for req in requirements_for(gated_stages(opportunity, target_stage, creating=creating)):
        if not _applies(req, opportunity):
            continue
        met, message = requirement_status(req, opportunity)
        if not met:
            prefix = _("“%(stage)s” requires: ") % {"stage": req.stage.name}
            suffix = " " + _("(may be skipped with a reason)") if req.skippable else ""
            unmet.append(Unmet(req, prefix + message + suffix))
    return unmet


def path_panel(opportunity: Opportunity) -> dict:
    """The deal's path: its stage's requirements (met or not) and the next stage's, with guidance."""
    stages = list(opportunity.pipeline.stages.exclude(kind=Stage.Kind.LOST).order_by("position"))
    nxt = next((s for s in stages if s.position > opportunity.stage.position), None)
    out = {"stages": stages, "current": opportunity.stage, "next": nxt, "rows": {}}
    for stage in [opportunity.stage] + ([nxt] if nxt else []):
        rows = []
        for req in StageRequirement.objects.filter(stage=stage).order_by("position", "id"):
            applies = _applies(req, opportunity)
            met, message = requirement_status(req, opportunity)
            rows.append({"requirement": req, "applies": applies, "met": met or not applies, "message": message})
        out["rows"][stage.pk] = rows
    out["current_rows"] = out["rows"][opportunity.stage.pk]
    out["next_rows"] = out["rows"].get(nxt.pk, []) if nxt else []
    return out


def stage_counts_for(deals) -> dict:
    """{stage id: number of deals} for a (scoped) queryset of deals, in one query."""
    return dict(deals.order_by().values("stage").annotate(n=Count("id")).values_list("stage", "n"))
