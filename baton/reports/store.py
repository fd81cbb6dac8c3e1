"""The analytics store: a DuckDB file under var/ holding denormalised copies of leads, deals and activities.

The system of record (SQLite or PostgreSQL) stays the truth; this file is a columnar copy that pivots and
dashboards read. `sync()` keeps it current incrementally:

* leads and opportunities: rows whose `updated_at` is at or after the watermark (minus a small overlap for
  writes that committed late) are re-copied; the watermark moves to the largest stamp copied.
* activities have no `updated_at`: new rows come by `created_at`, edited rows by the audit trail (every
  `activity_update` writes an AuditEntry "update"), and a full refresh once a day catches anything else.
* deletes: AuditEntry "delete" rows since the watermark remove rows (and the activities that cascaded with a
  deleted lead or deal); the daily full refresh reconciles the id sets.
* small dimension tables (users, stages, regions) are copied whole on every sync, so a rep who moves team
  shows under the new team at the next sync.

DuckDB allows one writing process per file; every use opens the file briefly (retrying while another
process holds it) and closes it again, so the web server and the job worker take turns.
"""

from __future__ import annotations

import atexit
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from django.conf import settings
from django.utils import timezone

from baton.core import clock

OVERLAP = timedelta(seconds=60)
FULL_REFRESH_EVERY = timedelta(hours=24)
BATCH = 50_000
_lock = threading.RLock()
_schema_ready: set = set()

SCHEMA = {
    "leads_fact": [("id", "BIGINT"), ("created_at", "TIMESTAMP"), ("created_day", "DATE"),
                   ("updated_at", "TIMESTAMP"), ("first_contact_at", "TIMESTAMP"), ("source", "VARCHAR"),
                   ("status", "VARCHAR"), ("grade", "VARCHAR"), ("owner_id", "BIGINT"), ("region_id", "BIGINT"),
                   ("duplicate_of_id", "BIGINT"), ("score", "INTEGER"), ("company", "VARCHAR"),
                   ("external_id", "VARCHAR")],
    "opportunities_fact": [("id", "BIGINT"), ("name", "VARCHAR"), ("created_at", "TIMESTAMP"),
                           ("created_day", "DATE"), ("closed_at", "TIMESTAMP"), ("closed_day", "DATE"),
                           ("updated_at", "TIMESTAMP"), ("owner_id", "BIGINT"), ("stage_id", "BIGINT"),
                           ("pipeline_id", "BIGINT"), ("status", "VARCHAR"), ("amount", "DECIMAL(18,2)"),
                           ("lead_id", "BIGINT"), ("account_id", "BIGINT"), ("account_region_id", "BIGINT"),
                           ("product", "VARCHAR")],
    "activities_fact": [("id", "BIGINT"), ("created_at", "TIMESTAMP"), ("occurred_at", "TIMESTAMP"),
                        ("occurred_day", "DATE"), ("kind", "VARCHAR"), ("outcome", "VARCHAR"),
                        ("author_id", "BIGINT"), ("lead_id", "BIGINT"), ("opportunity_id", "BIGINT"),
                        ("account_id", "BIGINT")],
    "lead_industries": [("lead_id", "BIGINT"), ("industry_id", "BIGINT")],
    "lead_first_contact": [("lead_id", "BIGINT"), ("outcome", "VARCHAR")],
    "users_dim": [("id", "BIGINT"), ("region_id", "BIGINT"), ("team_id", "BIGINT"), ("manager_id", "BIGINT"),
                  ("hire_date", "DATE"), ("region_code", "VARCHAR")],
    "stages_dim": [("id", "BIGINT"), ("name", "VARCHAR"), ("pipeline_id", "BIGINT"), ("position", "INTEGER"),
                   ("kind", "VARCHAR"), ("pipeline_name", "VARCHAR")],
    "regions_dim": [("id", "BIGINT"), ("code", "VARCHAR")],
    # Finance's invoices and the large-contract guard's open holds: small, copied whole on every sync.
    "invoices_dim": [("id", "BIGINT"), ("opportunity_id", "BIGINT"), ("account_id", "BIGINT"),
                     ("amount", "DECIMAL(18,2)"), ("invoice_date", "DATE"), ("status", "VARCHAR")],
    "held_deals_dim": [("opportunity_id", "BIGINT")],
}
FACT_TABLES = ("leads_fact", "opportunities_fact", "activities_fact")


def store_path() -> Path:
    return Path(getattr(settings, "BATON_ANALYTICS_PATH", None) or settings.VAR_DIR / "analytics.duckdb")


@contextmanager
def connect(timeout: float = 30.0, *, read_only: bool = False):
    """An open connection to the store file (created with its schema if missing), closed afterwards.

    Readers open the file read-only (cheaper, and several processes may read at once); the sync opens it
    for writing. Nothing stays open between uses, so the web server never blocks the job worker for long.
    """
    if read_only and not store_path().exists():
        read_only = False
    path = store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        if not read_only:
            _close_reader()  # this process's own cached reader would keep the writer out
        deadline = time.monotonic() + timeout
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.IOException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # another process (web or worker) has the file open: take turns
        try:
            key = (str(path), path.stat().st_ino)
            if not read_only and key not in _schema_ready:  # once per file and process
                _ensure_schema(con)
                _schema_ready.add(key)
            yield con
        finally:
            con.close()


# --- The shared reader ---------------------------------------------------------------------------------------
# Pivots read through one read-only connection per process, kept open while the file is unchanged (DuckDB then
# keeps its decompressed column segments cached between queries) and closed after READER_IDLE seconds without
# a query, so a sync in another process (DuckDB allows no writer while a reader has the file open) gets its
# turn. Each use gets its own cursor (a connection to the same database instance), so threads may read at once.
READER_IDLE = 2.0
_reader = {"con": None, "key": None, "timer": None, "busy": 0, "last": 0.0}


def _file_key(path: Path):
    st = path.stat()
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)


def _close_reader():
    with _lock:
        if _reader["con"] is not None and not _reader["busy"]:
            _reader["con"].close()
            _reader["con"] = _reader["key"] = None


def _idle_check():
    """Timer thread: close the reader once idle long enough, else look again when it could be."""
    with _lock:
        _reader["timer"] = None
        if _reader["con"] is None:
            return
        wait = _reader["last"] + READER_IDLE - time.monotonic()
        if _reader["busy"] or wait > 0:
            _start_timer(max(wait, 0.2))
        else:
            _close_reader()


def _start_timer(delay):
    # One timer at a time, never cancelled (cancelling wakes its thread and costs the caller a GIL switch).
    if _reader["timer"] is None:
        _reader["timer"] = threading.Timer(delay, _idle_check)
        _reader["timer"].daemon = True
        _reader["timer"].start()


@atexit.register
def _close_reader_at_exit():
    # Close on the main thread before the interpreter winds down: a DuckDB connection finalised during
    # shutdown (or closed by the timer thread then) can abort the process.
    with _lock:
        if _reader["timer"] is not None:
            _reader["timer"].cancel()
            _reader["timer"] = None
        _reader["busy"] = 0
        _close_reader()


@contextmanager
def reader(timeout: float = 30.0):
    """A read-only cursor on the store, from the process's shared reader (see above)."""
    path = store_path()
    if not path.exists():
        with connect(timeout, read_only=True) as con:
            yield con
        return
    with _lock:
        key = _file_key(path)
        if _reader["con"] is not None and _reader["key"] != key and not _reader["busy"]:
            _close_reader()
        if _reader["con"] is None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    _reader["con"] = duckdb.connect(str(path), read_only=True)
                    break
                except duckdb.IOException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            _reader["key"] = key
        _reader["busy"] += 1
        cur = _reader["con"].cursor()
    try:
        yield cur
    finally:
        cur.close()
        with _lock:
            _reader["busy"] -= 1
            _reader["last"] = time.monotonic()
            _start_timer(READER_IDLE)


def _ensure_schema(con):
    _x(con, "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for table, cols in SCHEMA.items():
        _x(con, f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{c} {t}' for c, t in cols)})")
    if not con.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchall():
        _x(con, "INSERT INTO meta VALUES ('store_id', ?)", [uuid.uuid4().hex])


def _x(con, sql, params=None):
    """Run one statement to completion (DuckDB refuses new work while a result is unread)."""
    return con.execute(sql, params or []).fetchall()


def store_id(con) -> str:
    return con.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchall()[0][0]


# --- Row conversion -----------------------------------------------------------------------------------------
_TZ = None


def _utc(dt):
    return None if dt is None else dt.astimezone(UTC).replace(tzinfo=None)


def _local_day(dt):
    global _TZ
    if dt is None:
        return None
    _TZ = _TZ or timezone.get_default_timezone()
    return dt.astimezone(_TZ).date()


def _arrow(table: str, rows: list[tuple]) -> pa.Table:
    cols = SCHEMA[table]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in cols]
    types = {"BIGINT": pa.int64(), "INTEGER": pa.int32(), "VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"),
             "DATE": pa.date32(), "DECIMAL(18,2)": pa.decimal128(18, 2)}
    return pa.table({name: pa.array(list(values), type=types[t]) for (name, t), values in zip(cols, columns,
                                                                                         strict=True)})


def _lead_rows(qs):
    for r in qs.values_list("id", "created_at", "updated_at", "first_contact_at", "source", "status", "grade",
                            "owner_id", "region_id", "duplicate_of_id", "score", "company", "external_id"):
        yield (r[0], _utc(r[1]), _local_day(r[1]), _utc(r[2]), _utc(r[3]), *r[4:])


def _opportunity_rows(qs):
    from django.db.models.fields.json import KeyTextTransform

    qs = qs.annotate(_product=KeyTextTransform("product", "custom_fields"))
    for r in qs.values_list("id", "name", "created_at", "closed_at", "updated_at", "owner_id", "stage_id",
                            "pipeline_id", "status", "amount", "lead_id", "account_id", "account__region_id",
                            "_product"):
        yield (r[0], r[1], _utc(r[2]), _local_day(r[2]), _utc(r[3]), _local_day(r[3]), _utc(r[4]), *r[5:13],
               r[13] or None)


def _activity_rows(qs):
    for r in qs.values_list("id", "created_at", "occurred_at", "kind", "outcome", "author_id", "lead_id",
                            "opportunity_id", "account_id"):
        yield (r[0], _utc(r[1]), _utc(r[2]), _local_day(r[2]), *r[3:])


# Columnar full copy: (fact table) -> the fields read from the database, in order, and per schema column
# either the index of the field it copies or ("day", index) for the local calendar day of a datetime field.
COLUMNAR = {
    "leads_fact": (("id", "created_at", "updated_at", "first_contact_at", "source", "status", "grade", "owner_id",
                    "region_id", "duplicate_of_id", "score", "company", "external_id"),
                   (0, 1, ("day", 1), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)),
    "activities_fact": (("id", "created_at", "occurred_at", "kind", "outcome", "author_id", "lead_id",
                         "opportunity_id", "account_id"),
                        (0, 1, 2, ("day", 2), 3, 4, 5, 6, 7, 8)),
}
_ARROW_TYPES = {"BIGINT": pa.int64(), "INTEGER": pa.int32(), "VARCHAR": pa.string(), "DATE": pa.date32(),
                "DECIMAL(18,2)": pa.decimal128(18, 2)}
COLUMNAR_STEP = 200_000  # ids per range query


def _columnar_batches(table: str, qs):
    """The whole table as arrow batches: raw cursor rows in id ranges, converted column-wise (no per-row
    Python beyond the driver's own), local days computed by arrow in the company time zone."""
    import pyarrow.compute as pc
    from django.db import connections
    from django.db.models import Max, Min

    fields, spec = COLUMNAR[table]
    schema = SCHEMA[table]
    tz = str(timezone.get_default_timezone())
    bounds = qs.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return
    conn = connections[qs.db]
    for lo in range(bounds["lo"], bounds["hi"] + 1, COLUMNAR_STEP):
        sql, params = qs.filter(id__gte=lo, id__lt=lo + COLUMNAR_STEP).order_by().values_list(*fields) \
            .query.sql_with_params()
        with conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        if not rows:
            continue
        raw = list(zip(*rows, strict=True))
        del rows
        utc = {i: pa.array(raw[i], type=pa.timestamp("us", tz="UTC"))
               for (_c, typ), i in zip(schema, spec, strict=True) if typ == "TIMESTAMP"}
        arrays = []
        for (_c, typ), src in zip(schema, spec, strict=True):
            if isinstance(src, tuple):
                arrays.append(pc.local_timestamp(utc[src[1]].cast(pa.timestamp("us", tz=tz))).cast(pa.date32()))
            elif typ == "TIMESTAMP":
                arrays.append(utc[src].cast(pa.timestamp("us")))
            else:
                arrays.append(pa.array(raw[src], type=_ARROW_TYPES[typ]))
        yield pa.table(arrays, names=[c for c, _t in schema])


def _insert_columnar(con, table: str, qs) -> int:
    n = 0
    for batch in _columnar_batches(table, qs):
        con.register("_batch", batch)
        _x(con, f"INSERT INTO {table} SELECT * FROM _batch")
        con.unregister("_batch")
        n += batch.num_rows
    return n


def _batched(rows, size=BATCH):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _upsert(con, table: str, rows) -> int:
    n = 0
    for batch in _batched(rows):
        arrow = _arrow(table, batch)
        con.register("_batch", arrow)
        _x(con, f"DELETE FROM {table} WHERE id IN (SELECT id FROM _batch)")
        _x(con, f"INSERT INTO {table} SELECT * FROM _batch")
        con.unregister("_batch")
        n += len(batch)
    return n


def _insert(con, table: str, rows) -> int:
    n = 0
    for batch in _batched(rows):
        con.register("_batch", _arrow(table, batch))
        _x(con, f"INSERT INTO {table} SELECT * FROM _batch")
        con.unregister("_batch")
        n += len(batch)
    return n


def _rows_in_id_chunks(qs, row_fn, size=BATCH):
    """Every row of `qs`, read in id ranges of `size` rows (bounded queries, no OFFSET, no server cursor)."""
    last = 0
    while True:
        ids = list(qs.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:size])
        if not ids:
            return
        yield from row_fn(qs.filter(id__gte=ids[0], id__lte=ids[-1]))
        last = ids[-1]


# --- Dimensions ---------------------------------------------------------------------------------------------
def _refresh_dims(con):
    from baton.opportunities.models import Stage
    from baton.org.models import Region, User

    users = [(u["id"], u["region_id"], u["team_id"], u["manager_id"], u["hire_date"], u["region__code"])
             for u in User.objects.values("id", "region_id", "team_id", "manager_id", "hire_date", "region__code")]
    stages = list(Stage.objects.values_list("id", "name", "pipeline_id", "position", "kind", "pipeline__name"))
    regions = list(Region.objects.values_list("id", "code"))
    from baton.reports.models import HeldAmount, Invoice

    invoices = list(Invoice.objects.values_list("id", "opportunity_id", "account_id", "amount", "invoice_date",
                                                "status"))
    held = [(i,) for i in HeldAmount.objects.filter(status="held", opportunity__isnull=False)
            .values_list("opportunity_id", flat=True).distinct()]
    for table, rows in (("users_dim", users), ("stages_dim", stages), ("regions_dim", regions),
                        ("invoices_dim", invoices), ("held_deals_dim", held)):
        _x(con, f"DELETE FROM {table}")
        _insert(con, table, rows)


def _lead_industry_rows(lead_ids=None):
    from baton.leads.models import Lead

    through = Lead.industries.through.objects.all()
    if lead_ids is not None:
        for i in range(0, len(lead_ids), 5000):
            yield from through.filter(lead_id__in=lead_ids[i:i + 5000]).values_list("lead_id", "industry_id")
    else:
        yield from through.order_by("id").values_list("lead_id", "industry_id").iterator(chunk_size=BATCH)


def _refresh_first_contact(con, lead_ids=None):
    kinds = ", ".join(f"'{k}'" for k in ("call", "visit", "meeting", "email", "wechat"))
    where = ""
    if lead_ids is not None:
        con.register("_affected", pa.table({"lead_id": pa.array(list(lead_ids), type=pa.int64())}))
        _x(con, "DELETE FROM lead_first_contact WHERE lead_id IN (SELECT lead_id FROM _affected)")
        where = "AND lead_id IN (SELECT lead_id FROM _affected)"
    else:
        _x(con, "DELETE FROM lead_first_contact")
    _x(con, f"""
        INSERT INTO lead_first_contact
        SELECT lead_id, arg_min(outcome, (occurred_at, id)) FROM activities_fact
        WHERE lead_id IS NOT NULL AND kind IN ({kinds}) {where}
        GROUP BY lead_id""")
    if lead_ids is not None:
        con.unregister("_affected")


# --- Sync ---------------------------------------------------------------------------------------------------
def _deleted_ids(model, since) -> list[int]:
    from django.contrib.contenttypes.models import ContentType

    from baton.core.models import AuditEntry

    ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
    ids = set(AuditEntry.objects.filter(content_type=ct, action=AuditEntry.Action.DELETE, at__gte=since)
              .values_list("object_id", flat=True))
    if ids:  # an id deleted and then used again (SQLite may reuse the largest id) stays
        ids -= set(model._default_manager.filter(id__in=ids).values_list("id", flat=True))
    return sorted(ids)


def _updated_by_audit(model, since) -> list[int]:
    from django.contrib.contenttypes.models import ContentType

    from baton.core.models import AuditEntry

    ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
    return sorted(set(AuditEntry.objects.filter(content_type=ct, action=AuditEntry.Action.UPDATE, at__gte=since)
                      .values_list("object_id", flat=True)))


def _delete(con, table, col, ids) -> int:
    if not ids:
        return 0
    con.register("_gone", pa.table({"id": pa.array(list(ids), type=pa.int64())}))
    n = con.execute(f"DELETE FROM {table} WHERE {col} IN (SELECT id FROM _gone)").fetchall()[0][0]
    con.unregister("_gone")
    return n


def _count(con, table) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def sync(*, triggered_by: str = "schedule", full: bool = False) -> list:
    """Bring the store up to date with the database; returns the SyncState rows it wrote."""
    from baton.activities.models import Activity
    from baton.leads.models import Lead
    from baton.opportunities.models import Opportunity
    from baton.reports.models import SyncState

    started = clock.now()
    out = []
    with connect() as con:
        sid = store_id(con)
        states = {t: SyncState.objects.get_or_create(table=t)[0] for t in FACT_TABLES}
        _refresh_dims(con)
        affected_leads: set[int] | None = set()
        for table, model, row_fn, stamp in (
            ("leads_fact", Lead, _lead_rows, "updated_at"),
            ("opportunities_fact", Opportunity, _opportunity_rows, "updated_at"),
            ("activities_fact", Activity, _activity_rows, "created_at"),
        ):
            t0 = time.perf_counter()
            state = states[table]
            is_full = (full or state.store_id != sid or state.watermark is None
                       or state.last_full_at is None or started - state.last_full_at >= FULL_REFRESH_EVERY)
            deleted = 0
            qs = model._default_manager.all()
            if is_full:
                watermark = qs.order_by(f"-{stamp}").values_list(stamp, flat=True).first()
                _x(con, f"DELETE FROM {table}")
                if table in COLUMNAR:
                    changed = _insert_columnar(con, table, qs)
                else:
                    changed = _insert(con, table, _rows_in_id_chunks(qs, row_fn))
                if table == "leads_fact":
                    _x(con, "DELETE FROM lead_industries")
                    _insert(con, "lead_industries", _lead_industry_rows())
                if table == "activities_fact":
                    affected_leads = None
                state.last_full_at = started
            else:
                since = state.watermark - OVERLAP
                changed_qs = qs.filter(**{f"{stamp}__gte": since})
                extra = _updated_by_audit(model, since) if model is Activity else []
                # one pass for the ids and the new watermark (the stamp column may have no usable index)
                pairs = list(changed_qs.order_by().values_list("id", stamp))
                watermark = max((p[1] for p in pairs), default=None)
                ids = sorted({p[0] for p in pairs} | set(extra))
                changed = 0
                for i in range(0, len(ids), BATCH):
                    part = ids[i:i + BATCH]
                    changed += _upsert(con, table, row_fn(qs.filter(id__in=part)))
                    if table == "leads_fact":
                        _delete(con, "lead_industries", "lead_id", part)
                        _insert(con, "lead_industries", _lead_industry_rows(part))
                    if table == "activities_fact" and affected_leads is not None:
                        affected_leads |= {r[0] for r in _x(con,
                            "SELECT DISTINCT lead_id FROM activities_fact WHERE lead_id IS NOT NULL AND id IN "
                            f"({', '.join(str(x) for x in part)})")}
                gone = _deleted_ids(model, since)
                if table == "activities_fact" and gone and affected_leads is not None:
                    affected_leads |= {r[0] for r in _x(con,
                        "SELECT DISTINCT lead_id FROM activities_fact WHERE lead_id IS NOT NULL AND id IN "
                        f"({', '.join(str(x) for x in gone)})")}
                deleted = _delete(con, table, "id", gone)
                if table == "leads_fact" and gone:
                    _delete(con, "lead_industries", "lead_id", gone)
                    affected_leads |= set(gone)
                    deleted += _delete(con, "activities_fact", "lead_id", gone)  # on_delete=CASCADE
                if table == "opportunities_fact" and gone:
                    deleted += _delete(con, "activities_fact", "opportunity_id", gone)
                watermark = max(w for w in (watermark, state.watermark) if w is not None)
            if table == "activities_fact" and affected_leads != set():  # nothing to redo when no lead moved
                _refresh_first_contact(con, None if affected_leads is None else sorted(affected_leads))
            state.store_id = sid
            state.watermark = watermark or state.watermark or started
            state.last_sync_at = started
            state.rows = _count(con, table)
            state.changed = changed
            state.deleted = deleted
            state.duration_ms = int((time.perf_counter() - t0) * 1000)
            state.triggered_by = triggered_by[:120]
            state.save()
            out.append(state)
        _x(con, "CHECKPOINT")
    return out


def synced(tables) -> bool:
    """True when every table in `tables` has been filled into the current store file."""
    from baton.reports.models import SyncState

    if not store_path().exists():
        return False
    states = {s.table: s for s in SyncState.objects.filter(table__in=[t for t in tables if t in FACT_TABLES])}
    needed = [t for t in tables if t in FACT_TABLES]
    if len(states) < len(needed) or any(s.last_sync_at is None for s in states.values()):
        return False
    with reader() as con:
        sid = store_id(con)
    return all(s.store_id == sid for s in states.values())


def now_utc() -> datetime:
    return _utc(clock.now())
