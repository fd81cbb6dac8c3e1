import copy
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from baton.core import clock
from baton.core.errors import ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import create_object, delete_object, record, update_object
from baton.opportunities.gates import gate_check
from baton.opportunities.models import (
    ChecklistItem,
    Opportunity,
    Pipeline,
    Stage,
    StageChange,
    StageEvidence,
    StageRequirement,
    StageSkipReview,
)

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
    data.pop("skip_reason", None)
    if stage is None:
        stage = pipeline.stages.filter(kind=Stage.Kind.OPEN).order_by("position").first()
        if stage is None:
            raise ValidationFailed(errors=[("pipeline", _("This pipeline has no open stage."))])
    else:
        # A deal created straight into a later stage passes the gates of every stage it skips.
        probe = Opportunity(pipeline=pipeline, stage=stage,
                            **{k: v for k, v in data.items() if k != "custom_fields" or v is not None})
        unmet = gate_check(probe, stage, creating=True)
        if unmet:
            raise ValidationFailed(_("The deal does not meet the stage's requirements."),
                                   errors=[("stage", u.message) for u in unmet], code="gate")
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
        from baton.process.services import stage_entered_on_commit  # required actions of the stage

        stage_entered_on_commit(opportunity, stage, now)
    return opportunity


def _gate(opportunity, new_stage, data, skip_reason):
    """Run the gate of a forward move; returns the unmet skippable requirements let through with a reason."""
    probe = copy.copy(opportunity)
    for key, value in data.items():
        if key != "stage":
            setattr(probe, key, value)
    unmet = gate_check(probe, new_stage)
    if not unmet:
        return []
    hard = [u for u in unmet if not u.skippable]
    if hard or not (skip_reason or "").strip():
        raise ValidationFailed(_("The deal does not meet the stage's requirements."),
                               errors=[("stage", u.message) for u in unmet], code="gate")
    return unmet


def _manager_of(opportunity, actor):
    owner = opportunity.owner or (actor if actor and actor.is_authenticated else None)
    if owner is None:
        return None
    if owner.manager_id:
        return owner.manager
    if owner.team_id and owner.team.manager_id and owner.team.manager_id != owner.pk:
        return owner.team.manager
    return None


def opportunity_update(*, opportunity: Opportunity, actor, source=ChangeSource.UI, **data) -> dict:
    """Update a deal; a new stage is logged in its stage history and sets status, probability and dwell.

    A forward move runs the gate of every stage it enters or passes (`gate_check`); unmet requirements refuse
    it, unless all of them are skippable and `skip_reason` is given: then the move goes on and the deal
    carries a pending `StageSkipReview` for the owner's manager.
    """
    now = clock.now()
    skip_reason = data.pop("skip_reason", "") or ""
    new_stage = data.get("stage")
    old_stage = opportunity.stage
    moving = new_stage is not None and new_stage.pk != opportunity.stage_id
    skipped = _gate(opportunity, new_stage, data, skip_reason) if moving else []
    if moving:
        data["status"] = _status_for(new_stage)
        data["stage_entered_at"] = now
        data.setdefault("probability", new_stage.probability)
        data["closed_at"] = now if data["status"] != Opportunity.Status.OPEN else None
        data.setdefault("pipeline", new_stage.pipeline)
    with transaction.atomic():
        entered = opportunity.stage_entered_at
        changes = update_object(opportunity, actor=actor, source=source, data=data, touch={"updated_at": now})
        if moving:
            StageChange.objects.create(
                opportunity=opportunity, from_stage=old_stage, to_stage=new_stage, at=now,
                actor=actor if actor and actor.is_authenticated else None,
                dwell_seconds=int((now - entered).total_seconds()) if entered else None,
            )
            from baton.process.services import stage_entered_on_commit  # required actions of the stage

            stage_entered_on_commit(opportunity, new_stage, now)
        if skipped:
            _skip_review_open(opportunity, old_stage, new_stage, skip_reason.strip(), skipped, actor, source)
    return changes


def opportunity_delete(*, opportunity: Opportunity, actor, source=ChangeSource.UI) -> None:
    delete_object(opportunity, actor=actor, source=source)


# --- gates: configuration ---------------------------------------------------------------------------------

# The shipped entry requirements of the default stages: (stage, code, label, kind, options).
DEFAULT_REQUIREMENTS = [
    ("需求确认", "decision-contact", "决策角色联系人", StageRequirement.Kind.DECISION_CONTACTS, {"min_count": 1}),
    ("方案", "proposal", "方案文档", StageRequirement.Kind.EVIDENCE, {"attachment_kind": "document"}),
    ("方案", "line-takt", "产线节拍分析", StageRequirement.Kind.EVIDENCE, {
        "attachment_kind": "document",
        "condition": {"field": "account.industries", "op": "has_any", "value": ["auto-parts"]},
        "guidance": "汽车零部件客户：提交方案前须附产线节拍分析。"}),
    ("报价", "amount", "报价金额", StageRequirement.Kind.FIELD, {"field_name": "amount"}),
    ("客户内部决策会", "meeting-photo", "决策会现场照片", StageRequirement.Kind.EVIDENCE,
     {"attachment_kind": "photo"}),
    ("法务初审通过", "legal-signed", "法务初审签字件", StageRequirement.Kind.EVIDENCE,
     {"attachment_kind": "signed_pdf", "skippable": True}),
    ("PO已发出", "po", "PO 文件", StageRequirement.Kind.EVIDENCE, {"attachment_kind": "document"}),
    ("签约", "contract", "已签合同（PDF）", StageRequirement.Kind.EVIDENCE, {"attachment_kind": "signed_pdf"}),
]


def stage_requirements_install_defaults(pipeline: Pipeline | None = None) -> int:
    """Install the shipped requirements on the default pipeline's stages (idempotent). Returns rows created."""
    pipeline = pipeline or pipeline_ensure_default()
    stages = {s.name: s for s in pipeline.stages.all()}
    created = 0
    for position, (stage_name, code, label, kind, options) in enumerate(DEFAULT_REQUIREMENTS):
        stage = stages.get(stage_name)
        if stage is None:
            continue
        _, new = StageRequirement.objects.get_or_create(
            stage=stage, code=code, defaults={"label": label, "kind": kind, "position": position, **options})
        created += new
    return created


def stage_requirement_create(*, actor, source=ChangeSource.UI, **data) -> StageRequirement:
    return create_object(StageRequirement, actor=actor, source=source, data=data, check_scope=False)


def stage_requirement_update(*, requirement: StageRequirement, actor, source=ChangeSource.UI, **data) -> dict:
    return update_object(requirement, actor=actor, source=source, data=data, check_scope=False)


def stage_requirement_delete(*, requirement: StageRequirement, actor, source=ChangeSource.UI) -> None:
    delete_object(requirement, actor=actor, source=source)


# --- gates: meeting them ----------------------------------------------------------------------------------

def _requirement_of(opportunity, requirement_id, kind) -> StageRequirement:
    req = StageRequirement.objects.filter(pk=requirement_id, stage__pipeline=opportunity.pipeline_id,
                                          kind=kind).first()
    if req is None:
        raise ValidationFailed(errors=[("requirement", _("This requirement does not belong to the deal's pipeline."))])
    return req


def evidence_attach(*, opportunity: Opportunity, requirement_id: int, file, actor,
                    source=ChangeSource.UI) -> StageEvidence:
    """Upload a file as evidence for one requirement of the deal (stored as an attachment of its kind)."""
    from baton.core.services import attachment_create

    req = _requirement_of(opportunity, requirement_id, StageRequirement.Kind.EVIDENCE)
    with transaction.atomic():
        attachment = attachment_create(actor=actor, file=file, linked_object=opportunity,
                                       kind=req.attachment_kind, source=source)
        return StageEvidence.objects.create(opportunity=opportunity, requirement=req, attachment=attachment)


def checklist_tick(*, opportunity: Opportunity, requirement_id: int, actor, done=True,
                   source=ChangeSource.UI) -> None:
    """Tick (or untick) a checklist action of the deal; audited on the deal."""
    from baton.core.models import AuditEntry
    from baton.core.services import _ensure_in_scope

    req = _requirement_of(opportunity, requirement_id, StageRequirement.Kind.CHECKLIST)
    with transaction.atomic():
        _ensure_in_scope(opportunity, actor, "change")
        item = ChecklistItem.objects.filter(opportunity=opportunity, requirement=req).first()
        if done and item is None:
            ChecklistItem.objects.create(opportunity=opportunity, requirement=req, done_at=clock.now(),
                                         done_by=actor if actor and actor.is_authenticated else None)
        elif not done and item is not None:
            item.delete()
        else:
            return
        record(opportunity, actor=actor, source=source, action=AuditEntry.Action.EVENT,
               changes={"checklist": [None if done else req.label, req.label if done else None]},
               message=_("Checklist action ticked") if done else _("Checklist action unticked"))


# --- skip with reason and second review -------------------------------------------------------------------

def _skip_review_open(opportunity, from_stage, to_stage, reason, skipped, actor, source):
    from django.contrib.contenttypes.models import ContentType

    from baton.activities.models import Task
    from baton.activities.services import task_create

    manager = _manager_of(opportunity, actor)
    task = None
    if manager is not None:
        task = task_create(
            actor=actor, source=source, assignee=manager, origin=Task.Origin.REVIEW,
            title=(_("Review a skipped stage requirement: %(deal)s") % {"deal": opportunity.name})[:200],
            description=_("%(stage)s was entered without: %(items)s. Reason: %(reason)s") % {
                "stage": to_stage.name, "items": "; ".join(u.requirement.label for u in skipped),
                "reason": reason},
            due_at=clock.now() + timedelta(hours=24),
            linked_type=ContentType.objects.get_for_model(Opportunity), linked_id=opportunity.pk,
        )
    return create_object(StageSkipReview, actor=actor, source=source, check_scope=False, data={
        "opportunity": opportunity, "from_stage": from_stage, "to_stage": to_stage, "reason": reason,
        "skipped": [{"id": u.requirement.pk, "label": u.requirement.label, "message": u.message} for u in skipped],
        "requested_by": actor if actor and actor.is_authenticated else None, "requested_at": clock.now(),
        "task": task,
    }, message=_("Stage requirement skipped with a reason"))


def _check_reviewer(review: StageSkipReview, actor):
    from baton.core import scoping
    from baton.core.errors import Conflict, PermissionDenied

    if review.status != StageSkipReview.Status.PENDING:
        raise Conflict(_("This review has already been decided."))
    if actor is None or not any(actor.has_role(r) for r in ("manager", "director", "ops")):
        raise PermissionDenied(_("Only a manager may review a skipped requirement."))
    if review.requested_by_id == actor.pk:
        raise PermissionDenied(_("You cannot review your own skip."))
    if not scoping.restrict(Opportunity.objects.filter(pk=review.opportunity_id), actor, "change").exists():
        raise PermissionDenied()


def _close_task(review, actor, source):
    if review.task_id:
        from baton.activities.models import Task
        from baton.activities.services import task_update

        task = Task.objects.get(pk=review.task_id)
        if task.status == Task.Status.OPEN:
            task_update(task=task, actor=None, source=source, status=Task.Status.DONE)


def skip_review_approve(*, review: StageSkipReview, actor, note="", source=ChangeSource.UI) -> StageSkipReview:
    _check_reviewer(review, actor)
    with transaction.atomic():
        update_object(review, actor=actor, source=source, check_scope=False, data={
            "status": StageSkipReview.Status.APPROVED, "reviewer": actor, "reviewed_at": clock.now(),
            "review_note": note})
        _close_task(review, actor, source)
    return review


def skip_review_reject(*, review: StageSkipReview, actor, note="", source=ChangeSource.UI) -> StageSkipReview:
    """Reject the skip: the deal goes back to the stage it came from (a backward move passes no gate)."""
    _check_reviewer(review, actor)
    if not note.strip():
        raise ValidationFailed(errors=[("review_note", _("Say why the skip is rejected."))])
    with transaction.atomic():
        update_object(review, actor=actor, source=source, check_scope=False, data={
            "status": StageSkipReview.Status.REJECTED, "reviewer": actor, "reviewed_at": clock.now(),
            "review_note": note})
        opportunity = Opportunity.objects.select_for_update().get(pk=review.opportunity_id)
        if opportunity.stage_id != review.from_stage_id:
            opportunity_update(opportunity=opportunity, actor=actor, source=source, stage=review.from_stage)
        _close_task(review, actor, source)
    return review


# --- pipelines and stages: configuration (ops) ------------------------------------------------------------

def _require_ops(actor):
    """Editing pipelines, stages and gates is for ops (and superusers); system writes (actor None) pass."""
    from baton.core.errors import PermissionDenied

    if actor is not None and not (actor.is_superuser or actor.has_role("ops")):
        raise PermissionDenied(_("Only ops may change pipelines, stages and gates."))


def pipeline_create(*, actor, source=ChangeSource.UI, stages=None, **data) -> Pipeline:
    """A new pipeline, with `stages` (list of stage dicts, in order) if given; errors on a stage name it as
    `stages.<i>.<field>`."""
    _require_ops(actor)
    with transaction.atomic():
        if data.get("is_default"):
            Pipeline.objects.filter(is_default=True).update(is_default=False)
        pipeline = create_object(Pipeline, actor=actor, source=source, data=data, check_scope=False)
        for i, spec in enumerate(stages or []):
            try:
                stage_create(pipeline=pipeline, actor=actor, source=source, **{**spec, "position": i})
            except ValidationFailed as exc:
                raise ValidationFailed(exc.message, errors=[(f"stages.{i}.{f}" if f else f"stages.{i}", m)
                                                            for f, m in exc.errors]) from exc
    return pipeline


def pipeline_update(*, pipeline: Pipeline, actor, source=ChangeSource.UI, **data) -> dict:
    _require_ops(actor)
    with transaction.atomic():
        if data.get("is_default") and not pipeline.is_default:
            Pipeline.objects.exclude(pk=pipeline.pk).filter(is_default=True).update(is_default=False)
        return update_object(pipeline, actor=actor, source=source, data=data, check_scope=False)


_DWELL_KEYS = ("max_dwell_days", "handbook_url")


def _dwell_set(stage, dwell, actor, source):
    if dwell:
        from baton.process.services import dwell_rule_set

        try:
            dwell_rule_set(stage=stage, actor=actor, source=source,
                           max_business_days=dwell.get("max_dwell_days"), handbook_url=dwell.get("handbook_url"))
        except ValidationFailed as exc:  # the rule's field names, as the stage's editor calls them
            names = {"max_business_days": "max_dwell_days"}
            raise ValidationFailed(exc.message, errors=[(names.get(f, f), m) for f, m in exc.errors]) from exc


def stage_create(*, pipeline: Pipeline, actor, source=ChangeSource.UI, **data) -> Stage:
    """Add a stage at the end of the pipeline (or at `position`); `max_dwell_days` / `handbook_url` set the
    stage's dwell rule (process app)."""
    _require_ops(actor)
    dwell = {k: data.pop(k) for k in _DWELL_KEYS if k in data}
    with transaction.atomic():
        if data.get("position") is None:
            last = pipeline.stages.order_by("-position").values_list("position", flat=True).first()
            data["position"] = 0 if last is None else last + 1
        stage = create_object(Stage, actor=actor, source=source, data={**data, "pipeline": pipeline},
                              check_scope=False)
        _dwell_set(stage, dwell, actor, source)
    return stage


def _rename_stage_triggers(old: str, new: str, actor, source):
    """Required-action triggers name stages (`stage_entered:<name>`); a rename carries them along."""
    from baton.process.models import ActionTemplate

    if Stage.objects.filter(name=old).exists():
        return  # another pipeline still has a stage of the old name: its triggers stay valid
    for template in ActionTemplate.objects.filter(trigger_event__in=[f"stage_entered:{old}", f"before_stage:{old}"]):
        kind = template.trigger_event.partition(":")[0]
        update_object(template, actor=actor, source=source, check_scope=False,
                      data={"trigger_event": f"{kind}:{new}"})


def stage_update(*, stage: Stage, actor, source=ChangeSource.UI, **data) -> dict:
    _require_ops(actor)
    dwell = {k: data.pop(k) for k in _DWELL_KEYS if k in data}
    old_name = stage.name
    with transaction.atomic():
        data.pop("pipeline", None)
        changes = update_object(stage, actor=actor, source=source, data=data, check_scope=False)
        if "name" in changes:
            _rename_stage_triggers(old_name, stage.name, actor, source)
        _dwell_set(stage, dwell, actor, source)
    return changes


def stage_reorder(*, pipeline: Pipeline, stage_ids: list[int], actor, source=ChangeSource.UI) -> list[Stage]:
    """Put the pipeline's stages in the order of `stage_ids` (every stage of the pipeline, once)."""
    from baton.core.models import AuditEntry

    _require_ops(actor)
    stages = {s.pk: s for s in pipeline.stages.all()}
    try:
        ids = [int(i) for i in stage_ids]
    except (TypeError, ValueError):
        ids = []
    if sorted(ids) != sorted(stages):
        raise ValidationFailed(errors=[("stage_ids", _("List every stage of the pipeline exactly once."))])
    with transaction.atomic():
        before = [stages[pk].name for pk in sorted(stages, key=lambda pk: stages[pk].position)]
        # Two passes: positions are unique per pipeline, so park them out of the way first.
        for i, pk in enumerate(ids):
            Stage.objects.filter(pk=pk).update(position=10000 + i)
        for i, pk in enumerate(ids):
            Stage.objects.filter(pk=pk).update(position=i)
            stages[pk].position = i
        after = [stages[pk].name for pk in ids]
        if before != after:
            record(pipeline, actor=actor, source=source, action=AuditEntry.Action.UPDATE,
                   changes={"stages": [before, after]}, message=_("Stages reordered"))
    return [stages[pk] for pk in ids]


def stage_shift(*, stage: Stage, offset: int, actor, source=ChangeSource.UI) -> list[Stage]:
    """Move a stage up (-1) or down (+1) one place."""
    ids = list(stage.pipeline.stages.order_by("position").values_list("pk", flat=True))
    i = ids.index(stage.pk)
    j = i + offset
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
    return stage_reorder(pipeline=stage.pipeline, stage_ids=ids, actor=actor, source=source)


def stage_delete(*, stage: Stage, actor, source=ChangeSource.UI) -> None:
    """Delete a stage no deal is in and none has passed through (its history would lose its meaning)."""
    from django.db.models import Q

    _require_ops(actor)
    in_it = Opportunity.objects.filter(stage=stage).count()
    if in_it:
        raise ValidationFailed(_("This stage cannot be deleted."), errors=[("stage", _(
            "%(n)s deal(s) are in “%(stage)s”: move them to another stage first.") % {
            "n": in_it, "stage": stage.name})], code="stage_in_use")
    history = StageChange.objects.filter(Q(from_stage=stage) | Q(to_stage=stage)).values("opportunity").distinct()
    if history.exists() or StageSkipReview.objects.filter(Q(from_stage=stage) | Q(to_stage=stage)).exists():
        raise ValidationFailed(_("This stage cannot be deleted."), errors=[("stage", _(
            "%(n)s deal(s) have passed through “%(stage)s” and their stage history names it: rename it "
            "instead.") % {"n": history.count(), "stage": stage.name})], code="stage_in_use")
    delete_object(stage, actor=actor, source=source)


def evidence_upload(*, opportunity: Opportunity, file, actor, requirement_id=None, kind: str = "",
                    source=ChangeSource.UI) -> StageEvidence:
    """Upload evidence for a requirement named by id, or by attachment kind: then the first evidence
    requirement of that kind ahead of the deal (or in its stage) that applies and is still unmet."""
    from baton.opportunities.gates import _applies, requirement_status

    if requirement_id in (None, ""):
        if not kind:
            raise ValidationFailed(errors=[("requirement", _("Name the requirement (id) or the evidence kind."))])
        candidates = [r for r in StageRequirement.objects.filter(
            stage__pipeline=opportunity.pipeline_id, kind=StageRequirement.Kind.EVIDENCE, attachment_kind=kind,
            stage__position__gte=opportunity.stage.position).exclude(stage__kind=Stage.Kind.LOST)
            .select_related("stage").order_by("stage__position", "position", "id") if _applies(r, opportunity)]
        if not candidates:
            raise ValidationFailed(errors=[("kind", _(
                "No requirement of the deal's current or next stages asks for this kind of evidence."))])
        unmet = [r for r in candidates if not requirement_status(r, opportunity)[0]]
        requirement_id = (unmet or candidates)[0].pk
    return evidence_attach(opportunity=opportunity, requirement_id=requirement_id, file=file, actor=actor,
                           source=source)
