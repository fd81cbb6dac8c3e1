"""The bulk write path of an import: tag, score, grade and assign a chunk of clean rows in memory, then
insert leads and their related rows with multi-row inserts, and one audit entry for the chunk.

The rules and pools are the live ones (`baton.rules`, `baton.assignment`); what is computed per lead is the
same as `rules.services.lead_evaluate` + `assignment.services.lead_auto_assign` would compute for a new
lead without events, but without one query and one audit row per lead. Caps are honoured: a pool's
counts of today are read at the first chunk, brought up to date at the start of each later chunk (the
assignments written since, including the chunks already written) and counted up in memory while the chunk
is assigned; the pool rows are locked for the chunk's transaction.
"""

import bisect
import json

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils.translation import gettext as _

from baton.core import clock
from baton.core.models import AuditEntry, ChangeSource
from baton.core.rawsql import RawInserter
from baton.leads.models import Lead, LeadStatus
from baton.leads.unsaved import Rel as _Rel
from baton.leads.unsaved import RowView as _RowView

_NO_SKIPPED = ()  # shared by every automatic assignment row (its JSON is then encoded once per chunk)


def _safe(pred, obj) -> bool:
    try:
        return bool(pred(obj))
    except Exception:  # a condition on something a new lead cannot have (events, an account) is not met
        return False


# --- Conditions compiled for many rows ---------------------------------------------------------------------

class _Unmet(Exception):
    """A leaf that cannot be evaluated on a row about to be inserted (events): the condition is not met,
    exactly as when the plain predicate raises on the row."""


class CompiledCondition:
    """A condition evaluated on many rows with the same answers as `conditions.to_predicate`, but each
    time-independent leaf is tested once per distinct value it reads (a leaf "phone is set" only once per
    emptiness), and each field is read once per row for all conditions (`vals`). The per-leaf memo is
    cleared per chunk (`reset`), so memory stays bounded."""

    def __init__(self, condition):
        from baton.conditions import compiler

        self._c = compiler
        self.memos: list[dict] = []
        self.fields: dict = {}  # field name -> (FieldDef, whether only its emptiness is tested)
        self.timeless = True  # no leaf depends on the time of evaluation
        self.fn = self._node(compiler._tree(Lead, condition))

    def reset(self):
        for m in self.memos:
            m.clear()

    def __call__(self, view, vals) -> bool:
        try:
            return bool(self.fn(view, vals))
        except Exception:  # as `_safe`: an unreadable condition is not met
            return False

    def _node(self, tree):
        c = self._c
        if isinstance(tree, c._Leaf):
            return self._leaf(tree)
        kind, arg = tree
        if kind == "not":
            inner = self._node(arg)
            return lambda view, vals: not inner(view, vals)
        kids = [self._node(k) for k in arg]
        if kind == "all":
            return lambda view, vals: all(k(view, vals) for k in kids)
        return lambda view, vals: any(k(view, vals) for k in kids)

    def _leaf(self, leaf):
        c = self._c
        if leaf.event is not None:
            def event_leaf(view, vals):  # deterministic too: never met on a new row
                raise _Unmet()
            return event_leaf
        fd = leaf.fd
        null_only = leaf.op == "is_null" and self.fields.get(fd.name, (fd, True))[1]
        self.fields[fd.name] = (fd, null_only)
        if fd.kind == "age" or leaf.op in ("within_last", "older_than"):  # depends on the time: per row
            self.timeless = False
            from baton.core import clock as clock_mod

            return lambda view, vals: c._test(leaf, c._leaf_value(leaf, view, clock_mod.now()), clock_mod.now())
        name, read, test = fd.name, fd.read, c._test
        memo: dict = {}
        self.memos.append(memo)
        if leaf.op == "is_null":  # only emptiness matters
            empty_is = (lambda a: not a) if fd.type == "multi" else (lambda a: a is None)

            def null_leaf(view, vals):
                try:
                    a = vals[name]
                except KeyError:
                    a = vals[name] = read(view)
                return empty_is(a) == leaf.value
            return null_leaf

        def leaf_fn(view, vals):
            try:
                a = vals[name]
            except KeyError:
                a = vals[name] = read(view)
            try:
                key = (a.__class__, a)
                r = memo.get(key)
            except TypeError:  # unhashable (a JSON list): test directly
                return test(leaf, a, None)
            if r is None:
                r = memo[key] = test(leaf, a, None)
            return r
        return leaf_fn


class RowKey:
    """The inputs every condition of a chunk reads, as one hashable key: rows with equal keys get the same
    tags, score, grade and eligible pools, so those are computed once per distinct key. A field tested only
    for emptiness contributes its emptiness (so unique phone numbers do not defeat the sharing); the derived
    fields (tags, score, grade) are functions of the others. None when a condition depends on the time."""

    DERIVED = ("tags", "score", "grade")

    def __init__(self, conditions):
        fields: dict = {}
        for cond in conditions:
            if not cond.timeless:
                self.readers = None
                return
            for name, (fd, null_only) in cond.fields.items():
                if name in self.DERIVED:
                    continue
                prev = fields.get(name)
                fields[name] = (fd, null_only and (prev is None or prev[1]))
        readers = []
        for _name, (fd, null_only) in sorted(fields.items()):
            read = fd.read
            if null_only:
                readers.append((lambda r: lambda v: not r(v))(read) if fd.type == "multi" else
                               (lambda r: lambda v: r(v) is None)(read))
            else:
                readers.append(read)
        self.readers = readers

    def __call__(self, view):
        key = [view.region_id, view.status, view.owner_id]
        for read in self.readers:
            key.append(read(view))
        key = tuple(key)
        hash(key)  # TypeError for an unhashable value (a JSON list): the caller evaluates that row itself
        return key


# --- Hooks: the bulk counterparts of lead_evaluate and lead_auto_assign ------------------------------------

class _Outcome:
    """What the rules decided for one combination of fired rules; shared by every row with that combination
    (its explanation JSON is built once)."""

    __slots__ = ("score", "grade", "tags", "tag_objs", "tag_ids", "raw", "score_explanation", "tag_explanation",
                 "score_json", "tag_json", "auto_tags_json")

    def __getitem__(self, key):  # read like the dict `lead_evaluate` returns
        return getattr(self, key)


class BulkEvaluator:
    """Tags, score and grade for new leads (tagging rules, static scoring rules; behaviour rules need events
    a new lead does not have yet)."""

    def __init__(self):
        try:
            from baton.rules.services import RuleSet, _ensure_tags, score_from_raw
        except ImportError:  # rules app absent: leads keep score 0 and no tags
            self.enabled = False
            return
        from baton.rules.models import ScoringRule

        self.enabled = True
        self.rules = RuleSet.load()
        self.tagging = [(r, CompiledCondition(r.condition)) for r in self.rules.tagging]
        self.scoring = [(r, CompiledCondition(r.condition)) for r in self.rules.scoring
                        if r.kind != ScoringRule.Kind.BEHAVIOUR]
        names = sorted({t for r in self.rules.tagging for t in r.tags})
        self.tags = {t.name: t for t in _ensure_tags(names)} if names else {}
        self.score_from_raw = score_from_raw
        self.tag_outcomes: dict = {}  # tuple of fired tagging rules -> (fired tag names, explanation, tag objects)
        self.outcomes: dict = {}  # (tag signature, scoring signature) -> _Outcome

    def reset(self):
        for _r, cond in self.tagging + self.scoring:
            cond.reset()

    def evaluate(self, view: _RowView, vals: dict | None = None):
        """The outcome for `view` (tags, score and grade are also set on it for the pool conditions)."""
        if not self.enabled:
            return {}
        vals = {} if vals is None else vals
        tsig = tuple(cond(view, vals) for _r, cond in self.tagging)
        tagged = self.tag_outcomes.get(tsig)
        if tagged is None:
            fired, expl = [], []
            for (rule, _c), hit in zip(self.tagging, tsig, strict=True):
                if hit:
                    expl.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version,
                                 "tags": list(rule.tags)})
                    fired += [t for t in rule.tags if t not in fired]
            tagged = self.tag_outcomes[tsig] = (fired, expl, _Rel([self.tags[n] for n in fired]))
        view.tags = tagged[2]
        vals.pop("tags", None)  # the scoring rules see the new tags
        ssig = tuple(cond(view, vals) for _r, cond in self.scoring)
        out = self.outcomes.get((tsig, ssig))
        if out is None:
            raw, expl = 0.0, []
            for (rule, _c), hit in zip(self.scoring, ssig, strict=True):
                if hit:
                    raw += rule.points
                    expl.append({"rule": rule.name, "rule_id": rule.pk, "version": rule.version,
                                 "kind": rule.kind, "points": rule.points})
            out = _Outcome()
            out.raw, out.score_explanation = raw, expl
            out.score = self.score_from_raw(raw)
            out.grade = self.rules.bands.grade_for(out.score)
            out.tags, out.tag_explanation, out.tag_objs = tagged
            out.tag_ids = [t.pk for t in out.tag_objs.items]
            out.score_json = json.dumps(expl, ensure_ascii=False)
            out.tag_json = json.dumps(out.tag_explanation, ensure_ascii=False)
            out.auto_tags_json = json.dumps(sorted(out.tags), ensure_ascii=False)
            self.outcomes[(tsig, ssig)] = out
        view.score, view.grade = out.score, out.grade
        vals.pop("score", None)
        vals.pop("grade", None)
        return out


class BulkAssigner:
    """Round robin / weighted / least loaded over each pool's available members, caps counted in memory."""

    def __init__(self):
        try:
            from baton.assignment.models import Assignment, Pool
            from baton.assignment.services import pool_candidates  # noqa: F401
            from baton.rules import conditions
        except ImportError:  # assignment app absent: leads stay unowned
            self.enabled = False
            return
        self.enabled = True
        self.Assignment, self.Pool, self.conditions = Assignment, Pool, conditions
        self.counted: dict = {}  # pool id -> (start of the day, {user id: capped assignments with id <= mark})
        self.mark = None

    def _update_counts(self):
        """Today's capped counts per pool and member, kept up to date from the assignment rows written since
        the previous chunk (ids above the previous mark: this job's own and anyone else's) instead of counting
        the whole day again per chunk, which grew with every chunk written (quadratic over a long import).
        Exact because every capped assignment is written by a transaction holding its pool's row lock (here:
        the chunk's, taken just before): a row of a locked pool that is not visible now cannot exist, and one
        committed after this chunk gets a later id."""

        from baton.assignment.services import CAPPED_KINDS, day_bounds

        table = connection.ops.quote_name(self.Assignment._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {table}")
            top = cursor.fetchone()[0] or 0
            if self.mark is not None and top > self.mark:
                start, end = day_bounds()
                adapt = connection.ops.adapt_datetimefield_value
                # Only the id range in WHERE: the planner has no other index to prefer over the primary key's.
                cursor.execute(f"SELECT pool_id, user_id, CASE WHEN at >= %s AND at < %s THEN 1 ELSE 0 END "
                               f"FROM {table} WHERE id > %s AND id <= %s AND kind IN "
                               f"({', '.join(['%s'] * len(CAPPED_KINDS))})",
                               [adapt(start), adapt(end), self.mark, top, *CAPPED_KINDS])
                for pool_id, user_id, today in cursor.fetchall():
                    known = self.counted.get(pool_id)
                    if today and known is not None and known[0] == start and user_id in known[1]:
                        known[1][user_id] += 1
        self.mark = top

    def _count_today(self, pool, ids, start, end):
        known = self.counted.get(pool.pk)
        if known is None or known[0] != start or not set(ids) <= known[1].keys():
            from baton.assignment.services import counted_today

            counts = counted_today(pool, ids, start, end)
            known = self.counted[pool.pk] = (start, {u: counts.get(u, 0) for u in ids})
        return dict(known[1])

    def start_chunk(self):
        from baton.assignment.services import pool_candidates

        if not self.enabled:
            return
        self.pools = list(self.Pool.objects.select_for_update().filter(active=True).order_by("priority", "id"))
        self._update_counts()
        self.preds = {p.pk: CompiledCondition(p.condition) for p in self.pools}
        self.cands = {p.pk: pool_candidates(p, count_today=self._count_today) for p in self.pools}
        self.cand_ids = {pk: [c.user.pk for c in cands] for pk, cands in self.cands.items()}
        # Per chunk: texts formatted once; a pool whose members are all unavailable stays so for the rest of
        # the chunk (only its own picks change its members' counts), so its "skipped" list is built once.
        self.display = {p.pk: p.get_strategy_display() for p in self.pools}
        self.names: dict = {}
        self.full: dict = {}
        self.backlog_texts: dict = {}
        self.texts: dict = {}
        self.auto_text = _("Pool “%(pool)s” (%(strategy)s): position %(pos)s → %(user)s, %(n)s of %(cap)s "
                           "today. Import job #%(job)s.")

    def _pick(self, pool):
        from baton.assignment.models import Strategy

        cands = self.cands[pool.pk]
        if not cands:
            return None, None
        if pool.strategy == Strategy.ROUND_ROBIN:
            ids = self.cand_ids[pool.pk]
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

    def _unmatched_text(self):
        text = self.texts.get("unmatched")
        if text is None:
            text = self.texts["unmatched"] = _("No active pool accepts this lead.")
        return text

    def eligible(self, view: _RowView, vals: dict) -> list:
        """The pools whose region and condition accept `view` (tags, score and grade already set on it)."""
        if not self.enabled:
            return []
        pools = []
        for p in self.pools:
            if p.region_id and p.region_id != view.region_id:
                continue
            if self.preds[p.pk](view, vals):
                pools.append(p)
        return pools

    def assign(self, view: _RowView, job_id: int, vals: dict | None = None, pools: list | None = None, now=None):
        """(owner user or None, assignment row dict without lead, backlog pool id or None). `now`: the
        chunk's time (the lead's assigned_at), by default the clock's."""
        if not self.enabled or view.owner_id or view.status not in (LeadStatus.NEW,):
            return None, None, None
        A = self.Assignment
        if now is None:
            now = clock.now()
        if pools is None:
            pools = self.eligible(view, {} if vals is None else vals)
        if not pools:
            return None, {"kind": A.Kind.UNMATCHED, "at": now, "explanation": self._unmatched_text()}, None
        tried = []
        for pool in pools:
            if pool.action == "nurture":  # as lead_auto_assign: nurtured unless an assigning pool came first
                if tried:
                    break
                return None, {"pool_id": pool.pk, "kind": A.Kind.NURTURE, "at": now, "explanation": _(
                    "Pool “%(pool)s” nurtures its leads: status set to nurturing, no owner.") % {
                    "pool": pool.name}}, None
            tried.append(pool)
            if pool.pk in self.full:
                continue
            i, c = self._pick(pool)
            if c is None:
                self.full[pool.pk] = [{"user": x.user.pk, "name": str(x.user), "reason": x.unavailable,
                                       "today": x.today, "cap": x.cap, "pool": pool.pk} for x in self.cands[pool.pk]]
                continue
            pool.rotation_last_user_id = c.user.pk
            c.today += 1
            if c.today >= c.cap:
                c.unavailable = "capped"
            name = self.names.get(c.user.pk)
            if name is None:
                name = self.names[c.user.pk] = str(c.user)
            explanation = self.auto_text % {
                "pool": pool.name, "strategy": self.display[pool.pk], "pos": i + 1, "user": name,
                "n": c.today, "cap": c.cap, "job": job_id}
            return c.user, {"pool_id": pool.pk, "user_id": c.user.pk, "kind": A.Kind.AUTO, "at": now,
                            "strategy": pool.strategy, "rotation_position": i, "skipped": _NO_SKIPPED,
                            "explanation": explanation}, None
        first = tried[0]
        ids = tuple(p.pk for p in tried)
        texts = self.backlog_texts.get(ids)
        if texts is None:  # shared by the rows waiting in the same pools (the JSON is then encoded once)
            skipped = [s for pk in ids for s in self.full[pk]][:50]
            texts = self.backlog_texts[ids] = (skipped, _("The lead waits in the backlog of “%(pool)s”.") % {
                "pool": first.name})
        return None, {"pool_id": first.pk, "kind": A.Kind.BACKLOG, "at": now, "strategy": first.strategy,
                      "skipped": texts[0], "explanation": texts[1]}, first.pk

    def end_chunk(self):
        if not self.enabled:
            return
        from baton.assignment.services import ROTATION_FIELDS

        today = clock.today()
        for p in self.pools:
            # The chunk's counts (from the rows, its own and anyone else's) become the pool's for the day.
            if p.counts_day != today:
                p.counts_day, p.day_counts = today, {}
            p.day_counts = {**p.day_counts, **{str(c.user.pk): c.today for c in self.cands.get(p.pk, [])}}
            p.save(update_fields=ROTATION_FIELDS)


class LeadPipeline:
    def __init__(self, *, job, actor=None):
        from baton.imports.models import ImportJob

        self.job = job
        self.actor = actor
        self.evaluator = BulkEvaluator()
        self.assigner = BulkAssigner()
        self.leads = RawInserter(Lead)
        self.tags = RawInserter(Lead.tags.through, with_ids=False)
        assert self.tags.columns == ["lead_id", "tag_id"]  # the write passes (lead, tag) tuples
        self.industries = RawInserter(Lead.industries.through, with_ids=False)
        self.evaluations = self.assignments = self.backlog = None
        if self.evaluator.enabled:
            from baton.rules.models import LeadEvaluation

            self.evaluations = RawInserter(LeadEvaluation, with_ids=False, columnar=True)
        if self.assigner.enabled:
            from baton.assignment.models import Assignment, PoolBacklog

            self.assignments = RawInserter(Assignment, with_ids=False, columnar=True)
            self.backlog = RawInserter(PoolBacklog, with_ids=False)
        self.ranges: list[tuple[int, int]] = []  # ids of each chunk written, in increasing order
        self.range_starts: list[int] = []
        self.job_ct = ContentType.objects.get_for_model(ImportJob)
        # PostgreSQL compresses each evaluation's explanation documents (over 2 kB a row) as it stores them;
        # lz4 does that several times faster than the default pglz (readers decompress either transparently).
        self.lz4 = False
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
                row = cursor.fetchone()
                self.lz4 = bool(row and row[0])

    def created(self, pk: int) -> bool:
        i = bisect.bisect_right(self.range_starts, pk) - 1  # ids grow chunk after chunk: binary search
        return i >= 0 and pk <= self.ranges[i][1]

    def write(self, rows: list[tuple[int, dict]], *, first_row: int, last_row: int) -> list[int]:
        """Insert one chunk (the caller holds the transaction)."""
        now = clock.now()
        if self.lz4:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL default_toast_compression = lz4")
        self.assigner.start_chunk()
        lead_rows, extras = [], []
        bands_version = self.evaluator.rules.bands.version if self.evaluator.enabled else 0
        self.evaluator.reset()  # leaf memos live for one chunk: memory stays bounded
        evaluate, eligible, assign = self.evaluator.evaluate, self.assigner.eligible, self.assigner.assign
        job_id = self.job.pk
        conds = [c for _r, c in self.evaluator.tagging + self.evaluator.scoring] if self.evaluator.enabled else []
        conds += list(getattr(self.assigner, "preds", {}).values())
        row_key = RowKey(conds)
        shared: dict = {}  # row key -> (outcome, eligible pools), for this chunk
        for _n, data in rows:
            view = _RowView(data, now)
            key = None
            if row_key.readers is not None:
                try:
                    key = row_key(view)
                except TypeError:
                    key = None
            hit = shared.get(key) if key is not None else None
            if hit is None:
                vals: dict = {}  # field values read once per row for every rule and pool condition
                hit = (evaluate(view, vals), eligible(view, vals))
                if key is not None:
                    shared[key] = hit
            ev, pools = hit
            owner, assignment, backlog_pool = assign(view, job_id, pools=pools, now=now)
            row = data  # the caller's dict becomes the lead row (it is not read after the write)
            industries = row.pop("industries", None) or ()
            row.setdefault("created_at", now)
            row["updated_at"] = now
            row["status_changed_at"] = now
            if ev:
                row["score"], row["grade"] = ev["score"], ev["grade"]
            if owner is not None:
                row["owner_id"] = owner.pk
                row["status"] = LeadStatus.ASSIGNED
                row["assigned_at"] = now
            elif assignment is not None and assignment["kind"] == "nurture":
                row["status"] = LeadStatus.NURTURING
            if "region" in row:
                row["region_id"] = row.pop("region").pk
            lead_rows.append(row)
            extras.append((industries, ev, assignment, backlog_pool))
        tag_rows, ind_rows, ev_rows, as_rows, bl_rows = [], [], [], [], []

        def related_rows(ids):
            """The other tables' rows, built while the server works through the leads' COPY."""
            for pk, (industries, ev, assignment, backlog_pool) in zip(ids, extras, strict=True):
                for ind in industries:
                    ind_rows.append({"lead_id": pk, "industry_id": ind.pk})
                if ev:
                    for tag_id in ev.tag_ids:
                        tag_rows.append((pk, tag_id))
                    ev_rows.append({"lead_id": pk, "score_explanation": ev.score_json,
                                    "tag_explanation": ev.tag_json, "auto_tags": ev.auto_tags_json,
                                    "raw_score": ev.raw, "grade_bands_version": bands_version, "evaluated_at": now})
                if assignment is not None:
                    as_rows.append({**assignment, "lead_id": pk})
                if backlog_pool is not None:
                    bl_rows.append({"pool_id": backlog_pool, "lead_id": pk, "since": now})
            if self.evaluations is not None:
                ev_rows[:] = [self.evaluations.row(r) for r in ev_rows]
            if self.assignments is not None:
                as_rows[:] = [self.assignments.row(r) for r in as_rows]
                bl_rows[:] = [self.backlog.row(r) for r in bl_rows]

        ids = self.leads.insert(lead_rows, meanwhile=related_rows)
        self.tags.insert_tuples(tag_rows)
        self.industries.insert(ind_rows)
        if self.evaluations is not None and ev_rows:
            self.evaluations.insert_tuples(ev_rows)
        if self.assignments is not None:
            if as_rows:
                self.assignments.insert_tuples(as_rows)
            if bl_rows:
                self.backlog.insert_tuples(bl_rows)
        self.assigner.end_chunk()
        if ids:
            self.ranges.append((ids[0], ids[-1]))
            self.range_starts.append(ids[0])
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
