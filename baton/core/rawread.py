"""Model instances from hand-written SELECTs, for the few reads made on every request.

The duplicate lookup of each lead capture and the token of each API call cost far more in the ORM's query
compilation and row handling than in the database. They write their SELECT with `reader.columns` and turn
each row into what the ORM would have built with `reader.instance`: the same converters, then
`Model.from_db`.
"""

import threading

from django.db import connection

_local = threading.local()


def converters(fields, alias: str | None = None) -> list:
    """(position, functions, column) for the `fields` whose database values the ORM converts when it reads
    them (on SQLite datetimes become aware and integers booleans; JSON is decoded). They are methods of this
    thread's connection: keep them per thread or per connection."""
    out = []
    for i, field in enumerate(fields):
        col = field.get_col(alias or field.model._meta.db_table)
        functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if functions:
            out.append((i, functions, col))
    return out


def convert(values, conversions) -> list:
    """`values` (a row, or the part of one the `conversions` were made for) as the ORM would read them."""
    values = list(values)
    for i, functions, col in conversions:
        value = values[i]
        for function in functions:
            value = function(value, col, connection)
        values[i] = value
    return values


class Reader:
    def __init__(self, model, alias: str):
        fields = model._meta.concrete_fields
        self.model = model
        self.width = len(fields)
        self.attnames = [f.attname for f in fields]
        quote = connection.ops.quote_name
        self.columns = ", ".join(f"{alias}.{quote(f.column)}" for f in fields)
        self.converters = converters(fields, alias)

    def instance(self, row, start: int = 0):
        """The instance of the `self.columns` that begin at `row[start]`."""
        values = convert(row[start:start + self.width], self.converters)
        return self.model.from_db(connection.alias, self.attnames, values)


def reader(model, alias: str) -> Reader:
    """The reader of `model`'s columns selected under the table alias `alias`. Kept per thread: the backend's
    converters are methods of the thread's own connection."""
    readers = getattr(_local, "readers", None)
    if readers is None:
        readers = _local.readers = {}
    found = readers.get((model, alias))
    if found is None:
        found = readers[model, alias] = Reader(model, alias)
    return found
