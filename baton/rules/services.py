"""Tag, score and grade leads by rules; save rules with versions; preview a rule; re-evaluate in the background.

Scoring: score = clamp(round(Σ points of matching static rules + Σ decayed points of behaviour rules), 0, 100),
where a behaviour rule's points fade as `points * 0.5 ** (age_hours / half_life_hours)` with the age taken from
the lead's most recent event of the rule's kind. The grade follows from the grade bands (A ≥ 85, B ≥ 60, C).
"""

import logging
import math
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    Max,
    Q,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from baton.conditions.models import LeadEvent
from baton.core import clock, config_cache, scoping
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import create_object, record, update_object
from baton.leads.models import OPEN_LEAD_STATUSES, Lead, LeadSource, Tag
from baton.rules import conditions
from baton.rules.models import (
    GradeBands,
    LeadEvaluation,
    RuleRun,
    RuleType,
    RuleVersion,
    ScoringRule,
    TaggingRule,
)

log = logging.getLogger(__name__)

RULE_MODELS = {RuleType.TAGGING: TaggingRule, RuleType.SCORING: ScoringRule}
_SNAPSHOT_FIELDS = {
    RuleType.TAGGING: ["name", "key", "condition", "tags", "active", "priority"],
    RuleType.SCORING: ["name", "key", "condition", "points", "kind", "event_kind", "half_life_hours", "active",
                       "priority"],
    RuleType.GRADE_BANDS: ["a_min", "b_min"],
}


def _require_rules_admin(actor):
    if actor is None:
        return
    if not (actor.is_superuser or actor.has_role("ops")):
        raise PermissionDenied()


# --- Grade bands ------------------------------------------------------------------------------------


def grade_bands_get() -> GradeBands:
    bands = GradeBands.objects.order_by("pk").first()
    if bands is None:
        with transaction.atomic():
            bands, created = GradeBands.objects.get_or_create(pk=1, defaults={"version": 1})
            if created:
                _store_version(RuleType.GRADE_BANDS, bands, actor=None)
    return bands


def grade_bands_update(*, actor, source=ChangeSource.UI, a_min: int, b_min: int, reevaluate=True) -> GradeBands:
    _require_rules_admin(actor)
    bands = grade_bands_get()
    with transaction.atomic():
        bands = GradeBands.objects.select_for_update().get(pk=bands.pk)
        changes = update_object(bands, actor=actor, source=source, check_scope=False,
                                data={"a_min": a_min, "b_min": b_min, "updated_at": clock.now()})
        if set(changes) - {"updated_at"}:
            GradeBands.objects.filter(pk=bands.pk).update(version=F("version") + 1)
            bands.refresh_from_db()
            _store_version(RuleType.GRADE_BANDS, bands, actor=actor)
            if reevaluate:
                rule_run_start(rule_type=RuleType.GRADE_BANDS, rule_id=bands.pk, version=bands.version, actor=actor)
    return bands


# --- Rules: save with a version snapshot ------------------------------------------------------------


def _store_version(rule_type, rule, *, actor):
    snap = {name: getattr(rule, name) for name in _SNAPSHOT_FIELDS[rule_type]}
    RuleVersion.objects.create(rule_type=rule_type, rule_id=rule.pk, version=rule.version, snapshot=snap,
                               actor=actor if actor is not None and actor.is_authenticated else None,
                               at=clock.now())


def _ensure_tags(names) -> list[Tag]:
    names = [n.strip() for n in names if n and n.strip()]
    found = {t.name: t for t in Tag.objects.filter(name__in=names)}
    for name in names:
        if name not in found:
            found[name], _created = Tag.objects.get_or_create(name=name[:50])
    return [found[n] for n in dict.fromkeys(names)]


def _clean_rule_data(rule_type, data: dict) -> dict:
    data = dict(data)
    if "condition" in data:
        if data["condition"] is None:
            data["condition"] = {}
        conditions.validate_or_raise(Lead, data["condition"])
    if rule_type == RuleType.TAGGING and "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags) or not tags:
            raise ValidationFailed(errors=[("tags", _("Give at least one tag name."))])
        if any(len(t.strip()) > 50 for t in tags):
            raise ValidationFailed(errors=[("tags", _("A tag name has at most 50 characters."))])
        data["tags"] = [t.strip() for t in tags]
    return data


def rule_create(*, rule_type, actor, source=ChangeSource.UI, reevaluate=True, **data):
    """Create a tagging or scoring rule (version 1) and re-evaluate open leads in the background."""
    _require_rules_admin(actor)
    model = RULE_MODELS[RuleType(rule_type)]
    data = _clean_rule_data(rule_type, data)
    now = clock.now()
    data.update(version=1, created_at=now, updated_at=now)
    with transaction.atomic():
        rule = create_object(model, actor=actor, source=source, data=data, check_scope=False)
        if rule_type == RuleType.TAGGING:
            _ensure_tags(rule.tags)
        _store_version(rule_type, rule, actor=actor)
        if reevaluate:
            rule_run_start(rule_type=rule_type, rule_id=rule.pk, version=rule.version, actor=actor)
    return rule


def rule_update(*, rule, actor, source=ChangeSource.UI, reevaluate=True, **data):
    """Change a rule: every save that changes something bumps its version and stores a snapshot."""
    _require_rules_admin(actor)
    rule_type = RuleType.TAGGING if isinstance(rule, TaggingRule) else RuleType.SCORING
    data = _clean_rule_data(rule_type, data)
    with transaction.atomic():
        rule = type(rule).objects.select_for_update().get(pk=rule.pk)
        before = {k: getattr(rule, k) for k in data}
        for key, value in data.items():
            setattr(rule, key, value)
        if before == {k: getattr(rule, k) for k in data}:
            return rule
        data["version"] = rule.version + 1
        data["updated_at"] = clock.now()
        update_object(rule, actor=actor, source=source, data=data, check_scope=False)
        if rule_type == RuleType.TAGGING:
            _ensure_tags(rule.tags)
        _store_version(rule_type, rule, actor=actor)
        if reevaluate:
            rule_run_start(rule_type=rule_type, rule_id=rule.pk, version=rule.version, actor=actor)
    return rule


def rule_delete(*, rule, actor, source=ChangeSource.UI, reevaluate=True) -> None:
    _require_rules_admin(actor)
    rule_type = RuleType.TAGGING if isinstance(rule, TaggingRule) else RuleType.SCORING
    rule_id = rule.pk
    with transaction.atomic():
        record(rule, actor=actor, source=source, action=AuditEntry.Action.DELETE,
               message=_("Rule deleted: %(name)s") % {"name": rule.name})
        rule.delete()
        if reevaluate:
            rule_run_start(rule_type=rule_type, rule_id=rule_id, version=None, actor=actor)


# --- Defaults -----------------------------------------------------------------------------------------

BUDGET_BANDS = [  # CNY
    ("budget.small", gettext_noop("Budget < 50k"), {"all": [{"field": "budget", "op": "lt", "value": 50000}]}),
    ("budget.medium", gettext_noop("Budget 50k–200k"), {"all": [{"field": "budget", "op": "gte", "value": 50000},
                                                                 {"field": "budget", "op": "lte", "value": 200000}]}),
    ("budget.large", gettext_noop("Budget > 200k"), {"all": [{"field": "budget", "op": "gt", "value": 200000}]}),
]


FOCUS_INDUSTRIES = ("manufacturing", "medical")


def _default_scoring_rules():
    return [
        ("score.budget_large", _("Budget above 200k"), "static",
         {"all": [{"field": "budget", "op": "gt", "value": 200000}]}, 30, "", None),
        ("score.source_referral", _("Referral"), "static",
         {"all": [{"field": "source", "op": "eq", "value": "referral"}]}, 25, "", None),
        ("score.source_trade_show", _("Trade show"), "static",
         {"all": [{"field": "source", "op": "eq", "value": "trade_show"}]}, 15, "", None),
        ("score.has_phone", _("Has a phone number"), "static",
         {"all": [{"field": "phone", "op": "is_null", "value": False}]}, 10, "", None),
        ("score.page_view", _("Visited the website recently"), "behaviour", {}, 10, "page_view", 72.0),
    ]


def rules_install_defaults(*, actor=None) -> dict:
    """Install the shipped grade bands, tagging and scoring rules. Safe to call again: keys already present
    (even if since edited or deactivated) are left alone. Returns how many rules were created."""
    from baton.accounts.models import Industry

    created = {"tagging": 0, "scoring": 0}
    grade_bands_get()
    existing_tagging = set(TaggingRule.objects.exclude(key="").values_list("key", flat=True))
    existing_scoring = set(ScoringRule.objects.exclude(key="").values_list("key", flat=True))

    def tagging(key, name, condition, tags, priority):
        if key in existing_tagging:
            return
        rule_create(rule_type=RuleType.TAGGING, actor=actor, source=ChangeSource.SYSTEM, reevaluate=False,
                    key=key, name=name, condition=condition, tags=tags, priority=priority)
        created["tagging"] += 1

    with transaction.atomic():
        for value, label in LeadSource.choices:
            tagging(f"source.{value}", _("Source: %(source)s") % {"source": label},
                    {"all": [{"field": "source", "op": "eq", "value": value}]},
                    [_("Source: %(source)s") % {"source": label}], 10)
        for industry in Industry.objects.order_by("code"):
            tagging(f"industry.{industry.code}", _("Industry: %(name)s") % {"name": industry.name},
                    {"all": [{"field": "industries", "op": "has_any", "value": [industry.code]}]},
                    [_("Industry: %(name)s") % {"name": industry.name}], 20)
        for key, label, condition in BUDGET_BANDS:
            tagging(key, _(label), condition, [_(label)], 30)
        scoring_defaults = _default_scoring_rules()
        focus = list(Industry.objects.filter(code__in=FOCUS_INDUSTRIES).order_by("code")
                     .values_list("code", flat=True))
        if focus:  # conditions only name industries that exist
            scoring_defaults.insert(1, ("score.industry_focus", _("Focus industry (manufacturing, medical)"),
                                        "static", {"all": [{"field": "industries", "op": "has_any",
                                                            "value": focus}]}, 20, "", None))
        for key, name, kind, condition, points, event_kind, half_life in scoring_defaults:
            if key in existing_scoring:
                continue
            rule_create(rule_type=RuleType.SCORING, actor=actor, source=ChangeSource.SYSTEM, reevaluate=False,
                        key=key, name=name, kind=kind, condition=condition, points=points,
                        event_kind=event_kind, half_life_hours=half_life)
            created["scoring"] += 1
    return created


# --- Evaluation ---------------------------------------------------------------------------------------


@dataclass
class RuleSet:
    """The active rules, loaded once per evaluation (or once per background run)."""

    tagging: list = field(default_factory=list)
    scoring: list = field(default_factory=list)
    bands: GradeBands | None = None
    scoring_reads_tags: bool = False
    # (rule class, id) -> compiled condition, filled on first use; lives as long as this rule set (per process
    # until the configuration changes, or one background run)
    predicates: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)  # name -> Tag, for the tags the tagging rules give

    @classmethod
    def load(cls):
        tagging = list(TaggingRule.objects.filter(active=True).order_by("priority", "id"))
        scoring = list(ScoringRule.objects.filter(active=True).order_by("priority", "id"))
        names = {n for r in tagging for n in r.tags}
        return cls(tagging=tagging, scoring=scoring, bands=grade_bands_get(),
                   scoring_reads_tags=any(_mentions(r.condition, "tags") for r in scoring),
                   tags={t.name: t for t in Tag.objects.filter(name__in=names)} if names else {})

    @classmethod
    def current(cls, token: str | None = None):
        """The rule set in force, compiled once per process per configuration change (`core.config_cache`).
        Shared by the process's threads: read it, never change its rules."""
        return config_cache.cached("rules", cls.load, token)

    def tag_rows(self, names) -> list:
        """The Tag rows for `names`, created when missing (a tag deleted or renamed since the rules were
        loaded changes the configuration token: see `core.config_cache.WATCHED`)."""
        if all(n in self.tags for n in names):
            return [self.tags[n] for n in dict.fromkeys(names)]
        return _ensure_tags(names)

    def pred(self, rule):
        key = (type(rule).__name__, rule.pk)
        pred = self.predicates.get(key)
        if pred is None:
            pred = self.predicates[key] = conditions.to_predicate(Lead, rule.condition)
        return pred


def _mentions(condition, name) -> bool:
    if isinstance(condition, dict):
        return condition.get("field") == name or any(_mentions(v, name) for v in condition.values())
    if isinstance(condition, list):
        return any(_mentions(v, name) for v in condition)
    return False


def decayed_points(points: float, age_hours: float, half_life_hours: float) -> float:
    return points * 0.5 ** (max(age_hours, 0.0) / half_life_hours)


def score_from_raw(raw: float) -> int:
    """Round half up (same in Python and SQL) and clamp to 0–100."""
    return max(0, min(100, math.floor(raw + 0.5)))


def _tagging(rules: "RuleSet", lead) -> tuple[list, list]:
    """(explanation of the tagging rules that fire on `lead`, the tags they give in rule order)."""
    explanation, fired = [], []
    for rule in rules.tagging:
        if rules.pred(rule)(lead):
            explanation.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version,
                                "tags": list(rule.tags)})
            fired += rule.tags
    return explanation, fired


def evaluate_new(view, rules: "RuleSet") -> dict:
    """What `lead_evaluate(new=True)` computes for a lead about to be inserted (`leads.unsaved.RowView`, no
    tags, no events yet: behaviour rules cannot fire), without writing anything. Sets the new tags, score and
    grade on `view` (the pool conditions read them) and returns {"tags" (Tag rows, rule order),
    "tag_explanation", "score_explanation", "raw", "score", "grade"}. Missing Tag rows are created."""
    from baton.leads.unsaved import Rel

    tag_explanation, fired = _tagging(rules, view)
    tags = rules.tag_rows(fired) if fired else []
    view.tags = Rel(tags)
    explanation, raw = [], 0.0
    for rule in rules.scoring:
        if rule.kind != ScoringRule.Kind.BEHAVIOUR and rules.pred(rule)(view):
            explanation.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version,
                                "kind": rule.kind, "points": rule.points})
            raw += rule.points
    view.score = score = score_from_raw(raw)
    view.grade = grade = rules.bands.grade_for(score)
    return {"tags": tags, "tag_explanation": tag_explanation, "score_explanation": explanation, "raw": raw,
            "score": score, "grade": grade}


def lead_evaluate(*, lead: Lead, actor=None, source=ChangeSource.JOB, rules: RuleSet | None = None,
                  new: bool = False) -> dict:
    """Apply tagging rules, compute score and grade, store them on the lead (audited, via `lead_update`)
    and the explanation on its `LeadEvaluation`. Returns {"score", "grade", "tags", "score_explanation",
    "tag_explanation", "changes"}.

    `new=True` (from `lead_create`, same transaction as the insert): the lead cannot have an evaluation yet,
    so none is looked up and the new one is inserted directly."""
    from baton.leads.services import lead_engine_write, lead_update

    rules = rules or RuleSet.current()
    now = clock.now()
    original = lead
    if not getattr(lead, "_prefetched_objects_cache", None):
        prefetch_related_objects([lead], "tags", "industries")
    with transaction.atomic(savepoint=not new):
        evaluation = None if new else LeadEvaluation.objects.filter(lead=lead).first()
        previous_auto = set(evaluation.auto_tags) if evaluation else set()

        # 1. Tags
        tag_explanation, fired = _tagging(rules, lead)
        fired_set = set(fired)
        current = {t.name: t for t in lead.tags.all()}
        wanted = (set(current) - (previous_auto - fired_set)) | fired_set
        changes = {}
        if wanted != set(current):
            new_tags = [current[n] for n in wanted if n in current] + rules.tag_rows(
                [n for n in fired if n not in current])
            if rules.scoring_reads_tags:  # scoring conditions must see the new tags
                changes.update(lead_update(lead=lead, actor=actor, source=source, tags=new_tags,
                                           message=_("re-tagged")))
                lead = Lead.objects.get(pk=lead.pk)
                tag_data = {}
            else:
                tag_data = {"tags": new_tags}
        else:
            tag_data = {}

        # 2. Score
        explanation, raw = [], 0.0
        behaviour_kinds = {r.event_kind for r in rules.scoring if r.kind == ScoringRule.Kind.BEHAVIOUR}
        last_event = {}
        if behaviour_kinds and not new:  # a lead inserted in this transaction has no events yet
            last_event = dict(LeadEvent.objects.filter(lead=lead, type__in=behaviour_kinds)
                              .values("type").annotate(last=Max("occurred_at")).values_list("type", "last"))
        for rule in rules.scoring:
            if rule.kind == ScoringRule.Kind.BEHAVIOUR:
                at = last_event.get(rule.event_kind)
                if at is None or not rules.pred(rule)(lead):
                    continue
                age = (now - at).total_seconds() / 3600
                points = decayed_points(rule.points, age, rule.half_life_hours)
                explanation.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version,
                                    "kind": rule.kind, "points": round(points, 2), "base_points": rule.points,
                                    "event_kind": rule.event_kind, "event_at": at.isoformat(),
                                    "age_hours": round(age, 1), "half_life_hours": rule.half_life_hours})
            else:
                if not rules.pred(rule)(lead):
                    continue
                points = rule.points
                explanation.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version,
                                    "kind": rule.kind, "points": points})
            raw += points
        score = score_from_raw(raw)
        grade = rules.bands.grade_for(score)

        # 3. Store
        data = dict(tag_data)
        if lead.score != score:
            data["score"] = score
        if lead.grade != grade:
            data["grade"] = grade
        if data and actor is None:  # values computed here: no full_clean (see lead_engine_write)
            changes.update(lead_engine_write(lead=lead, source=source, message=_("re-scored"), **data))
        elif data:
            changes.update(lead_update(lead=lead, actor=actor, source=source, message=_("re-scored"), **data))
        stored = {"score_explanation": explanation, "tag_explanation": tag_explanation,
                  "auto_tags": sorted(fired_set), "raw_score": raw, "grade_bands_version": rules.bands.version,
                  "evaluated_at": now}
        if evaluation is not None:  # read above in this transaction: no second lookup
            for key, value in stored.items():
                setattr(evaluation, key, value)
            evaluation.save(update_fields=list(stored))
        elif new:
            LeadEvaluation.objects.create(lead=lead, **stored)
        else:
            LeadEvaluation.objects.update_or_create(lead=lead, defaults=stored)
    if lead is not original:  # re-read after re-tagging: the caller's instance shows what was stored
        for f in Lead._meta.concrete_fields:
            setattr(original, f.attname, getattr(lead, f.attname))
        getattr(original, "_prefetched_objects_cache", {}).pop("tags", None)
    # The API's response serialiser reads this instead of re-reading the LeadEvaluation just written.
    original._score_explanation = explanation
    return {"score": score, "grade": grade, "tags": sorted(wanted), "score_explanation": explanation,
            "tag_explanation": tag_explanation, "changes": changes}


def leads_evaluate(*, lead_ids, source=ChangeSource.JOB) -> int:
    """Re-evaluate the given leads (e.g. after behaviour events arrived for them). Returns how many."""
    rules = RuleSet.load()
    n = 0
    for lead in Lead.objects.filter(pk__in=list(lead_ids)).prefetch_related("tags", "industries"):
        lead_evaluate(lead=lead, actor=None, source=source, rules=rules)
        n += 1
    return n


def rules_rescore_behaviour(*, source=ChangeSource.JOB) -> int:
    """Behaviour points fade with time: re-score open leads with an event any behaviour rule still counts
    (within ten half-lives; older points are below 0.1 % of the rule's points)."""
    now = clock.now()
    q = Q(pk__in=[])
    for rule in ScoringRule.objects.filter(active=True, kind=ScoringRule.Kind.BEHAVIOUR):
        since = now - timedelta(hours=10 * rule.half_life_hours)
        q |= Q(pk__in=LeadEvent.objects.filter(type=rule.event_kind, occurred_at__gte=since).values("lead"))
    ids = Lead.objects.filter(q, status__in=OPEN_LEAD_STATUSES).values_list("pk", flat=True)
    return leads_evaluate(lead_ids=ids, source=source)


# --- Preview ------------------------------------------------------------------------------------------


class _Unindexed(Func):
    """`+column` on SQLite, which keeps its planner from walking an index for that test. The preview reads a
    large share of all leads: one sequential scan of the table (0.15 s per million rows) beats a lookup per
    open lead through the status index (0.50 vs 0.87 s CPU at 1,000,000 leads, 57 % open; about even at 14 % open,
    0.24 vs 0.22 s); at worst it costs that one scan. A scope's own filter (owner) still uses its index.
    Other databases plan from real statistics and get the column as is."""

    arity = 1
    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="+%(expressions)s", **extra)


def _open_leads(user):
    qs = Lead.objects.alias(open_status=_Unindexed(F("status"))).filter(open_status__in=OPEN_LEAD_STATUSES)
    return scoping.restrict(qs, user, "view") if user is not None else qs


def rule_preview(model="lead", rule_type=RuleType.SCORING, condition=None, points=None, *, user,
                 kind=ScoringRule.Kind.STATIC, event_kind="", half_life_hours=None, rule_id=None) -> dict:
    """What a rule (new, or a changed version of rule `rule_id`) would do to the open leads `user` sees:
    {"matches": N, "grade_changes": {"A": +n, "B": -n, "C": ...}} (net change of each grade's count).
    Uses each lead's stored evaluation as the baseline."""
    if model != "lead":
        raise ValidationFailed(errors=[("model", _("Only lead rules can be previewed."))])
    condition = condition or {}
    conditions.validate_or_raise(Lead, condition)
    rule_type = RuleType(rule_type)
    leads = _open_leads(user)
    old = None
    if rule_id is not None:
        old = RULE_MODELS[rule_type].objects.filter(pk=rule_id).first()
    if rule_type != RuleType.SCORING or points is None:
        return {"matches": leads.filter(_row_filter(condition)).count(), "grade_changes": {}}
    bands = grade_bands_get()
    if kind == ScoringRule.Kind.BEHAVIOUR or (old is not None and old.kind == ScoringRule.Kind.BEHAVIOUR):
        return _preview_python(leads, condition, int(points), kind, event_kind, half_life_hours, old, bands)

    raw = Coalesce(F("evaluation__raw_score"), Cast(F("score"), FloatField()), output_field=FloatField())
    matching = _row_filter(condition)
    delta = Case(When(matching, then=Value(float(points))), default=Value(0.0), output_field=FloatField())
    if old is not None and old.active:
        delta = delta - Case(When(_row_filter(old.condition), then=Value(float(old.points))),
                             default=Value(0.0), output_field=FloatField())
    # The new score is clamp(floor(raw + delta + 0.5), 0, 100). Only the net change of each grade's count is
    # asked for, so no lead needs its grade pair: count the leads whose new score reaches each band's floor,
    # all in one single-row aggregate (a GROUP BY sorted every open lead: 0.4 s of 1.0 at 1,000,000).
    new_score_unrounded = raw + delta + Value(0.5)
    counts = leads.aggregate(
        n=Count("pk"), old_a=Count("pk", filter=Q(grade="A")), old_b=Count("pk", filter=Q(grade="B")),
        old_c=Count("pk", filter=Q(grade="C")), matches=Count("pk", filter=matching),
        new_a=Count("pk", filter=_reaches(new_score_unrounded, bands.a_min)),
        new_ab=Count("pk", filter=_reaches(new_score_unrounded, bands.b_min)))
    new = {"A": counts["new_a"], "B": counts["new_ab"] - counts["new_a"], "C": counts["n"] - counts["new_ab"]}
    old_counts = {"A": counts["old_a"], "B": counts["old_b"], "C": counts["old_c"]}
    return {"matches": counts["matches"], "grade_changes": {g: new[g] - old_counts[g] for g in ("A", "B", "C")}}


def _reaches(unrounded, floor_score: int) -> Q:
    """clamp(floor(x), 0, 100) >= t, as a test on x: floor(x) >= t exactly when x >= t for a whole t, and
    clamping to 0..100 moves no score across a t in 1..100; below 1 every score reaches it, above 100 none."""
    if floor_score <= 0:
        return Q(pk__isnull=False)
    if floor_score > 100:
        return Q(pk__isnull=True)
    return Q(GreaterThanOrEqual(unrounded, Value(float(floor_score))))


def _row_filter(condition) -> Q:
    """The condition as a test on the lead row itself when its SQL needs no join, so the preview's aggregate
    reads each lead once (a `pk IN (subquery)` per row made 1,000,000 leads take seconds); with a join (which
    could repeat rows inside the aggregate) it stays `pk IN (subquery)`."""
    q = conditions.to_q(Lead, condition)
    if not q:  # always true; an empty Q() cannot be a When() condition
        return Q(pk__isnull=False)
    if len(Lead.objects.filter(q).query.alias_map) <= 1:
        return q
    return Q(pk__in=Lead.objects.filter(q).values("pk"))


def _preview_python(leads, condition, points, kind, event_kind, half_life_hours, old, bands) -> dict:
    """Behaviour rules depend on each lead's latest event: a bounded pass over the open leads in scope."""
    now = clock.now()
    if kind == ScoringRule.Kind.BEHAVIOUR and (not event_kind or not half_life_hours):
        raise ValidationFailed(errors=[("event_kind", _("A behaviour rule needs an event kind and a half-life."))])
    matching = set(leads.filter(pk__in=Lead.objects.filter(conditions.to_q(Lead, condition)).values("pk"))
                   .values_list("pk", flat=True))
    last = {}
    if kind == ScoringRule.Kind.BEHAVIOUR:
        last = dict(LeadEvent.objects.filter(lead__in=matching, type=event_kind).values("lead")
                    .annotate(m=Max("occurred_at")).values_list("lead", "m"))
    old_counts, new_counts, matches = {"A": 0, "B": 0, "C": 0}, {"A": 0, "B": 0, "C": 0}, 0
    rows = leads.values_list("pk", "grade", "score", "evaluation__raw_score", "evaluation__score_explanation")
    for pk, grade, score, raw, explanation in rows.iterator():
        raw = float(score) if raw is None else raw
        if old is not None:
            raw -= sum(e.get("points", 0) for e in (explanation or []) if e.get("rule_id") == old.pk
                       and e.get("kind", "static") == old.kind)
        add = None
        if pk in matching:
            if kind == ScoringRule.Kind.BEHAVIOUR:
                if pk in last:
                    add = decayed_points(points, (now - last[pk]).total_seconds() / 3600, half_life_hours)
            else:
                add = points
        if add is not None:
            matches += 1
            raw += add
        if grade in old_counts:
            old_counts[grade] += 1
        new_counts[bands.grade_for(score_from_raw(raw))] += 1
    return {"matches": matches, "grade_changes": {g: new_counts[g] - old_counts[g] for g in ("A", "B", "C")}}


# --- Background re-evaluation -------------------------------------------------------------------------


def rule_run_start(*, rule_type, rule_id=None, version=None, actor=None) -> RuleRun:
    """Record a re-evaluation run and queue it once the rule change has committed."""
    run = RuleRun.objects.create(rule_type=rule_type, rule_id=rule_id, rule_version=version,
                                 actor=actor if actor is not None and actor.is_authenticated else None,
                                 created_at=clock.now())

    def enqueue():
        from baton.rules.tasks import rules_reevaluate

        try:
            rules_reevaluate(run.pk)
        except Exception as exc:  # the queue being down must not undo the saved rule
            log.exception("could not queue rule run %s", run.pk)
            RuleRun.objects.filter(pk=run.pk).update(status=RuleRun.Status.FAILED, error=str(exc)[:2000])

    transaction.on_commit(enqueue)
    return run


def rule_run_execute(*, run_id: int, chunk: int = 200) -> RuleRun:
    """Re-evaluate every open lead for run `run_id`, recording progress on the run."""
    run = RuleRun.objects.get(pk=run_id)
    if run.status in (RuleRun.Status.DONE, RuleRun.Status.RUNNING):
        return run
    ids = list(Lead.objects.filter(status__in=OPEN_LEAD_STATUSES).order_by("pk").values_list("pk", flat=True))
    RuleRun.objects.filter(pk=run.pk).update(status=RuleRun.Status.RUNNING, total=len(ids), done=0,
                                             started_at=clock.now())
    rules = RuleSet.load()
    done = 0
    try:
        for start in range(0, len(ids), chunk):
            batch = Lead.objects.filter(pk__in=ids[start:start + chunk]).prefetch_related("tags", "industries")
            for lead in batch:
                lead_evaluate(lead=lead, actor=None, source=ChangeSource.JOB, rules=rules)
                done += 1
            RuleRun.objects.filter(pk=run.pk).update(done=done)
    except Exception as exc:
        log.exception("rule run %s failed", run.pk)
        RuleRun.objects.filter(pk=run.pk).update(status=RuleRun.Status.FAILED, done=done, error=str(exc)[:2000],
                                                 finished_at=clock.now())
    else:
        RuleRun.objects.filter(pk=run.pk).update(status=RuleRun.Status.DONE, done=done, finished_at=clock.now())
    run.refresh_from_db()
    return run
