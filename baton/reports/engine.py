"""The pivot, computed two ways that must agree: over the DuckDB analytics store, or over the database itself.

`pivot(...)` validates the request, restricts rows to what the viewer may see (the same `baton.core.scoping`
rules: in DuckDB as a filter on owner ids / the region column), applies the filter condition (translated to
DuckDB SQL where every field it names is in the fact table, otherwise as the id set the condition selects
in the database), groups by the dimensions and computes each metric from its parts (see `metrics`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import CharField, Count, F, Value
from django.db.models.functions import NullIf
from django.utils.translation import gettext as _

from baton.conditions import compiler
from baton.core import clock, scoping
from baton.core.errors import ValidationFailed
from baton.reports import metrics as M
from baton.reports import store

JOIN_ORDER = ["u", "ur", "l", "lr", "li", "s", "fc", "conv", "inv", "hd"]
MAX_DIMENSIONS = 4

# Condition fields the DuckDB path can test in the fact tables: name -> (SQL expression, joins).
FILTER_SQL = {
    "leads": {
        "source": ("f.source", ()), "status": ("f.status", ()), "grade": ("f.grade", ()),
        "owner": ("f.owner_id", ()), "owner.team": ("u.team_id", ("u",)), "region": ("lr.code", ("lr",)),
        "score": ("f.score", ()), "created_at": ("f.created_at", ()),
        "first_contact_at": ("f.first_contact_at", ()), "company": ("f.company", ()),
        "external_id": ("f.external_id", ()),
    },
    "opportunities": {
        "name": ("f.name", ()), "amount": ("f.amount", ()), "status": ("f.status", ()),
        "stage": ("s.name", ("s",)), "pipeline": ("s.pipeline_name", ("s",)), "owner": ("f.owner_id", ()),
        "owner.team": ("u.team_id", ("u",)), "owner.region": ("u.region_code", ("u",)),
        "created_at": ("f.created_at", ()), "closed_at": ("f.closed_at", ()),
    },
    "activities": {
        "kind": ("f.kind", ()), "outcome": ("f.outcome", ()), "occurred_at": ("f.occurred_at", ()),
        "author": ("f.author_id", ()), "author.team": ("u.team_id", ("u",)),
        "author.region": ("u.region_code", ("u",)),
    },
}


# --- Validation --------------------------------------------------------------------------------------------
def validate(source, dimensions, metric_names, filters):
    if source not in M.SOURCES:
        raise ValidationFailed(errors=[("source", _("Unknown source “%(name)s”; use one of: %(names)s.")
                                        % {"name": source, "names": ", ".join(M.SOURCES)})])
    dims, mets = M.dimensions_for(source), M.metrics_for(source)
    errors = []
    for i, name in enumerate(dimensions):
        if name not in dims:
            errors.append((f"dimensions[{i}]", _("Unknown dimension “%(name)s” for %(source)s; use one of: "
                                                 "%(names)s.") % {"name": name, "source": source,
                                                                  "names": ", ".join(dims)}))
        elif dimensions.index(name) != i:
            errors.append((f"dimensions[{i}]", _("The dimension “%(name)s” is listed twice.") % {"name": name}))
    if len(dimensions) > MAX_DIMENSIONS:
        errors.append(("dimensions", _("At most %(n)d dimensions.") % {"n": MAX_DIMENSIONS}))
    if not metric_names:
        errors.append(("metrics", _("Choose at least one metric.")))
    for i, name in enumerate(metric_names):
        if name not in mets:
            other = M.find_metric(name)
            if other:
                msg = _("The metric “%(name)s” belongs to the source %(other)s, not %(source)s.") % {
                    "name": name, "other": other.source, "source": source}
            else:
                msg = _("Unknown metric “%(name)s” for %(source)s; use one of: %(names)s.") % {
                    "name": name, "source": source, "names": ", ".join(mets)}
            errors.append((f"metrics[{i}]", msg))
        elif metric_names.index(name) != i:
            errors.append((f"metrics[{i}]", _("The metric “%(name)s” is listed twice.") % {"name": name}))
    if filters not in (None, {}):
        for path, msg in compiler.validate(M.SOURCE_DEFS[source].model, filters):
            errors.append((f"filters.{path}" if path else "filters", msg))
    if errors:
        raise ValidationFailed(_("The pivot request is not valid."), errors=errors)


# --- Scope -------------------------------------------------------------------------------------------------
def _scope_sql(user, sdef: M.SourceDef) -> str | None:
    """A DuckDB predicate equal to `scoping.scope_q` for this viewer; None means every row."""
    from baton.org.models import User

    scope = scoping.scope_for(user, sdef.model, "view")
    if scope == scoping.ALL:
        return None
    if scope == scoping.NONE:
        return "FALSE"
    col = f"f.{sdef.owner_col}"

    def owners(ids):
        ids = sorted(int(i) for i in ids)
        return f"{col} IN ({', '.join(map(str, ids))})" if ids else "FALSE"

    if scope == scoping.OWN or (scope == scoping.REGION and user.region_id is None):
        return owners([user.pk])
    if scope == scoping.TEAM:
        return owners(user.team_member_ids())
    sql = owners(User.objects.filter(region_id=user.region_id).values_list("id", flat=True))
    if sdef.region_col:
        sql = f"({sql} OR f.{sdef.region_col} = {int(user.region_id)})"
    return sql


# --- Filters -----------------------------------------------------------------------------------------------
class _Untranslatable(Exception):
    pass


def _param(v):
    if isinstance(v, datetime):
        return store._utc(v)
    return v


def _leaf_sql(source, leaf, now, params, joins, positive=False) -> str:
    if leaf.event is not None:
        raise _Untranslatable()
    fd, op, v = leaf.fd, leaf.op, leaf.value
    mapped = FILTER_SQL[source].get(fd.name)
    if mapped is None or fd.kind != "column" or op == "icontains":
        raise _Untranslatable()
    expr, need = mapped
    joins.update(need)
    empty = f"({expr} IS NULL OR {expr} = '')" if fd.type in ("text", "choice") else f"({expr} IS NULL)"
    if op == "is_null":
        return empty if v else f"(NOT {empty})"
    if op in ("ne", "not_in"):
        inner = _leaf_sql(source, type(leaf)(leaf.path, fd, "eq" if op == "ne" else "in", v, None), now,
                          params, joins)
        return f"(NOT {inner})"
    if op == "eq":
        cond = f"{expr} = ?"
        params.append(_param(v))
    elif op == "in":
        if not v:
            return "FALSE"
        cond = f"{expr} IN ({', '.join('?' for _x in v)})"
        params.extend(_param(x) for x in v)
    elif op in ("gt", "gte", "lt", "lte"):
        cond = f"{expr} {({'gt': '>', 'gte': '>=', 'lt': '<', 'lte': '<='})[op]} ?"
        params.append(_param(v))
    elif op == "between":
        cond = f"{expr} >= ? AND {expr} <= ?"
        params.extend([_param(v[0]), _param(v[1])])
    elif op == "within_last":
        cond = f"{expr} >= ? AND {expr} <= ?"
        params.extend([_param(now - v), _param(now)])
    elif op == "older_than":
        cond = f"{expr} < ?"
        params.append(_param(now - v))
    elif op == "contains":
        cond = f"strpos({expr}, ?) > 0"
        params.append(v)
    elif op == "startswith":
        cond = f"strpos({expr}, ?) = 1"
        params.append(v)
    else:
        raise _Untranslatable()
    if positive:
        # Not under a NOT: a NULL here drops the row just as FALSE does, and a bare comparison lets DuckDB
        # push the filter into the scan (zone maps) where COALESCE(...) would not.
        return f"(({cond}) AND NOT {empty})" if fd.type in ("text", "choice") else f"({cond})"
    return f"COALESCE(({cond}) AND NOT {empty}, FALSE)"


def _tree_sql(source, tree, now, params, joins, positive=True) -> str:
    if isinstance(tree, tuple):
        kind, arg = tree
        if kind == "not":
            return f"(NOT {_tree_sql(source, arg, now, params, joins, False)})"
        if not arg:
            return "TRUE" if kind == "all" else "FALSE"
        glue = " AND " if kind == "all" else " OR "
        return "(" + glue.join(_tree_sql(source, c, now, params, joins, positive) for c in arg) + ")"
    return _leaf_sql(source, tree, now, params, joins, positive)


def filter_sql(source, filters, con) -> tuple[str, list, set, str]:
    """(SQL predicate, params, joins, how) for the condition; how is "sql" or "ids"."""
    if filters in (None, {}):
        return "TRUE", [], set(), "none"
    sdef = M.SOURCE_DEFS[source]
    tree = compiler._tree(sdef.model, filters)
    params, joins = [], set()
    try:
        return _tree_sql(source, tree, clock.now(), params, joins), params, joins, "sql"
    except _Untranslatable:
        import pyarrow as pa

        ids = list(sdef.model._default_manager.filter(compiler.to_q(sdef.model, filters))
                   .values_list("id", flat=True))
        con.register("_filter_ids", pa.table({"id": pa.array(ids, type=pa.int64())}))
        return "f.id IN (SELECT id FROM _filter_ids)", [], set(), "ids"


# --- Pivot: DuckDB ------------------------------------------------------------------------------------------
def _parts(metric_list):
    aggs, quants = {}, {}
    for m in metric_list:
        for pname, part in m.parts.items():
            key = f"{m.name}__{pname}"
            (quants if isinstance(part, M.Quantile) else aggs)[key] = part
    return aggs, quants


def _duck_rows(source, dims, metric_list, filters, user):
    sdef = M.SOURCE_DEFS[source]
    aggs, quants = _parts(metric_list)
    today = clock.today()
    with store.reader() as con:
        where_filter, params, joins, _how = filter_sql(source, filters, con)
        for d in dims:
            joins.update(d.joins)
        for m in metric_list:
            joins.update(m.joins)
        scope = _scope_sql(user, sdef)
        for alias in list(joins):
            joins.update(M.JOIN_DEPENDS.get(alias, ()))
        select = []
        for i, d in enumerate(dims):
            expr = d.sql(today) if callable(d.sql) else d.sql
            select.append(f"NULLIF({expr}, '') AS k{i}" if _textual(d) else f"{expr} AS k{i}")
        names = list(aggs) + list(quants)
        select += [f"{p.sql} AS \"{n}\"" for n, p in aggs.items()]
        select += [f"quantile_cont({p.sql_value}, {p.q}) AS \"{n}\"" for n, p in quants.items()]
        join_sql = " ".join(M.JOINS[a].format(owner_col=sdef.owner_col) for a in JOIN_ORDER if a in joins)
        where = [sdef.base_sql, where_filter] + ([scope] if scope else [])
        sql = (f"SELECT {', '.join(select)} FROM {sdef.fact} f {join_sql} WHERE "
               + " AND ".join(f"({w})" for w in where))
        if dims:
            sql += " GROUP BY " + ", ".join(f"k{i}" for i in range(len(dims)))
        result = con.execute(sql, params).fetchall()
    out = []
    n = len(dims)
    for r in result:
        keys = tuple(None if k == "" else k for k in r[:n])
        out.append((keys, dict(zip(names, r[n:], strict=True))))
    return out, _how


def _norm_key(k):
    if k == "":
        return None
    return k


# --- Pivot: Django ORM --------------------------------------------------------------------------------------
def orm_queryset(source, filters, user):
    sdef = M.SOURCE_DEFS[source]
    qs = scoping.restrict(sdef.base_queryset(), user, "view")
    if filters not in (None, {}):
        qs = qs.filter(compiler.to_q(sdef.model, filters))
    return qs


def _textual(d) -> bool:
    """A dimension whose key is text: "" and NULL are the same (empty) value."""
    return not d.fmt and not d.numeric and d.labels != "tenure" and (not d.labels or d.labels.startswith("choice:"))


def _annotate_dims(qs, dims):
    annots = {}
    for i, d in enumerate(dims):
        expr = F(d.orm) if isinstance(d.orm, str) else d.orm()
        annots[f"k{i}"] = NullIf(expr, Value(""), output_field=CharField()) if _textual(d) else expr
    return qs.annotate(**annots) if annots else qs


def _orm_key(d, v):
    if d.fmt:
        return M.format_time_key(d.fmt, v)
    return _norm_key(v)


def _db_rows(source, dims, metric_list, filters, user):
    aggs, quants = _parts(metric_list)
    qs = orm_queryset(source, filters, user)
    annotations = {}
    for m in metric_list:
        if m.orm_annotations:
            annotations.update(m.orm_annotations())
    if annotations:
        qs = qs.annotate(**annotations)
    qs = _annotate_dims(qs, dims)
    keys = [f"k{i}" for i in range(len(dims))]
    agg_exprs = {n: p.orm() for n, p in aggs.items()} | {"_n": Count("id")}
    grouped: dict[tuple, dict] = {}
    if dims:
        for row in qs.values(*keys).annotate(**agg_exprs).order_by():
            key = tuple(_orm_key(d, row[k]) for d, k in zip(dims, keys, strict=True))
            grouped.setdefault(key, {n: None for n in aggs})
            for n in aggs:  # two DB groups can fold into one key (two datetimes in one week)
                grouped[key][n] = _add(grouped[key][n], row[n])
    else:
        row = qs.aggregate(**agg_exprs)
        grouped[()] = {n: row[n] for n in aggs}
    for n, part in quants.items():
        values = defaultdict(list)
        for row in qs.values_list(*keys, *part.orm_fields).order_by():
            key = tuple(_orm_key(d, v) for d, v in zip(dims, row[:len(keys)], strict=True))
            x = part.py_value(*row[len(keys):])
            grouped.setdefault(key, {a: None for a in aggs})
            if x is not None:
                values[key].append(x)
        for key, group in grouped.items():
            group[n] = M.quantile_cont(values.get(key, []), part.q)
    return list(grouped.items())


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


# --- Labels and assembly ------------------------------------------------------------------------------------
def _choice_labels(kind):
    from baton.activities.models import Activity
    from baton.leads.models import LeadSource, LeadStatus
    from baton.opportunities.models import Opportunity

    cls = {"lead_source": LeadSource, "lead_status": LeadStatus, "opportunity_status": Opportunity.Status,
           "activity_kind": Activity.Kind, "activity_outcome": Activity.Outcome}[kind]
    return {v: str(label) for v, label in cls.choices}


def label_maps(dims, keysets) -> list[tuple[dict, dict]]:
    """Per dimension: (key -> label, key -> sort key)."""
    from baton.accounts.models import Industry
    from baton.opportunities.models import Pipeline, Stage
    from baton.org.models import Region, Team, User

    out = []
    for d, keys in zip(dims, keysets, strict=True):
        ids = [k for k in keys if k is not None]
        labels, order = {}, {}
        if d.labels == "user":
            labels = {u.pk: str(u) for u in User.objects.filter(pk__in=ids)}
        elif d.labels in ("region", "team", "pipeline", "industry"):
            model = {"region": Region, "team": Team, "pipeline": Pipeline, "industry": Industry}[d.labels]
            labels = dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
        elif d.labels == "stage":
            for s in Stage.objects.filter(pk__in=ids).select_related("pipeline"):
                labels[s.pk] = s.name
                order[s.pk] = (s.pipeline.name, s.position)
        elif d.labels == "tenure":
            labels = {code: str(label) for code, _d, label in M.TENURE_BANDS} | {"unknown": _("Unknown")}
            order = {code: i for i, (code, _d, _l) in enumerate(M.TENURE_BANDS)} | {"unknown": 99}
        elif d.labels.startswith("choice:"):
            labels = _choice_labels(d.labels.split(":", 1)[1])
        elif d.numeric:
            order = {k: f"{int(k) + 10 ** 7:09d}" for k in ids}  # by value, negative weeks first
        out.append((labels, order))
    return out


def _json_value(v):
    if isinstance(v, Decimal):
        return float(v)
    return v


def assemble(dims, metric_list, grouped) -> list[dict]:
    keysets = [{g[0][i] for g in grouped} for i in range(len(dims))]
    maps = label_maps(dims, keysets)
    rows = []
    for keys, parts in grouped:
        row = {}
        for d, k, (labels, _order) in zip(dims, keys, maps, strict=True):
            row[d.name] = labels.get(k, k if k is None or not d.labels or d.labels.startswith("choice:")
                                     else f"#{k}")
        for m in metric_list:
            row[m.name] = _json_value(m.finish({p: parts.get(f"{m.name}__{p}") for p in m.parts}))
        row["_keys"] = {d.name: k for d, k in zip(dims, keys, strict=True)}
        rows.append(row)

    def sort_key(row):
        out = []
        for d, (_labels, order) in zip(dims, maps, strict=True):
            k = row["_keys"][d.name]
            if k is None:
                out.append((2, ""))
            elif k in order:
                out.append((0, str(order[k]).zfill(8) if isinstance(order[k], int) else str(order[k])))
            else:
                out.append((1, str(row[d.name])))
        return out

    rows.sort(key=sort_key)
    return rows


def lineage(source, metric_list, dims, engine, filters, filter_how, row_count):
    from baton.reports.models import SyncState

    sdef = M.SOURCE_DEFS[source]
    if engine == "duckdb":
        states = list(SyncState.objects.filter(table__in=sdef.tables))
        as_of = min((s.last_sync_at for s in states if s.last_sync_at), default=None)
        latest = max(states, key=lambda s: s.last_sync_at or datetime.min.replace(tzinfo=clock.now().tzinfo),
                     default=None)
        refreshed_by = latest.triggered_by if latest else ""
    else:
        as_of, refreshed_by = clock.now(), "live"
    tables = sorted({t for m in metric_list for t in m.sources})
    return {
        "metrics": [{"name": m.name, "label": m.label, "definition": m.definition, "sources": list(m.sources),
                     "unit": m.unit} for m in metric_list],
        "dimensions": [{"name": d.name, "label": d.label, "definition": (d.definition_zh if _is_zh() else
                                                                           d.definition_en)} for d in dims],
        "source_tables": tables,
        "store_tables": list(sdef.tables) if engine == "duckdb" else [],
        "data_as_of": as_of.isoformat() if as_of else None,
        "engine": engine,
        "refreshed_by": refreshed_by,
        "row_count": row_count,
        "filters": filters or None,
        "filter_applied_as": filter_how,
        "drilldown": {"method": "POST", "url": "/api/pivot/rows",
                      "body": {"source": source, "dimensions": [d.name for d in dims], "filters": filters or None,
                               "cell": "{_keys of the row}"}},
    }


def _is_zh():
    from django.utils.translation import get_language

    return (get_language() or "").startswith("zh")


def choose_engine(source, engine):
    if engine in ("duckdb", "db"):
        return engine
    return "duckdb" if store.synced(M.SOURCE_DEFS[source].tables) else "db"


def pivot(*, user, source, dimensions, metrics, filters=None, engine="auto") -> dict:
    validate(source, list(dimensions), list(metrics), filters)
    dims = [M.dimensions_for(source)[d] for d in dimensions]
    mets = [M.metrics_for(source)[m] for m in metrics]
    engine = choose_engine(source, engine)
    if engine == "duckdb":
        grouped, how = _duck_rows(source, dims, mets, filters, user)
    else:
        grouped = _db_rows(source, dims, mets, filters, user)
        how = "none" if filters in (None, {}) else "sql"
    rows = assemble(dims, mets, grouped)
    out = {"rows": rows, "lineage": lineage(source, mets, dims, engine, filters, how, len(rows))}
    basis = revenue_basis(mets, grouped)
    if basis:
        out["lineage"].update(basis)
    return out


def revenue_basis(mets, grouped) -> dict | None:
    """Which amounts the revenue metrics used: "invoiced", "signed", "mixed" (or "none"), with deal counts."""
    m = next((m for m in mets if "n_invoiced" in m.parts), None)
    if m is None:
        return None
    total = {k: sum(int(parts.get(f"{m.name}__{k}") or 0) for _keys, parts in grouped)
             for k in ("n_invoiced", "n_signed", "n_held")}
    inv, signed = total["n_invoiced"], total["n_signed"]
    basis = "mixed" if inv and signed else "invoiced" if inv else "signed" if signed else "none"
    return {"revenue_basis": basis, "revenue_counts": {"invoiced_deals": inv, "signed_deals": signed,
                                                       "held_deals": total["n_held"]}}


def _translatable(source, filters) -> bool:
    try:
        _tree_sql(source, compiler._tree(M.SOURCE_DEFS[source].model, filters), clock.now(), [], set())
        return True
    except _Untranslatable:
        return False


# --- Drill-down ---------------------------------------------------------------------------------------------
ROW_FIELDS = {
    "leads": ["id", "company", "contact_name", "source", "status", "grade", "owner__username", "created_at",
              "first_contact_at"],
    "opportunities": ["id", "name", "stage__name", "status", "amount", "owner__username", "created_at",
                      "closed_at"],
    "activities": ["id", "kind", "subject", "outcome", "author__username", "occurred_at"],
}
ROW_URLS = {"leads": "/leads/{id}/", "opportunities": "/opportunities/{id}/", "activities": None}


def drill_rows(*, user, source, dimensions, cell: dict, filters=None, limit=200) -> dict:
    """The live rows of the system of record behind one pivot cell (the cell's dimension keys)."""
    validate(source, list(dimensions), [next(iter(M.metrics_for(source)))], filters)
    dims = [M.dimensions_for(source)[d] for d in dimensions]
    errors = [(f"cell.{name}", _("Not one of the pivot's dimensions.")) for name in cell if name not in dimensions]
    if errors:
        raise ValidationFailed(errors=errors)
    qs = _annotate_dims(orm_queryset(source, filters, user), dims)
    for i, d in enumerate(dims):
        if d.name not in cell:
            continue
        key = cell[d.name]
        if key is None:
            qs = qs.filter(**{f"k{i}__isnull": True}) if not d.labels or d.labels == "tenure" else \
                qs.filter(**{f"k{i}__isnull": True})
            continue
        if d.fmt:
            start, end = _period(d.fmt, key)
            if start is None:
                raise ValidationFailed(errors=[(f"cell.{d.name}", _("Not a valid period."))])
            qs = qs.filter(**{f"k{i}__gte": start, f"k{i}__lt": end})
        else:
            qs = qs.filter(**{f"k{i}": key})
    qs = qs.order_by("-id").distinct()
    total = qs.count()
    rows = []
    for r in qs.values(*ROW_FIELDS[source])[:limit]:
        r = {k.replace("__username", "").replace("__name", ""): _json_value(v) for k, v in r.items()}
        for k, v in list(r.items()):
            if isinstance(v, datetime):
                r[k] = v.isoformat()
        if ROW_URLS[source]:
            r["url"] = ROW_URLS[source].format(id=r["id"])
        rows.append(r)
    return {"rows": rows, "total": total, "limit": limit}


def _period(fmt, key):
    from datetime import date

    try:
        if fmt == "month":
            y, m = map(int, key.split("-"))
            start = date(y, m, 1)
            end = date(y + (m == 12), m % 12 + 1, 1)
        elif fmt == "quarter":
            y, q = key.split("-Q")
            y, q = int(y), int(q)
            start = date(y, 3 * (q - 1) + 1, 1)
            end = date(y + (q == 4), (3 * q) % 12 + 1, 1)
        else:
            start = date.fromisoformat(key)
            end = start + timedelta(days=7)
    except (ValueError, AttributeError, TypeError):
        return None, None
    return start, end
