"""Expressions that read `custom_fields` JSON keys the same way on SQLite and PostgreSQL.

Each reader returns NULL unless the stored JSON value has the expected JSON type, exactly as the Python
readers in `registry` return None: a string stored under a number key is "empty", never an error.
Text comes out with binary ("C") collation on PostgreSQL so ordering equals Python's code-point order.
"""

from django.db.models import BooleanField, F, FloatField, Func, TextField

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LOWER = str.maketrans(UPPER, UPPER.lower())


def ascii_lower(value: str) -> str:
    """Lower-case ASCII letters only: what SQLite's LOWER() does, and what we make PostgreSQL do."""
    return value.translate(_ASCII_LOWER)


class AsciiLower(Func):
    output_field = TextField()

    def __init__(self, expr):
        super().__init__(expr)

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"TRANSLATE({sql}, '{UPPER}', '{UPPER.lower()}')", params
        return f"LOWER({sql})", params  # SQLite's built-in LOWER folds ASCII only


def _sqlite_path(key: str) -> str:
    return f'$."{key}"'


class JsonKey(Func):
    """The value under `key` of the JSON column `column`, if it is of JSON type `kind` (text/number/bool)."""

    def __init__(self, column, key: str, kind: str):
        output = {"text": TextField(), "number": FloatField(), "bool": BooleanField()}[kind]
        super().__init__(F(column) if isinstance(column, str) else column, output_field=output)
        self.key, self.kind = key, kind

    def as_sql(self, compiler, connection, **extra):
        col, cp = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            j, jp = f"({col} -> %s)", [*cp, self.key]
            if self.kind == "text":
                # An empty string reads as NULL, as `registry.read_json` reads it in Python.
                return (f"(CASE WHEN jsonb_typeof{j} = 'string' AND ({col} ->> %s) <> '' "
                        f"THEN ({col} ->> %s) END) COLLATE \"C\"", [*jp, *cp, self.key, *cp, self.key])
            if self.kind == "number":
                return (f"(CASE WHEN jsonb_typeof{j} = 'number' THEN ({col} ->> %s)::double precision END)",
                        [*jp, *cp, self.key])
            return (f"(CASE WHEN jsonb_typeof{j} = 'boolean' THEN ({col} ->> %s)::boolean END)",
                    [*jp, *cp, self.key])
        path = _sqlite_path(self.key)
        t, tp = f"json_type({col}, %s)", [*cp, path]
        if self.kind == "text":
            return (f"(CASE WHEN {t} = 'text' AND json_extract({col}, %s) <> '' THEN json_extract({col}, %s) END)",
                    [*tp, *cp, path, *cp, path])
        if self.kind == "number":
            return (f"(CASE WHEN {t} IN ('integer', 'real') THEN CAST(json_extract({col}, %s) AS REAL) END)",
                    [*tp, *cp, path])
        return f"(CASE {t} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)", tp


class JsonList(Func):
    """A never-NULL boolean test on a JSON list of strings: mode has_any / has_all / empty."""

    output_field = BooleanField()

    def __init__(self, column, key: str, mode: str, values=()):
        super().__init__(F(column) if isinstance(column, str) else column)
        self.key, self.mode, self.values = key, mode, list(values)

    def as_sql(self, compiler, connection, **extra):
        col, cp = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            j, jp = f"({col} -> %s)", [*cp, self.key]
            if self.mode == "empty":
                return (f"(CASE WHEN jsonb_typeof{j} = 'array' THEN jsonb_array_length{j} = 0 ELSE true END)",
                        [*jp, *jp])
            op = "?|" if self.mode == "has_any" else "?&"
            return (f"(CASE WHEN jsonb_typeof{j} = 'array' THEN {j} {op} %s::text[] ELSE false END)",
                    [*jp, *jp, self.values])
        path = _sqlite_path(self.key)
        t, tp = f"json_type({col}, %s)", [*cp, path]
        if self.mode == "empty":
            return f"(CASE WHEN {t} = 'array' THEN json_array_length({col}, %s) = 0 ELSE 1 END)", [*tp, *cp, path]

        def exists(values):
            marks = ", ".join(["%s"] * len(values))
            return (f"EXISTS (SELECT 1 FROM json_each({col}, %s) AS je WHERE je.type = 'text' "
                    f"AND je.value IN ({marks}))", [*cp, path, *values])

        parts = [exists(self.values)] if self.mode == "has_any" else [exists([v]) for v in self.values]
        body = " AND ".join(p[0] for p in parts)
        params = [p for part in parts for p in part[1]]
        return f"(CASE WHEN {t} = 'array' THEN ({body}) ELSE 0 END)", [*tp, *params]
