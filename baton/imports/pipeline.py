"""The bulk write path of an import: tag, score, grade and assign a chunk of clean rows in memory, then
insert leads and their related rows with multi-row inserts, and one audit entry for the chunk.

The rules and pools are the live ones (`baton.rules`, `baton.assignment`); what is computed per lead is the
same as `rules.services.lead_evaluate` + `assignment.services.lead_auto_assign` would compute for a new
lead without events, but without one query and one audit row per lead. Caps are honoured: a pool's
counts of today are read at the start of each chunk (including the chunks already written) and counted
up in memory while the chunk is assigned; the pool rows are locked for the chunk's transaction.
"""

import json

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _

from baton.core import clock
from baton.core.models import AuditEntry, ChangeSource
from baton.imports.rawsql import RawInserter
from baton.leads.models import Lead, LeadStatus


class _Rel:
    """Stands in for a many-to-many manager on a row that is not in the database yet."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def all(self):
        return self.items


class _RowView:
    """What rule and pool conditions read from a lead that is about to be inserted."""

    def __init__(self, data: dict, now):
        self.__dict__.update(_VIEW_DEFAULTS)
        self.__dict__.update(data)
        self.created_at = data.get("created_at") or now
        region = data.get("region")
        self.region_id = getattr(region, "pk", None)
        self.industries = _Rel(data.get("industries") or [])
        self.tags = _Rel([])
        self.custom_fields = data.get("custom_fields") or {}


_VIEW_DEFAULTS = {f.attname: (f.get_default() if f.has_default() else None) for f in Lead._meta.concrete_fields}
_VIEW_DEFAULTS.update({"pk": None, "id": None, "owner": None, "owner_id": None, "region": None, "account": None,
                       "contact": None, "duplicate_of": None, "status": LeadStatus.NEW, "score": 0, "grade": ""})


def _safe(pred, obj) -> bool:
    try:
        return bool(pred(obj))
    except Exception:  # a condition on something a new lead cannot have (events, an account) is not met
        return False


# --- Hooks: the bulk counterparts of lead_evaluate and lead_auto_assign ------------------------------------

class BulkEvaluator:
    """Tags, score and grade for new leads (tagging rules, static scoring rules; behaviour rules need events
    a new lead does not have yet)."""

    def __init__(self):
        try:
            from baton.rules.services import RuleSet, _ensure_tags, _predicate, score_from_raw
        except ImportError:  # rules app absent: leads keep score 0 and no tags
            self.enabled = False
            return
        from baton.rules.models import ScoringRule

        self.enabled = True
        self.rules = RuleSet.load()
        self.tagging = [(r, _predicate(r)) for r in self.rules.tagging]
        self.scoring = [(r, _predicate(r)) for r in self.rules.scoring if r.kind != ScoringRule.Kind.BEHAVIOUR]
        names = sorted({t for r in self.rules.tagging for t in r.tags})
        self.tags = {t.name: t for t in _ensure_tags(names)} if names else {}
        self.score_from_raw = score_from_raw
        self.cache: dict = {}
        self.readers = self._readers([r.condition for r in self.rules.tagging + self.rules.scoring])

    @staticmethod
    def _readers(conditions):
        """The field readers every rule depends on, or None when a rule reads time or something unknown:
        then each row is evaluated on its own. Otherwise rows with the same values share one evaluation."""
        from baton.conditions.registry import fields_for

        names = set()

        def walk(node):
            if isinstance(node, dict):
                if "field" in node:
                    names.add(node["field"])
                if "event" in node:
                    names.add("\x00event")
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        for c in conditions:
            walk(c)
        names.discard("tags")  # tags come from the tagging rules themselves
        try:
            defs = fields_for(Lead)
        except Exception:
            return None
        readers = []
        for name in sorted(names):
            fd = defs.get(name)
            if fd is None or fd.type == "datetime" or fd.kind == "age":
                return None
            readers.append(fd.read)
        return readers

    def evaluate(self, view: _RowView) -> dict:
        if not self.enabled:
            return {}
        if self.readers is not None:
            try:
                key = tuple(read(view) for read in self.readers)
                hit = self.cache.get(key)
            except Exception:
                key, hit = None, None
            if hit is not None:
                view.tags = _Rel([self.tags[n] for n in hit["tags"]])
                view.score, view.grade = hit["score"], hit["grade"]
                return hit
            result = self._evaluate(view)
            if key is not None and len(self.cache) < 100_000:
                self.cache[key] = result
            return result
        return self._evaluate(view)

    def _evaluate(self, view: _RowView) -> dict:
        fired, tag_expl = [], []
        for rule, pred in self.tagging:
            if _safe(pred, view):
                tag_expl.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version,
                                 "tags": list(rule.tags)})
                fired += [t for t in rule.tags if t not in fired]
        view.tags = _Rel([self.tags[n] for n in fired])
        raw, expl = 0.0, []
        for rule, pred in self.scoring:
            if _safe(pred, view):
                raw += rule.points
                expl.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version, "kind": rule.kind,
                             "points": rule.points})
        score = self.score_from_raw(raw)
        grade = self.rules.bands.grade_for(score)
        view.score, view.grade = score, grade
        return {"score": score, "grade": grade, "tags": fired, "raw": raw, "score_explanation": expl,
                "tag_explanation": tag_expl}


class BulkAssigner:
    """Round robin / weighted / least loaded over each pool's available members, caps counted in memory."""

    def __init__(self):
        try:
            from baton.assignment.models import Assignment, Pool
            from baton.assignment.services import _eligible, pool_candidates  # noqa: F401
            from baton.rules import conditions
        except ImportError:  # assignment app absent: leads stay unowned
            self.enabled = False
            return
        self.enabled = True
        self.Assignment, self.Pool, self.conditions = Assignment, Pool, conditions

    def start_chunk(self):
        from baton.assignment.services import pool_candidates

        if not self.enabled:
            return
        self.pools = list(self.Pool.objects.select_for_update().filter(active=True).order_by("priority", "id"))
        self.preds = {p.pk: self.conditions.to_predicate(Lead, p.condition) for p in self.pools}
        self.cands = {p.pk: pool_candidates(p) for p in self.pools}

    def _pick(self, pool):
        from baton.assignment.models import Strategy

        cands = self.cands[pool.pk]
        if not cands:
            return None, None
        if pool.strategy == Strategy.ROUND_ROBIN:
            ids = [c.user.pk for c in cands]
            start = ids.index(pool.rotation_last_user_id) + 1 if pool.rotation_last_user_id in ids else 0
            for step in range(len(cands)):
                i = (start + step) % len(cands)
                if not cands[i].unavailable:
                    return i, cands[i]
            return None, None
        available = [(i, c) for i, c in enumerate(cands) if not c.unavailable]
        if not available:
            return None, None
        if pool.strategy == Strategy.WEIGHTED:
            state = dict(pool.weighted_state or {})
            total = sum(c.weight for _i, c in available)
            best = None
            for i, c in available:
                key = str(c.user.pk)
                state[key] = state.get(key, 0) + c.weight
                if best is None or state[key] > state[str(best[1].user.pk)]:
                    best = (i, c)
            state[str(best[1].user.pk)] -= total
            pool.weighted_state = state
            return best
        return min(available, key=lambda ic: (ic[1].today, ic[0]))

    def assign(self, view: _RowView, job_id: int):
        """(owner user or None, assignment row dict without lead, backlog pool id or None)."""
        if not self.enabled or view.owner_id or view.status not in (LeadStatus.NEW,):
            return None, None, None
        A = self.Assignment
        now = clock.now()
        pools = []
        for p in self.pools:
            if p.region_id and p.region_id != view.region_id:
                continue
            if _safe(self.preds[p.pk], view):
                pools.append(p)
        if not pools:
            return None, {"kind": A.Kind.UNMATCHED, "at": now,
                          "explanation": _("No active pool accepts this lead.")}, None
        skipped = []
        for pool in pools:
            i, c = self._pick(pool)
            if c is None:
                skipped += [{"user": x.user.pk, "name": str(x.user), "reason": x.unavailable, "today": x.today,
                             "cap": x.cap, "pool": pool.pk} for x in self.cands[pool.pk]]
                continue
            pool.rotation_last_user_id = c.user.pk
            c.today += 1
            if c.today >= c.cap:
                c.unavailable = "capped"
            explanation = _("Pool “%(pool)s” (%(strategy)s): position %(pos)s → %(user)s, %(n)s of %(cap)s "
                            "today. Import job #%(job)s.") % {
                "pool": pool.name, "strategy": pool.get_strategy_display(), "pos": i + 1, "user": c.user,
                "n": c.today, "cap": c.cap, "job": job_id}
            return c.user, {"pool_id": pool.pk, "user_id": c.user.pk, "kind": A.Kind.AUTO, "at": now,
                            "strategy": pool.strategy, "rotation_position": i, "skipped": [],
                            "explanation": explanation}, None
        first = pools[0]
        return None, {"pool_id": first.pk, "kind": A.Kind.BACKLOG, "at": now, "strategy": first.strategy,
                      "skipped": skipped[:50],
                      "explanation": _("The lead waits in the backlog of “%(pool)s”.") % {"pool": first.name}}, first.pk

    def end_chunk(self):
        if not self.enabled:
            return
        for p in self.pools:
            p.save(update_fields=["rotation_last_user_id", "weighted_state"])


class LeadPipeline:
    def __init__(self, *, job, actor=None):
        from baton.imports.models import ImportJob

        self.job = job
        self.actor = actor
        self.evaluator = BulkEvaluator()
        self.assigner = BulkAssigner()
        self.leads = RawInserter(Lead)
        self.tags = RawInserter(Lead.tags.through, with_ids=False)
        self.industries = RawInserter(Lead.industries.through, with_ids=False)
        self.evaluations = self.assignments = self.backlog = None
        if self.evaluator.enabled:
            from baton.rules.models import LeadEvaluation

            self.evaluations = RawInserter(LeadEvaluation, with_ids=False)
        if self.assigner.enabled:
            from baton.assignment.models import Assignment, PoolBacklog

            self.assignments = RawInserter(Assignment, with_ids=False)
            self.backlog = RawInserter(PoolBacklog, with_ids=False)
        self.ranges: list[tuple[int, int]] = []
        self.job_ct = ContentType.objects.get_for_model(ImportJob)

    def created(self, pk: int) -> bool:
        return any(lo <= pk <= hi for lo, hi in self.ranges)

    def write(self, rows: list[tuple[int, dict]], *, first_row: int, last_row: int) -> list[int]:
        """Insert one chunk (the caller holds the transaction)."""
        now = clock.now()
        self.assigner.start_chunk()
        lead_rows, extras = [], []
        bands_version = self.evaluator.rules.bands.version if self.evaluator.enabled else 0
        for _n, data in rows:
            view = _RowView(data, now)
            ev = self.evaluator.evaluate(view)
            owner, assignment, backlog_pool = self.assigner.assign(view, self.job.pk)
            row = {k: v for k, v in data.items() if k not in ("industries",)}
            row.setdefault("created_at", now)
            row["updated_at"] = now
            row["status_changed_at"] = now
            if ev:
                row["score"], row["grade"] = ev["score"], ev["grade"]
            if owner is not None:
                row["owner_id"] = owner.pk
                row["status"] = LeadStatus.ASSIGNED
                row["assigned_at"] = now
            if "region" in row:
                row["region_id"] = row.pop("region").pk
            lead_rows.append(row)
            extras.append((data.get("industries") or [], ev, assignment, backlog_pool))
        ids = self.leads.insert(lead_rows)
        tag_rows, ind_rows, ev_rows, as_rows, bl_rows = [], [], [], [], []
        for pk, (industries, ev, assignment, backlog_pool) in zip(ids, extras, strict=True):
            for ind in industries:
                ind_rows.append({"lead_id": pk, "industry_id": ind.pk})
            if ev:
                for name in ev["tags"]:
                    tag_rows.append({"lead_id": pk, "tag_id": self.evaluator.tags[name].pk})
                ev_rows.append({"lead_id": pk, "score_explanation": json.dumps(ev["score_explanation"],
                                                                              ensure_ascii=False),
                                "tag_explanation": json.dumps(ev["tag_explanation"], ensure_ascii=False),
                                "auto_tags": json.dumps(sorted(ev["tags"]), ensure_ascii=False),
                                "raw_score": ev["raw"], "grade_bands_version": bands_version,
                                "evaluated_at": now})
            if assignment is not None:
                as_rows.append({**assignment, "lead_id": pk})
            if backlog_pool is not None:
                bl_rows.append({"pool_id": backlog_pool, "lead_id": pk, "since": now})
        self.tags.insert(tag_rows)
        self.industries.insert(ind_rows)
        if self.evaluations is not None:
            self.evaluations.insert(ev_rows)
        if self.assignments is not None:
            self.assignments.insert(as_rows)
            self.backlog.insert(bl_rows)
        self.assigner.end_chunk()
        if ids:
            self.ranges.append((ids[0], ids[-1]))
        AuditEntry.objects.create(
            at=now, actor=self.actor if self.actor and self.actor.is_authenticated else None,
            source=ChangeSource.IMPORT, action=AuditEntry.Action.EVENT, content_type=self.job_ct,
            object_id=self.job.pk, object_repr=str(self.job)[:200],
            changes={"rows": [first_row, last_row], "leads": [ids[0], ids[-1]] if ids else [],
                     "written": len(ids)},
            message=(_("Import job #%(job)s: rows %(a)s–%(b)s, %(n)s leads written (#%(lo)s–#%(hi)s)") % {
                "job": self.job.pk, "a": first_row, "b": last_row, "n": len(ids),
                "lo": ids[0] if ids else "-", "hi": ids[-1] if ids else "-"})[:500])
        return ids
