from django.db import transaction
from django.utils.translation import gettext as _

from baton.core import clock
from baton.core.errors import ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import create_object, delete_object, update_object
from baton.opportunities.models import Opportunity, Pipeline, Stage, StageChange

# The shipped default pipeline (names are data: ops rename them; the codes of kind stay).
DEFAULT_STAGES = [
    ("线索", Stage.Kind.OPEN, 5, "gray"),
    ("需求确认", Stage.Kind.OPEN, 10, "azure"),
    ("方案", Stage.Kind.OPEN, 25, "blue"),
    ("报价", Stage.Kind.OPEN, 40, "indigo"),
    ("客户内部决策会", Stage.Kind.OPEN, 55, "purple"),
    ("法务初审通过", Stage.Kind.OPEN, 70, "pink"),
    ("PO已发出", Stage.Kind.OPEN, 90, "orange"),
    ("签约", Stage.Kind.WON, 100, "green"),
    ("输单", Stage.Kind.LOST, 0, "red"),
]


def pipeline_ensure_default() -> Pipeline:
    """The default pipeline, created with the shipped eight stages (+ lost) on first use."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline:
        return pipeline
    with transaction.atomic():
        pipeline = Pipeline.objects.create(name="标准销售流程", is_default=True)
        Stage.objects.bulk_create(
            Stage(pipeline=pipeline, name=name, position=i, kind=kind, probability=prob, color=color)
            for i, (name, kind, prob, color) in enumerate(DEFAULT_STAGES)
        )
    return pipeline


def _status_for(stage: Stage) -> str:
    return {Stage.Kind.WON: Opportunity.Status.WON, Stage.Kind.LOST: Opportunity.Status.LOST}.get(
        stage.kind, Opportunity.Status.OPEN
    )


def opportunity_create(*, actor, source=ChangeSource.UI, pipeline=None, stage=None, **data) -> Opportunity:
    pipeline = pipeline or (stage.pipeline if stage else pipeline_ensure_default())
    if stage is None:
        stage = pipeline.stages.filter(kind=Stage.Kind.OPEN).order_by("position").first()
        if stage is None:
            raise ValidationFailed(errors=[("pipeline", _("This pipeline has no open stage."))])
    now = clock.now()
    data.setdefault("owner", actor)
    data.setdefault("probability", stage.probability)
    data.update(pipeline=pipeline, stage=stage, status=_status_for(stage), stage_entered_at=now, created_at=now,
                updated_at=now)
    if data["status"] != Opportunity.Status.OPEN:
        data["closed_at"] = now
    with transaction.atomic():
        opportunity = create_object(Opportunity, actor=actor, source=source, data=data)
        StageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=stage, at=now,
                                   actor=actor if actor and actor.is_authenticated else None)
    return opportunity


def opportunity_update(*, opportunity: Opportunity, actor, source=ChangeSource.UI, **data) -> dict:
    """Update a deal; a new stage is logged in its stage history and sets status, probability and dwell."""
    now = clock.now()
    new_stage = data.get("stage")
    old_stage = opportunity.stage
    moving = new_stage is not None and new_stage.pk != opportunity.stage_id
    if moving:
        data["status"] = _status_for(new_stage)
        data["stage_entered_at"] = now
        data.setdefault("probability", new_stage.probability)
        data["closed_at"] = now if data["status"] != Opportunity.Status.OPEN else None
        data.setdefault("pipeline", new_stage.pipeline)
    with transaction.atomic():
        entered = opportunity.stage_entered_at
        changes = update_object(opportunity, actor=actor, source=source, data=data)
        if moving:
            StageChange.objects.create(
                opportunity=opportunity, from_stage=old_stage, to_stage=new_stage, at=now,
                actor=actor if actor and actor.is_authenticated else None,
                dwell_seconds=int((now - entered).total_seconds()) if entered else None,
            )
        if changes:
            Opportunity.objects.filter(pk=opportunity.pk).update(updated_at=now)
    return changes


def opportunity_delete(*, opportunity: Opportunity, actor, source=ChangeSource.UI) -> None:
    delete_object(opportunity, actor=actor, source=source)
