"""Fast multi-row inserts through the cursor: executemany on SQLite, COPY on PostgreSQL (the bulk import), and
the handful of one- or few-row statements of a new lead's intake (`leads.express`).

No model instances, no per-row signals or audit: callers write their audit rows themselves.
A table whose rows repeat the same JSON documents (explanations shared by every lead with the same fired
rules) can be written `columnar` on PostgreSQL: one INSERT … SELECT FROM unnest(column arrays), where a
column with one value for the whole chunk is sent once and a JSON column with few distinct documents is
sent as those documents plus an index per row, so the server parses each document once instead of once
per row (jsonb input dominated the COPY of such tables).
Both paths return the new primary keys when asked (SQLite: the rowids the single writer just took, which
are consecutive because the write lock is held for the whole transaction; PostgreSQL: ids drawn from the
table's sequence before the COPY).
"""

import json

from django.db import connection, models


def _last_value_memo(adapt):
    """A chunk stamps most rows with the same timestamp, and rows share explanation objects: adapt a value
    once while the same object repeats (callers never mutate a value they passed in).

    An intake's inserters are shared by a server's threads: the value and its adapted form are kept as one
    pair and read in one step, so a thread never returns the form another thread stored for its own value."""
    last = [(None, None)]

    def adapted(value):
        seen, out = last[0]
        if seen is not value:
            out = adapt(value)
            last[0] = (value, out)
        return out
    return adapted


_INT_TYPES = {"bigint", "integer", "smallint"}


def _int_array(values) -> str:
    """An integer array literal: joined in C, where psycopg dumps a list element by element in Python."""
    if None in values:
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    return "{" + ",".join(map(str, values)) + "}"


def binding_cursor(cursor):
    """PostgreSQL: a server-side binding cursor on the connection (and transaction) of Django's `cursor`.
    Array parameters (`%b`) then travel in binary instead of being rendered into the statement text, as
    Django's client-side binding cursor does (for 2,000-value arrays that rendering is the cost)."""
    import psycopg

    return psycopg.Cursor(cursor.cursor.connection)


class RawInserter:
    def __init__(self, model, *, with_ids: bool = True, columnar: bool = False):
        self.model = model
        self.table = model._meta.db_table
        self.with_ids = with_ids
        self.vendor = connection.vendor
        self.columnar = columnar and self.vendor == "postgresql"
        # The database numbers an auto id; any other key (a row keyed by its lead) is written like a column.
        fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
        self.fields = fields
        self.columns = [f.column for f in fields]
        if self.columnar:
            self.db_types = [f.db_type(connection) for f in fields]
            self.is_json = [isinstance(f, models.JSONField) for f in fields]
        self.index = {}
        for i, f in enumerate(fields):
            self.index[f.attname] = i
            self.index.setdefault(f.name, i)
        self.adapters = [self._adapter(f) for f in fields]
        self._statements: dict = {}  # SQL text by shape
        self.defaults = []
        for f, adapt in zip(fields, self.adapters, strict=True):
            value = f.get_default() if f.has_default() else (None if f.null else ("" if f.empty_strings_allowed
                                                                                 else None))
            self.defaults.append(adapt(value) if adapt and value is not None else value)

    def _adapter(self, field):
        ops = connection.ops
        if isinstance(field, models.JSONField):
            return _last_value_memo(lambda v: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        if isinstance(field, models.DateTimeField):
            if self.vendor == "sqlite":
                return _last_value_memo(ops.adapt_datetimefield_value)
            return None
        if isinstance(field, models.DecimalField) and self.vendor == "sqlite":
            return str
        return None

    def row(self, data: dict) -> list:
        values = list(self.defaults)
        index, adapters = self.index, self.adapters
        for key, value in data.items():
            i = index[key]
            adapt = adapters[i]
            values[i] = adapt(value) if adapt is not None and value is not None else value
        return values

    def insert(self, rows: list[dict], *, meanwhile=None) -> list[int]:
        """Insert `rows` (dicts of field name -> Python value); returns their ids in order (if with_ids).
        `meanwhile(ids)`: Python work (no database access) to run once the ids are known; on PostgreSQL it
        runs while the server is still working through the COPY instead of after it."""
        if not rows:
            if meanwhile is not None:
                meanwhile([])
            return []
        tuples = [self.row(r) for r in rows]
        return self.insert_tuples(tuples, meanwhile=meanwhile)

    def insert_values(self, rows: list[dict]) -> list[int]:
        """A few rows in one multi-row INSERT … VALUES (one round trip, no COPY set-up); their ids when
        `with_ids`, as RETURNING gives them (SQLite does not promise VALUES order: ask for ids of one row)."""
        if not rows:
            return []
        sql = self._statements.get(len(rows))
        if sql is None:  # an intake repeats the same few shapes: composed once each
            qn = connection.ops.quote_name
            marks = "(" + ", ".join(["%s"] * len(self.columns)) + ")"
            sql = (f"INSERT INTO {qn(self.table)} ({', '.join(qn(c) for c in self.columns)}) VALUES "
                   f"{', '.join([marks] * len(rows))}")
            if self.with_ids:
                sql += f" RETURNING {qn('id')}"
            self._statements[len(rows)] = sql
        params = [v for r in rows for v in self.row(r)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [r[0] for r in cursor.fetchall()] if self.with_ids else []

    def _value_marks(self) -> str:
        """`(%s::type, …)` for one row: explicit types, as the server binds the parameters (no length: an
        over-long text must fail at the column, not be cut by the cast)."""
        marks = getattr(self, "_marks", None)
        if marks is None:
            marks = self._marks = "(" + ", ".join(f"%s::{f.cast_db_type(connection)}" for f in self.fields) + ")"
        return marks

    def insert_tuples(self, tuples: list, *, meanwhile=None) -> list[int]:
        n = len(tuples)
        qn = connection.ops.quote_name
        cols = ", ".join(qn(c) for c in self.columns)
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                ids = []
                if self.with_ids:
                    cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                                   [self.table, n])
                    ids = [r[0] for r in cursor.fetchall()]
                    cols = qn("id") + ", " + cols
                if self.columnar:
                    self._insert_columns(cursor, tuples, ids)
                else:
                    with cursor.cursor.copy(f"COPY {qn(self.table)} ({cols}) FROM STDIN") as copy:
                        if self.with_ids:
                            for pk, values in zip(ids, tuples, strict=True):
                                copy.write_row([pk, *values])
                        else:
                            for values in tuples:
                                copy.write_row(values)
                        if meanwhile is not None:  # the server is still parsing and indexing the rows sent
                            meanwhile(ids)
                            meanwhile = None
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {qn(self.table)} ({cols}) VALUES ({marks})", tuples)
                ids = []
                if self.with_ids:
                    cursor.execute("SELECT last_insert_rowid()")
                    last = cursor.fetchone()[0]
                    ids = list(range(last - n + 1, last + 1))
        if meanwhile is not None:
            meanwhile(ids)
        return ids

    def _insert_columns(self, cursor, tuples: list, ids: list):
        """PostgreSQL: INSERT … SELECT FROM unnest(arrays) with constant and shared-document columns sent once."""
        n = len(tuples)
        qn = connection.ops.quote_name
        names = [qn(c) for c in self.columns]
        columns = list(zip(*tuples, strict=True))
        types, is_json = list(self.db_types), list(self.is_json)
        if ids:
            names.insert(0, qn("id"))
            columns.insert(0, ids)
            types.insert(0, "bigint")
            is_json.insert(0, False)
        select, select_params, arrays, array_params = [], [], [], []
        for values, db_type, json_column in zip(columns, types, is_json, strict=True):
            first = values[0]
            if values.count(first) == n:
                select.append(f"%b::{db_type}")
                select_params.append(first)
                continue
            if json_column:
                index: dict = {}
                keys = [index.setdefault(v, len(index) + 1) for v in values]
                if len(index) * 4 <= n:
                    select.append(f"(%b::{db_type}[])[r.c{len(arrays)}]")
                    select_params.append(list(index))
                    arrays.append("%t::integer[]")
                    array_params.append(_int_array(keys))
                    continue
            select.append(f"r.c{len(arrays)}")
            if db_type in _INT_TYPES:
                arrays.append(f"%t::{db_type}[]")
                array_params.append(_int_array(values))
            else:
                arrays.append(f"%b::{db_type}[]")
                array_params.append(list(values))
        if arrays:
            source = f"unnest({', '.join(arrays)}) AS r({', '.join(f'c{i}' for i in range(len(arrays)))})"
        else:
            source, array_params = "generate_series(1, %b::integer)", [n]
        with binding_cursor(cursor) as raw:
            raw.execute(f"INSERT INTO {qn(self.table)} ({', '.join(names)}) SELECT {', '.join(select)} "
                        f"FROM {source}", [*select_params, *array_params], prepare=False)


def insert_linked(first: RawInserter, row: dict, linked: list, also=()) -> tuple[int, list]:
    """PostgreSQL: insert `row` with `first` and, in the same statement, the rows of each
    (inserter, rows, link column, want ids) of `linked`, whose `link` column takes the new id of `row`
    (data-modifying CTEs: one round trip instead of one per table), and each (SQL, parameters) data-modifying
    statement of `also`. Returns (the new id, [the ids of each linked part that wants them, in VALUES order])."""
    shape = (tuple((inserter, len(rows), link, want_ids) for inserter, rows, link, want_ids in linked),
             tuple(statement for statement, _params in also))
    sql = first._statements.get(shape)
    if sql is None:  # an intake repeats the same few shapes: composed once each
        sql = first._statements[shape] = _linked_sql(first, linked, also)
    params = list(first.row(row))
    for inserter, rows, link, _want_ids in linked:
        for r in rows:
            params += inserter.row({**r, link: None})
    for _statement, statement_params in also:
        params += statement_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk, *ids = cursor.fetchone()
    return pk, [list(x or []) for x in ids]


def _linked_sql(first: RawInserter, linked: list, also) -> str:
    qn = connection.ops.quote_name
    parts = [f"c0 AS (INSERT INTO {qn(first.table)} ({', '.join(qn(c) for c in first.columns)}) VALUES "
             f"{first._value_marks()} RETURNING {qn('id')})"]
    wanted = []
    for i, (inserter, rows, link, want_ids) in enumerate(linked, 1):
        if not rows:
            if want_ids:
                wanted.append("NULL")
            continue
        k = inserter.columns.index(link)
        select = ", ".join(f"c0.{qn('id')}" if j == k else f"v.c{j}" for j in range(len(inserter.columns)))
        names = ", ".join(f"c{j}" for j in range(len(inserter.columns)))
        values = ", ".join([inserter._value_marks()] * len(rows))
        parts.append(f"c{i} AS (INSERT INTO {qn(inserter.table)} ({', '.join(qn(c) for c in inserter.columns)}) "
                     f"SELECT {select} FROM c0, (VALUES {values}) AS v({names})"
                     + (f" RETURNING {qn('id')})" if want_ids else ")"))
        if want_ids:
            wanted.append(f"(SELECT array_agg({qn('id')} ORDER BY {qn('id')}) FROM c{i})")
    for i, (statement, _params) in enumerate(also):
        parts.append(f"x{i} AS ({statement})")
    return f"WITH {', '.join(parts)} SELECT (SELECT {qn('id')} FROM c0){''.join(', ' + w for w in wanted)}"
