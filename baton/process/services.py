"""Required actions: triggers, deadlines (hours or business days), completion checks, and the scan that
raises overdue and dwell alerts once.

The scan is set-based like the SLA scanner: alert rows are inserted with ON CONFLICT DO NOTHING under a
per-scan token, and only the rows carrying this scan's token fire, so a re-run (or two workers at once)
never notifies twice.
"""

import logging
import re
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from baton.core import clock
from baton.core.errors import Conflict, PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import _ensure_in_scope, create_object, record, update_object

from .models import (
    EVENTS,
    ActionAlert,
    ActionTemplate,
    DwellAlert,
    RequiredAction,
    RiskStrategy,
    StageDwellRule,
    label_of,
)

log = logging.getLogger(__name__)

# --- Deadlines ------------------------------------------------------------------------------------------------


def _calendar():
    from baton.sla.calendar import Calendar
    from baton.sla.models import HolidayOverride

    return Calendar(kind="working_hours", overrides=dict(HolidayOverride.objects.values_list("date", "is_workday")))


def add_business_days(start: datetime, days: int, calendar=None) -> datetime:
    """The same local time of day on the `days`-th working day after `start`'s day (weekends, Chinese
    statutory holidays and the editable overrides skipped; make-up workdays count)."""
    calendar = calendar or _calendar()
    tz = timezone.get_default_timezone()
    local = timezone.localtime(start, tz)
    day, left = local.date(), days
    while left > 0:
        day += timedelta(days=1)
        if calendar.is_workday(day):
            left -= 1
    return timezone.make_aware(datetime.combine(day, local.time().replace(tzinfo=None)), tz)


def deadline_for(template: ActionTemplate, start: datetime, calendar=None) -> tuple[datetime, datetime]:
    """(warn_at, due_at) of an action of `template` triggered at `start`."""
    if template.deadline_unit == ActionTemplate.DeadlineUnit.BUSINESS_DAYS:
        due = add_business_days(start, template.deadline_value, calendar)
    else:
        due = start + timedelta(hours=template.deadline_value)
    warn = start + (due - start) * min(template.warning_pct, 100) / 100
    return warn, due


# --- The shipped "golden six" ------------------------------------------------------------------------------

def _l(zh, en):
    return {"zh-hans": zh, "en": en}


GOLDEN_SIX = [
    {"code": "needs-clarification", "name_zh": "需求澄清", "name_en": "Needs clarification",
     "trigger_event": "purchase_intent", "deadline_value": 48, "deadline_unit": "hours",
     "description": "客户表达采购意向后：客户签字的需求确认书 + 简短语音或文字总结。",
     "requirements": [
         {"type": "evidence", "kind": "signed_pdf", "min": 1, "label": _l("客户签字的需求确认书", "Signed needs confirmation")},
         {"type": "text_or_audio", "field": "summary", "max_chars": 500,
          "label": _l("简短语音或文字总结", "Short voice or text summary")}]},
    {"code": "solution-match", "name_zh": "方案匹配校验", "name_en": "Solution match check",
     "trigger_event": "before_stage:报价", "deadline_value": 72, "deadline_unit": "hours",
     "description": "提交方案前：方案条目与客户采购历史比对，匹配度 ≥ 90%。",
     "requirements": [
         {"type": "match", "items_field": "proposal_items", "history_field": "purchase_history", "min_pct": 90,
          "label": _l("方案条目与采购历史匹配度", "Proposal items vs purchase history")}]},
    {"code": "competitor-filing", "name_zh": "竞品备案", "name_en": "Competitor filing",
     "trigger_event": "competitor_named", "deadline_value": 24, "deadline_unit": "hours",
     "description": "商机中出现竞争对手时：结构化填写竞品信息。",
     "requirements": [{"type": "form", "fields": [
         {"name": "competitor", "label": _l("竞争对手", "Competitor"), "required": True},
         {"name": "model", "label": _l("型号", "Model"), "required": True},
         {"name": "advantages", "label": _l("我方优势", "Our advantages"), "required": True, "type": "textarea"},
         {"name": "customer_cares", "label": _l("客户关注点", "What the customer cares about"), "required": True,
          "type": "textarea"}]}]},
    {"code": "decision-chain", "name_zh": "决策链梳理", "name_en": "Decision chain",
     "trigger_event": "stage_entered:方案", "deadline_value": 5, "deadline_unit": "business_days",
     "description": "进入方案阶段：至少 3 位标注发起人 / 影响者 / 否决者的联系人 + 会议纪要。",
     "requirements": [
         {"type": "decision_contacts", "min": 3, "roles": ["initiator", "influencer", "veto"],
          "label": _l("决策链联系人", "Decision-chain contacts")},
         {"type": "form", "fields": [{"name": "meeting_notes", "label": _l("会议纪要", "Meeting notes"),
                                      "required": True, "type": "textarea"}]}]},
    {"code": "risk-registration", "name_zh": "风险登记", "name_en": "Risk registration",
     "trigger_event": "risk_signal", "deadline_value": 0, "deadline_unit": "hours",
     "description": "出现风险信号（无预算、需招标……）：登记风险类型并从策略库选择应对策略，立即完成。",
     "requirements": [{"type": "risk_strategy", "label": _l("风险类型与应对策略", "Risk type and response strategy")}]},
    {"code": "key-terms-consensus", "name_zh": "关键条款共识", "name_en": "Key-terms consensus",
     "trigger_event": "before_stage:法务初审通过", "deadline_value": 72, "deadline_unit": "hours",
     "description": "法务初审前：客户签字的关键条款确认函。",
     "requirements": [{"type": "evidence", "kind": "signed_pdf", "min": 1,
                       "label": _l("客户签字的关键条款确认函", "Signed key-terms confirmation letter")}]},
]

DEFAULT_RISKS = [
    ("no-budget", "无预算", "无预算,没预算,预算不足,no budget", ["推动客户立项申请专项预算", "拆分为分期采购方案",
                                                            "提供融资租赁方案"]),
    ("tender-required", "需招标", "招标,需招标,公开招标,tender", ["提前参与招标文件技术参数编写", "联合合作伙伴投标",
                                                            "准备资质与业绩材料"]),
    ("competitor-lock", "竞品锁定", "竞品锁定,已有供应商,incumbent", ["安排高层拜访", "提供试用对比数据"]),
    ("decision-delay", "决策延期", "延期,推迟,delay", ["确认新的决策时间点并约定下一步", "找到内部支持者推动"]),
]

DEFAULT_DWELL = [("方案", 5), ("报价", 5), ("客户内部决策会", 10), ("法务初审通过", 5)]


def process_install_defaults() -> dict:
    """Create the shipped templates, risk strategies and dwell rules that are missing (never touches edits)."""
    out = {"templates": 0, "risk_strategies": 0, "dwell_rules": 0}
    with transaction.atomic():
        for position, spec in enumerate(GOLDEN_SIX):
            if ActionTemplate.objects.filter(code=spec["code"]).exists():
                continue
            template = ActionTemplate(position=position, **spec)
            template.full_clean()
            template.save()
            out["templates"] += 1
        for risk_type, label, signals, strategies in DEFAULT_RISKS:
            if RiskStrategy.objects.filter(risk_type=risk_type).exists():
                continue
            for i, strategy in enumerate(strategies):
                RiskStrategy.objects.create(risk_type=risk_type, risk_label=label, signals=signals,
                                            strategy=strategy, position=i)
                out["risk_strategies"] += 1
        from baton.opportunities.models import Stage
        from baton.opportunities.services import pipeline_ensure_default

        pipeline = pipeline_ensure_default()
        for name, days in DEFAULT_DWELL:
            stage = Stage.objects.filter(pipeline=pipeline, name=name).first()
            if stage is not None and not StageDwellRule.objects.filter(stage=stage).exists():
                StageDwellRule.objects.create(stage=stage, max_business_days=days,
                                              handbook_url=f"https://handbook.example.com/stages/{stage.position}")
                out["dwell_rules"] += 1
    return out


# --- Triggers ------------------------------------------------------------------------------------------------


def _raise(opportunity, template, *, trigger: str, detail: str = "", key: str = "", at=None, calendar=None,
           form_data=None):
    """Create the template's action on the deal unless this (template, key) already has one. Returns it or None."""
    at = at or clock.now()
    if RequiredAction.objects.filter(opportunity=opportunity, template=template, dedupe_key=key[:200]).exists():
        return None
    warn, due = deadline_for(template, at, calendar)
    try:
        with transaction.atomic():
            action = RequiredAction.objects.create(
                opportunity=opportunity, template=template, template_version=template.version,
                owner_id=opportunity.owner_id, trigger=trigger[:120], detail=detail[:300], dedupe_key=key[:200],
                triggered_at=at, warn_at=warn, due_at=due, form_data=form_data or {})
            record(opportunity, actor=None, source=ChangeSource.SYSTEM, action=AuditEntry.Action.EVENT,
                   changes={"required_action": [None, template.name_zh]},
                   message=_("Required action raised: %(a)s (due %(d)s)") % {
                       "a": template.name, "d": timezone.localtime(due).strftime("%Y-%m-%d %H:%M")})
    except IntegrityError:  # raised concurrently
        return None
    return action


def _next_stage(stage):
    from baton.opportunities.models import Stage

    return (Stage.objects.filter(pipeline_id=stage.pipeline_id, position__gt=stage.position)
            .exclude(kind=Stage.Kind.LOST).order_by("position").first())


def stage_entered(opportunity, stage, *, at=None) -> list[RequiredAction]:
    """A deal entered `stage`: raise `stage_entered:<stage>` and `before_stage:<next stage>` actions."""
    from baton.opportunities.models import Stage

    if stage.kind != Stage.Kind.OPEN:
        return []
    nxt = _next_stage(stage)
    events = [f"stage_entered:{stage.name}"] + ([f"before_stage:{nxt.name}"] if nxt else [])
    out = []
    calendar = None
    for template in ActionTemplate.objects.filter(active=True, trigger_kind=ActionTemplate.TriggerKind.EVENT,
                                                  trigger_event__in=events):
        calendar = calendar or _calendar()
        action = _raise(opportunity, template, trigger=template.trigger_event, at=at, calendar=calendar)
        if action:
            out.append(action)
    return out


def stage_entered_on_commit(opportunity, stage, at=None) -> None:
    """The opportunity services' hook: raise stage actions after the move commits (never fails the move)."""
    def run():
        try:
            stage_entered(opportunity, stage, at=at)
        except Exception:  # the deal moved; a missing action is logged, not a failed move
            log.exception("required actions for deal %s entering %s failed", opportunity.pk, stage.pk)

    transaction.on_commit(run)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip()).casefold()


def risk_type_for(detail: str) -> str:
    """The risk type whose signal words appear in `detail` ('' when none does)."""
    text = _norm(detail)
    for risk_type, signals in RiskStrategy.objects.filter(active=True).values_list("risk_type", "signals").distinct():
        if risk_type and _norm(risk_type) == text:
            return risk_type
        for word in (w for w in (signals or "").split(",") if w.strip()):
            if _norm(word) in text:
                return risk_type
    return ""


def deal_signal(*, opportunity, kind: str, detail: str = "", actor, source=ChangeSource.UI) -> list[RequiredAction]:
    """Record what the customer said or what appeared on the deal (purchase intent, a competitor named, a
    risk signal) and raise the actions that event triggers. Audited on the deal."""
    if kind not in EVENTS:
        raise ValidationFailed(errors=[("kind", _("Unknown signal: use purchase_intent, competitor_named or "
                                                  "risk_signal."))])
    detail = (detail or "").strip()
    if kind in ("competitor_named", "risk_signal") and not detail:
        raise ValidationFailed(errors=[("detail", _("Name the competitor.") if kind == "competitor_named"
                                        else _("Describe the risk signal (e.g. “no budget”)."))])
    _ensure_in_scope(opportunity, actor, "change")
    if opportunity.status != "open":
        raise Conflict(_("The deal is closed."))
    now = clock.now()
    form = {}
    if kind == "competitor_named":
        form = {"competitor": detail}
    elif kind == "risk_signal":
        risk = risk_type_for(detail)
        form = {"risk_type": risk} if risk else {}
    key = _norm(detail) if kind != "purchase_intent" else ""
    out = []
    with transaction.atomic():
        record(opportunity, actor=actor, source=source, action=AuditEntry.Action.EVENT,
               changes={"signal": [None, f"{kind}: {detail}" if detail else kind]},
               message=_("Deal signal: %(k)s") % {"k": kind})
        for template in ActionTemplate.objects.filter(active=True, trigger_kind=ActionTemplate.TriggerKind.EVENT,
                                                      trigger_event=kind):
            action = _raise(opportunity, template, trigger=kind, detail=detail, key=key, at=now, form_data=form)
            if action:
                out.append(action)
    return out


# --- Completing -----------------------------------------------------------------------------------------------


def _items(value) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[\n,;，；、]+", value)
    return [v for v in dict.fromkeys(_norm(str(x)) for x in (value or [])) if v]


def match_of(proposal, history) -> dict:
    """|proposal items ∩ purchase history items| / |proposal items| (items compared case- and space-blind)."""
    items, hist = _items(proposal), set(_items(history))
    matched = [i for i in items if i in hist]
    pct = round(100 * len(matched) / len(items), 1) if items else 0.0
    return {"match_pct": pct, "matched": matched, "unmatched": [i for i in items if i not in hist],
            "proposal_count": len(items)}


def _evidence_count(action, kind: str) -> int:
    return action.evidence.filter(kind=kind).count() if action.pk else 0


def check(action: RequiredAction, form: dict) -> tuple[list[tuple[str, str]], dict]:
    """(errors, result): every unmet completion requirement, precisely; result holds computed figures."""
    errors, result = [], {}
    for req in action.template.requirements:
        label = label_of(req.get("label"))
        kind = req["type"]
        if kind == "evidence":
            from baton.core.models import Attachment

            need, have = int(req.get("min", 1)), _evidence_count(action, req["kind"])
            if have < need:
                errors.append(("evidence", _("Upload “%(label)s”: at least %(n)s × %(kind)s (%(have)s uploaded).") % {
                    "label": label, "n": need, "kind": dict(Attachment.Kind.choices).get(req["kind"], req["kind"]),
                    "have": have}))
        elif kind == "text_or_audio":
            text = (form.get(req["field"]) or "").strip()
            audio = action.pk and action.evidence.filter(content_type__startswith="audio/").exists()
            limit = int(req.get("max_chars", 500))
            if len(text) > limit:
                errors.append((req["field"], _("“%(label)s” must be short: at most %(n)s characters (%(have)s).") % {
                    "label": label, "n": limit, "have": len(text)}))
            elif not text and not audio:
                errors.append((req["field"], _("Give “%(label)s”: write a short text or upload a voice recording.") % {
                    "label": label}))
        elif kind == "form":
            for field in req.get("fields", []):
                value = form.get(field["name"])
                if field.get("required") and not (str(value).strip() if value is not None else ""):
                    errors.append((field["name"], _("Fill in “%(label)s”.") % {"label": label_of(field.get("label"))}))
        elif kind == "match":
            proposal, history = form.get(req["items_field"]), form.get(req["history_field"])
            if not _items(proposal):
                errors.append((req["items_field"], _("List the proposal items.")))
                continue
            if not _items(history):
                errors.append((req["history_field"], _("List the customer's purchase history.")))
                continue
            m = match_of(proposal, history)
            result["match"] = m
            need = float(req.get("min_pct", 90))
            if m["match_pct"] < need:
                errors.append((req["items_field"], _(
                    "The proposal matches the purchase history at %(pct)s %% (%(m)s of %(n)s items); at least "
                    "%(need)s %% is required. Not in the history: %(missing)s.") % {
                    "pct": m["match_pct"], "m": len(m["matched"]), "n": m["proposal_count"], "need": int(need),
                    "missing": "、".join(m["unmatched"])}))
        elif kind == "decision_contacts":
            from baton.accounts.models import Contact

            opp = action.opportunity
            contacts = Contact.objects.none()
            if opp.account_id:
                contacts = Contact.objects.filter(account_id=opp.account_id)
            elif opp.contact_id:
                contacts = Contact.objects.filter(pk=opp.contact_id)
            roles = req.get("roles") or []
            tagged = contacts.filter(decision_role__in=roles) if roles else contacts.exclude(decision_role="")
            have = tagged.count()
            present = set(tagged.values_list("decision_role", flat=True))
            need = int(req.get("min", 3))
            names = dict(Contact.DecisionRole.choices)
            missing = [str(names.get(r, r)) for r in roles if r not in present]
            if have < need or missing:
                msg = _("Tag at least %(n)s contacts of the account with a decision role (%(have)s so far).") % {
                    "n": need, "have": have}
                if missing:
                    msg += " " + _("Missing roles: %(roles)s.") % {"roles": "、".join(missing)}
                errors.append(("contacts", msg))
        elif kind == "risk_strategy":
            risk_type = (form.get("risk_type") or "").strip()
            strategy = form.get("strategy")
            if not risk_type or not RiskStrategy.objects.filter(active=True, risk_type=risk_type).exists():
                errors.append(("risk_type", _("Choose the risk type from the strategy library.")))
            elif not strategy or not RiskStrategy.objects.filter(active=True, risk_type=risk_type,
                                                                pk=_int(strategy)).exists():
                errors.append(("strategy", _("Choose a response strategy for this risk from the library.")))
            else:
                s = RiskStrategy.objects.get(pk=_int(strategy))
                result["risk"] = {"type": s.risk_type, "label": s.risk_label, "strategy": s.strategy}
    return errors, result


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _clean_form(template: ActionTemplate, form: dict) -> dict:
    """Only the fields the template asks for (lists kept as lists)."""
    names = set()
    for req in template.requirements:
        if req["type"] == "form":
            names |= {f["name"] for f in req.get("fields", [])}
        elif req["type"] == "text_or_audio":
            names.add(req["field"])
        elif req["type"] == "match":
            names |= {req["items_field"], req["history_field"]}
        elif req["type"] == "risk_strategy":
            names |= {"risk_type", "strategy"}
    out = {}
    for key, value in (form or {}).items():
        if key in names:
            out[key] = value if isinstance(value, list) else ("" if value is None else str(value))
    return out


def _check_actor(action, actor):
    if not action.is_open:
        raise Conflict(_("This action is already closed."))
    _ensure_in_scope(action.opportunity, actor, "change")


def action_save(*, action: RequiredAction, form: dict, actor, source=ChangeSource.UI) -> dict:
    """Save the action's form as a draft (no validation); returns the computed figures (e.g. the match)."""
    _check_actor(action, actor)
    data = {**action.form_data, **_clean_form(action.template, form)}
    _errors, result = check(action, data)
    update_object(action, actor=actor, source=source, check_scope=False,
                  data={"form_data": data, "result": {**action.result, **result}})
    return result


def action_complete(*, action: RequiredAction, form: dict | None = None, actor,
                    source=ChangeSource.UI) -> RequiredAction:
    """Complete the action: every requirement must be met (else 422 listing each); stamps on-time or late."""
    _check_actor(action, actor)
    data = {**action.form_data, **_clean_form(action.template, form or {})}
    errors, result = check(action, data)
    if errors:
        # Keep what was typed and the computed match even when refused.
        action.form_data, action.result = data, {**action.result, **result}
        RequiredAction.objects.filter(pk=action.pk).update(form_data=action.form_data, result=action.result)
        raise ValidationFailed(_("The action's requirements are not met."), errors=errors, code="requirements")
    now = clock.now()
    with transaction.atomic():
        update_object(action, actor=actor, source=source, check_scope=False, data={
            "form_data": data, "result": {**action.result, **result}, "status": RequiredAction.Status.DONE,
            "completed_at": now, "completed_on_time": now <= action.due_at,
            "completed_by": actor if actor and actor.is_authenticated else None,
        }, message=_("Required action completed"))
        _mark_alerts_read(action, now)
    return action


def action_attach(*, action: RequiredAction, file, kind: str, actor, source=ChangeSource.UI):
    """Upload a file as evidence of the action (stored on the deal as an attachment of `kind`)."""
    from baton.core.models import Attachment
    from baton.core.services import attachment_create

    _check_actor(action, actor)
    if kind not in Attachment.Kind.values:
        raise ValidationFailed(errors=[("kind", _("Unknown attachment kind."))])
    with transaction.atomic():
        attachment = attachment_create(actor=actor, file=file, linked_object=action.opportunity, kind=kind,
                                       source=source)
        action.evidence.add(attachment)
    return attachment


def action_waive(*, action: RequiredAction, reason: str, actor, source=ChangeSource.UI) -> RequiredAction:
    """A manager waives an action (it then counts neither as due nor as done); audited with the reason."""
    if actor is None or not (actor.is_superuser or any(actor.has_role(r) for r in ("manager", "director", "ops"))):
        raise PermissionDenied(_("Only a manager may waive a required action."))
    if not (reason or "").strip():
        raise ValidationFailed(errors=[("waive_reason", _("Say why the action is waived."))])
    _check_actor(action, actor)
    with transaction.atomic():
        update_object(action, actor=actor, source=source, check_scope=False, data={
            "status": RequiredAction.Status.WAIVED, "waive_reason": reason.strip()[:300]},
            message=_("Required action waived"))
        _mark_alerts_read(action, clock.now())
    return action


def _mark_alerts_read(action, now):
    from baton.notifications.models import Notification

    keys = [f"process:{a}:{who}" for a in action.alerts.values_list("pk", flat=True) for who in ("owner", "manager")]
    if keys:
        Notification.objects.filter(key__in=keys, read_at__isnull=True).update(read_at=now)


# --- The scan -------------------------------------------------------------------------------------------------


def _manager_of(user):
    if user is None:
        return None
    if user.manager_id:
        return user.manager
    if user.team_id and user.team.manager_id and user.team.manager_id != user.pk:
        return user.team.manager
    return None


def _deal_link(opportunity_id) -> str:
    base = getattr(settings, "BATON_BASE_URL", "").rstrip("/")
    return base + reverse("opportunities:detail", args=[opportunity_id]) + "#required-actions"


def _condition_triggers(now, calendar) -> int:
    from baton.conditions.compiler import to_q
    from baton.opportunities.models import Opportunity

    n = 0
    for template in ActionTemplate.objects.filter(active=True, trigger_kind=ActionTemplate.TriggerKind.CONDITION):
        if not template.trigger_condition:
            continue
        has = RequiredAction.objects.filter(opportunity=OuterRef("pk"), template=template, dedupe_key="")
        deals = (Opportunity.objects.filter(status="open").filter(to_q(Opportunity, template.trigger_condition))
                 .filter(~Exists(has)))
        rows = []
        for pk, owner_id in deals.values_list("pk", "owner_id").iterator(chunk_size=2000):
            warn, due = deadline_for(template, now, calendar)
            rows.append(RequiredAction(opportunity_id=pk, template=template, template_version=template.version,
                                       owner_id=owner_id, trigger="condition", triggered_at=now, warn_at=warn,
                                       due_at=due))
        RequiredAction.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
        n += len(rows)
    return n


def _dwell_candidates(now, calendar):
    from baton.opportunities.models import Opportunity

    out = []
    for rule in StageDwellRule.objects.filter(active=True).select_related("stage"):
        already = DwellAlert.objects.filter(opportunity=OuterRef("pk"), stage=rule.stage,
                                            stage_entered_at=OuterRef("stage_entered_at"))
        # Business days are never shorter than calendar days: SQL keeps a bound, Python the exact due time.
        qs = (Opportunity.objects.filter(status="open", stage=rule.stage,
                                         stage_entered_at__lte=now - timedelta(days=rule.max_business_days))
              .filter(~Exists(already)).values_list("pk", "stage_entered_at", "owner_id"))
        for pk, entered, owner in qs.iterator(chunk_size=2000):
            due = add_business_days(entered, rule.max_business_days, calendar)
            if due <= now:
                out.append(DwellAlert(opportunity_id=pk, stage=rule.stage, stage_entered_at=entered, due_at=due,
                                      crossed_at=now, owner_id_at_crossing=owner))
    return out


def process_scan(now=None, *, fire=True) -> dict:
    """One scan: condition triggers, overdue marking, warning/overdue alerts and dwell alerts, each once."""
    now = now or clock.now()
    token = uuid.uuid4().hex
    calendar = _calendar()
    stats = {"raised": 0, "overdue": 0, "alerts": 0, "dwell": 0, "fired": 0}
    with clock.frozen(now):
        stats["raised"] = _condition_triggers(now, calendar)
        stats["overdue"] = RequiredAction.objects.filter(status=RequiredAction.Status.OPEN, due_at__lte=now).update(
            status=RequiredAction.Status.OVERDUE)
        open_ = Q(status__in=[RequiredAction.Status.OPEN, RequiredAction.Status.OVERDUE])
        for level, q in (("overdue", Q(due_at__lte=now)), ("warning", Q(warn_at__lte=now, warn_at__lt=F("due_at")))):
            done = ActionAlert.objects.filter(action=OuterRef("pk"), level=level)
            rows = (RequiredAction.objects.filter(open_).filter(q).filter(~Exists(done))
                    .values_list("pk", "owner_id"))
            ActionAlert.objects.bulk_create(
                [ActionAlert(action_id=pk, level=level, crossed_at=now, scan_token=token, owner_id_at_crossing=owner)
                 for pk, owner in rows.iterator(chunk_size=2000)], ignore_conflicts=True, batch_size=2000)
        for alert in _dwell_candidates(now, calendar):
            alert.scan_token = token
            DwellAlert.objects.bulk_create([alert], ignore_conflicts=True)
        mine = list(ActionAlert.objects.filter(scan_token=token)
                    .select_related("action__template", "action__opportunity", "action__owner__manager",
                                    "action__owner__team__manager"))
        dwell = list(DwellAlert.objects.filter(scan_token=token)
                     .select_related("opportunity__owner__manager", "opportunity__owner__team__manager", "stage"))
        stats["alerts"], stats["dwell"] = len(mine), len(dwell)
        if fire:
            with translation.override(settings.LANGUAGE_CODE):
                stats["fired"] = _fire_actions(mine) + _fire_dwell(dwell, now)
    return stats


def _fire_actions(alerts) -> int:
    from baton.notifications.services import notify

    overdue_ids = {a.action_id for a in alerts if a.level == "overdue"}
    fired = 0
    for a in alerts:
        if a.level == "warning" and a.action_id in overdue_ids:
            continue  # the scanner was down: the overdue alert says more
        action = a.action
        owner = action.owner
        due = timezone.localtime(action.due_at).strftime("%Y-%m-%d %H:%M")
        title = (_("[Required action] %(a)s overdue: %(deal)s") if a.level == "overdue"
                 else _("[Required action] %(a)s due soon: %(deal)s")) % {"a": action.template.name,
                                                                         "deal": action.opportunity}
        text = "\n".join([_("Due: %(t)s") % {"t": due}, _("Owner: %(o)s") % {"o": owner or _("nobody")}]
                         + ([action.detail] if action.detail else []))
        link = _deal_link(action.opportunity_id)
        team = owner.team if owner is not None and owner.team_id else None
        try:
            if owner is not None:
                notify(users=[owner], title=title, text=text, link=link, key=f"process:{a.pk}:owner", team=team,
                       bots_too=a.level == "overdue")
                fired += 1
            manager = _manager_of(owner)
            if a.level == "overdue" and manager is not None:
                notify(users=[manager], title=title, text=text, link=link, key=f"process:{a.pk}:manager",
                       team=team, bots_too=False)
                fired += 1
        except Exception:  # one failing alert must not stop the others
            log.exception("required-action alert %s failed", a.pk)
    return fired


def _fire_dwell(alerts, now) -> int:
    from baton.activities.models import Task
    from baton.activities.services import task_create
    from baton.notifications.services import notify
    from baton.opportunities.models import Opportunity

    rules = {r.stage_id: r for r in StageDwellRule.objects.filter(stage_id__in={a.stage_id for a in alerts})}
    fired = 0
    ct = ContentType.objects.get_for_model(Opportunity)
    for a in alerts:
        deal, rule = a.opportunity, rules.get(a.stage_id)
        owner = deal.owner
        args = {"deal": deal, "stage": a.stage.name, "n": rule.max_business_days if rule else "?"}
        try:
            if owner is not None:
                text = _("“%(deal)s” has been in “%(stage)s” for more than %(n)s business days.") % args
                if rule and rule.handbook_url:
                    text += "\n" + _("Stage handbook: %(url)s") % {"url": rule.handbook_url}
                notify(users=[owner], title=_("[Dwell] %(deal)s stuck in %(stage)s") % args, text=text,
                       link=(rule.handbook_url if rule and rule.handbook_url else _deal_link(deal.pk)),
                       key=f"dwell:{a.pk}:owner", team=owner.team if owner.team_id else None)
                fired += 1
            manager = _manager_of(owner)
            if manager is not None:
                task = task_create(
                    actor=None, source=ChangeSource.JOB, assignee=manager, origin=Task.Origin.STAGE,
                    title=(_("Sync with %(rep)s on “%(deal)s” within 24 h") % {"rep": owner, **args})[:200],
                    description=_("The deal has been in “%(stage)s” for more than %(n)s business days.") % args,
                    due_at=now + timedelta(hours=24), linked_type=ct, linked_id=deal.pk)
                DwellAlert.objects.filter(pk=a.pk).update(task=task)
                fired += 1
        except Exception:
            log.exception("dwell alert %s failed", a.pk)
    return fired


# --- Configuration --------------------------------------------------------------------------------------------


def _require_admin(actor):
    if actor is not None and not (actor.is_superuser or actor.has_role("ops")):
        raise PermissionDenied()


def template_update(*, template: ActionTemplate, actor, source=ChangeSource.UI, **data) -> dict:
    _require_admin(actor)
    with transaction.atomic():
        changes = update_object(template, actor=actor, source=source, data=data, check_scope=False)
        if changes:
            ActionTemplate.objects.filter(pk=template.pk).update(version=template.version + 1)
            template.version += 1
    return changes


def risk_strategy_create(*, actor, source=ChangeSource.UI, **data) -> RiskStrategy:
    _require_admin(actor)
    return create_object(RiskStrategy, actor=actor, source=source, data=data, check_scope=False)



def template_create(*, actor, source=ChangeSource.UI, **data) -> ActionTemplate:
    """A custom required action (the golden six are shipped; ops add their own)."""
    _require_admin(actor)
    if data.get("position") is None:
        last = ActionTemplate.objects.order_by("-position").values_list("position", flat=True).first()
        data["position"] = 0 if last is None else last + 1
    return create_object(ActionTemplate, actor=actor, source=source, data=data, check_scope=False)


def risk_strategy_update(*, risk_strategy: RiskStrategy, actor, source=ChangeSource.UI, **data) -> dict:
    _require_admin(actor)
    return update_object(risk_strategy, actor=actor, source=source, data=data, check_scope=False)


def risk_strategy_delete(*, risk_strategy: RiskStrategy, actor, source=ChangeSource.UI) -> None:
    """Delete a strategy; actions that chose it keep their copy of it (stored in their result)."""
    from baton.core.services import delete_object

    _require_admin(actor)
    delete_object(risk_strategy, actor=actor, source=source)


def dwell_rule_set(*, stage, max_business_days, handbook_url="", actor, source=ChangeSource.UI):
    """Set (or, with no maximum, remove) the stage's dwell rule. Returns the rule or None."""
    from baton.core.services import delete_object

    _require_admin(actor)
    rule = StageDwellRule.objects.filter(stage=stage).first()
    if max_business_days in (None, ""):
        if rule is not None:
            delete_object(rule, actor=actor, source=source)
        return None
    data = {"max_business_days": max_business_days, "handbook_url": handbook_url or "", "active": True}
    if rule is None:
        return create_object(StageDwellRule, actor=actor, source=source, data={"stage": stage, **data},
                             check_scope=False)
    update_object(rule, actor=actor, source=source, data=data, check_scope=False)
    return rule
