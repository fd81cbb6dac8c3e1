"""Lead import from CSV and XLSX: mapping, dry run, chunked bulk write, error report.

What a run does with each row (documented choice: ROW-BY-ROW REPORT):
  * every row is cleaned against the mapping; a row with any error is REJECTED and listed in the error
    report (row number as in the spreadsheet — the header is row 1 —, column, value, message);
  * a clean row that duplicates an earlier row of the file or an existing lead (same source + external id,
    same normalised phone, same normalised e-mail) is SKIPPED as a duplicate and also listed;
  * the other rows are ACCEPTED: tagged, scored and assigned in memory with the live rules and pools, then
    written in chunks of `CHUNK` rows, each chunk in its own transaction (leads, tags, industries,
    evaluations, assignments, backlog entries and one audit entry for the chunk on the job);
  * if the run crashes, the chunk in flight rolls back, the job is marked failed and `committed` says exactly
    how many leads the earlier chunks wrote (and the message names the last row committed).
A dry run does all of the above except the writes (and creates no custom fields).
Fuzzy company matching is not used on import (per-row lookups would dominate the run): duplicates by
company name alone are left to the capture review.
"""

import codecs
import csv
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from baton.capture import dedupe
from baton.core import clock
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import ChangeSource
from baton.core.rawsql import binding_cursor
from baton.core.services import create_object, update_object
from baton.imports import mapping as mp
from baton.imports.models import ImportJob, ImportMapping
from baton.leads.models import Lead, LeadSource

CHUNK = 2000
PREVIEW_ROWS = 20000  # rows read to guess custom field types and choices
ERROR_SAMPLE = 100
IMPORT_ROLES = ("ops", "director", "manager")
MAX_LEN = {"external_id": 100, "company": 200, "contact_name": 80, "phone": 30, "utm_source": 100,
           "utm_medium": 100, "utm_campaign": 100, "utm_term": 100, "utm_content": 100, "notes": 10000}
MULTI_SPLIT = ",;、，；|/"
_CN_MOBILE = re.compile(r"1[3-689][0-9]{9}")
# Django's own e-mail patterns compiled once, without the lazy wrappers its validator reads them through
# (~10 µs per address): an address both match is one `validate_email` accepts; any other goes to it.
_EMAIL_USER = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags)
_EMAIL_DOMAIN = re.compile(validate_email.domain_regex.pattern, validate_email.domain_regex.flags)


def _plain_email(value: str) -> bool:
    if "@" not in value or len(value) > 320:
        return False
    user, domain = value.rsplit("@", 1)
    return _EMAIL_USER.match(user) is not None and _EMAIL_DOMAIN.match(domain) is not None


def require_importer(actor):
    if actor is None:
        return
    if not (actor.is_superuser or any(actor.has_role(r) for r in IMPORT_ROLES)):
        raise PermissionDenied()


# --- Reading files --------------------------------------------------------------------------------------

def file_kind(name: str) -> str:
    ext = os.path.splitext(name or "")[1].lower()
    if ext in (".csv", ".txt"):
        return "csv"
    if ext in (".xlsx", ".xlsm"):
        return "xlsx"
    raise ValidationFailed(errors=[("file", _("Only CSV and XLSX files can be imported."))])


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if (value.hour, value.minute, value.second) != (0, 0, 0) \
            else value.strftime("%Y-%m-%d")
    return str(value).strip()


def _csv_encoding(path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut at the end of the sample
            return "utf-8"
        return "gb18030"


def iter_rows(path, name) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(headers, iterator of (spreadsheet row number, cell texts)), streaming: memory stays flat."""
    kind = file_kind(name)
    if kind == "csv":
        fh = open(path, encoding=_csv_encoding(path), newline="")  # noqa: SIM115 (closed by the generator)
        reader = csv.reader(fh)
        try:
            headers = [h.strip() for h in next(reader)]
        except (StopIteration, UnicodeDecodeError, csv.Error) as exc:
            fh.close()
            raise ValidationFailed(errors=[("file", _("The file has no header row."))]) from exc

        def gen():
            try:
                for n, row in enumerate(reader, start=2):
                    if any(c.strip() for c in row):
                        yield n, row
            finally:
                fh.close()
        return headers, gen()
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ValidationFailed(errors=[("file", _("The file is not a readable XLSX workbook."))]) from exc
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    try:
        headers = [_cell(h) for h in next(rows)]
    except StopIteration as exc:
        wb.close()
        raise ValidationFailed(errors=[("file", _("The file has no header row."))]) from exc
    while headers and headers[-1] == "":
        headers.pop()

    def gen_x():
        try:
            for n, row in enumerate(rows, start=2):
                cells = [_cell(v) for v in row[: len(headers)]]
                if any(cells):
                    yield n, cells
        finally:
            wb.close()
    return headers, gen_x()


def count_rows(path, name) -> int:
    _headers, rows = iter_rows(path, name)
    return sum(1 for _ in rows)


def check_headers(headers: list[str]):
    if not headers or not any(headers):
        raise ValidationFailed(errors=[("file", _("The file has no header row."))])
    seen = set()
    for h in headers:
        if h and h in seen:
            raise ValidationFailed(errors=[("file", _("The column “%(name)s” appears twice.") % {"name": h})])
        seen.add(h)


# --- Mapping ----------------------------------------------------------------------------------------------

@dataclass
class Proposal:
    header: str
    target: str
    samples: list[str]
    new_field: dict | None = None  # {"key", "type", "label_zh", "label_en", "choices"}


def mapping_propose(headers: list[str], rows: list[list[str]], *, preset: ImportMapping | None = None) -> list:
    """What the wizard shows: each header's guessed (or preset) target, sample values, and for columns
    nothing fits a proposed custom field (type guessed from the values)."""
    from baton.conditions.models import CustomField

    taken = set(CustomField.objects.filter(target="lead").values_list("key", flat=True))
    existing = {cf.label_en.lower(): cf.key for cf in CustomField.objects.filter(target="lead")}
    existing.update({cf.label_zh: cf.key for cf in CustomField.objects.filter(target="lead")})
    guessed = mp.guess_mapping(headers)
    preset_columns = preset.columns if preset else {}
    preset_new = (preset.options or {}).get("new_custom_fields", {}) if preset else {}
    empty = set((preset.options or {}).get("empty_values", [])) if preset else set()
    out = []
    for i, header in enumerate(headers):
        values = [r[i] if i < len(r) else "" for r in rows]
        values = [v for v in values if v not in empty]
        samples = [v for v in dict.fromkeys(v for v in values if v)][:5]
        if header in preset_columns or header in preset_new:
            target = preset_columns.get(header, "")
            new = preset_new.get(header)
            if new and f"custom:{new['key']}" in {f"custom:{k}" for k in taken}:
                target, new = f"custom:{new['key']}", None
            out.append(Proposal(header, target, samples, new))
            continue
        target = guessed.get(header, "")
        if not target and header:
            key = existing.get(header.lower()) or existing.get(header)
            if key:
                target = mp.CUSTOM_PREFIX + key
        new = None
        if not target and header:
            type_, choices = mp.guess_type(values)
            new = {"key": mp.key_for(header, taken), "type": type_, "label_zh": header[:80], "label_en": header[:80],
                   "choices": [{"value": c} for c in choices]}
        out.append(Proposal(header, target, samples, new))
    return out


def preset_for(headers: list[str]) -> ImportMapping | None:
    """The saved mapping whose every column is in `headers` (most columns first)."""
    present = set(headers)
    best = None
    for m in ImportMapping.objects.all():
        cols = set(m.columns) | set((m.options or {}).get("new_custom_fields", {}))
        if cols and cols <= present and (best is None or len(cols) > len(best[0])):
            best = (cols, m)
    return best[1] if best else None


def _valid_targets() -> set[str]:
    return set(mp.TARGETS)


def mapping_validate(columns: dict, options: dict, headers: list[str] | None = None) -> None:
    """Refuse unknown targets, a target used twice, unknown custom fields, bad source values."""
    from baton.conditions.models import CustomField

    errors = []
    if not isinstance(columns, dict) or not isinstance(options, dict):
        raise ValidationFailed(errors=[("mapping", _("The mapping must be a JSON object."))])
    keys = set(CustomField.objects.filter(target="lead", active=True).values_list("key", flat=True))
    new = options.get("new_custom_fields") or {}
    if not isinstance(new, dict):
        raise ValidationFailed(errors=[("mapping", _("new_custom_fields must be an object."))])
    types = {t for t, _l in CustomField.Type.choices}
    for header, spec in new.items():
        if not isinstance(spec, dict) or not spec.get("key") or spec.get("type") not in types:
            errors.append(("mapping", _("The new custom field for “%(h)s” needs a key and a known type.") % {
                "h": header}))
            continue
        keys.add(spec["key"])
    used = {}
    for header, target in columns.items():
        if not target:
            continue
        if target.startswith(mp.CUSTOM_PREFIX):
            if target[len(mp.CUSTOM_PREFIX):] not in keys:
                errors.append(("mapping", _("“%(h)s”: there is no custom field “%(t)s”.") % {"h": header, "t": target}))
        elif target not in _valid_targets():
            errors.append(("mapping", _("“%(h)s”: unknown target “%(t)s”.") % {"h": header, "t": target}))
        if target in used:
            errors.append(("mapping", _("“%(a)s” and “%(b)s” both map to “%(t)s”.") % {
                "a": used[target], "b": header, "t": target}))
        used[target] = header
    if headers is not None:
        missing = [h for h in list(columns) + list(new) if h not in headers and (columns.get(h) or h in new)]
        if missing:
            errors.append(("mapping", _("Columns not in the file: %(list)s") % {"list": ", ".join(missing)}))
    source_values = options.get("source_values") or {}
    valid_sources = set(LeadSource.values)
    for raw, value in source_values.items():
        if value not in valid_sources:
            errors.append(("mapping", _("Source value “%(raw)s” maps to unknown source “%(v)s”.") % {
                "raw": raw, "v": value}))
    default = options.get("source_default")
    if default and default not in valid_sources:
        errors.append(("mapping", _("Unknown default source “%(v)s”.") % {"v": default}))
    keep = options.get("keep_source_in")
    if keep and keep not in ("utm_source", "notes") and not (keep.startswith(mp.CUSTOM_PREFIX)
                                                            and keep[len(mp.CUSTOM_PREFIX):] in keys):
        errors.append(("mapping", _("Cannot keep the original source in “%(v)s”.") % {"v": keep}))
    if errors:
        raise ValidationFailed(errors=errors)


def mapping_save(*, actor, name: str, columns: dict, options: dict | None = None,
                 source=ChangeSource.UI) -> ImportMapping:
    """Create or update the saved mapping `name`."""
    require_importer(actor)
    options = options or {}
    mapping_validate(columns, options)
    existing = ImportMapping.objects.filter(name=name).first()
    if existing:
        update_object(existing, actor=actor, source=source, check_scope=False,
                      data={"columns": columns, "options": options, "updated_at": clock.now()})
        return existing
    return create_object(ImportMapping, actor=actor, source=source, check_scope=False,
                         data={"name": name, "columns": columns, "options": options})


def presets_install() -> int:
    """Install the shipped mappings (X Education leads, Olist MQLs). Returns how many were created."""
    from baton.imports.presets import PRESETS

    created = 0
    for name, columns, options in PRESETS:
        _obj, was_created = ImportMapping.objects.update_or_create(
            name=name, defaults={"columns": columns, "options": options, "builtin": True})
        created += was_created
    return created


# --- Custom fields ----------------------------------------------------------------------------------------

def custom_field_create_hook(*, actor, key, type, label_zh, label_en, choices=(), source=ChangeSource.IMPORT):
    """Create a lead custom field, through `baton.conditions.services.custom_field_create` when it exists."""
    try:
        from baton.conditions.services import custom_field_create
    except ImportError:
        custom_field_create = None
    from baton.conditions.models import CustomField

    data = {"target": "lead", "key": key, "type": type, "label_zh": label_zh[:80], "label_en": label_en[:80],
            "choices": list(choices or [])}
    if custom_field_create is not None:
        return custom_field_create(actor=actor, source=source, **data)
    return create_object(CustomField, actor=actor, source=source, check_scope=False, data=data)


def _ensure_custom_fields(actor, options: dict) -> None:
    from baton.conditions.models import CustomField

    existing = set(CustomField.objects.filter(target="lead").values_list("key", flat=True))
    for header, spec in (options.get("new_custom_fields") or {}).items():
        if spec["key"] in existing:
            continue
        choices = [c if isinstance(c, dict) else {"value": c} for c in spec.get("choices") or []]
        choices = [{"value": c["value"], "label_zh": c.get("label_zh") or c["value"],
                    "label_en": c.get("label_en") or c["value"]} for c in choices]
        custom_field_create_hook(actor=actor, key=spec["key"], type=spec["type"],
                                 label_zh=spec.get("label_zh") or header, label_en=spec.get("label_en") or header,
                                 choices=choices)


# --- Cleaning rows ------------------------------------------------------------------------------------------

class _Spec:
    """A custom field as the cleaner sees it (saved, or proposed by a dry run)."""

    def __init__(self, key, type_, choices):
        self.key, self.type, self.choice_values = key, type_, [c["value"] if isinstance(c, dict) else c
                                                                 for c in choices or []]


def clean_custom(spec: _Spec, raw: str):
    """(JSON value, error) for a custom field cell; empty cells give (None, None) and are not stored."""
    t = spec.type
    if t == "text":
        return raw, None
    if t == "number":
        n = mp.parse_decimal(raw)
        if n is None or n != n.to_integral_value():
            return None, _("Not a whole number.")
        return int(n), None
    if t == "decimal":
        n = mp.parse_decimal(raw)
        if n is None:
            return None, _("Not a number.")
        return int(n) if n == n.to_integral_value() else float(n), None
    if t == "bool":
        b = mp.parse_bool(raw)
        if b is None:
            return None, _("Not yes or no.")
        return b, None
    if t == "date":
        d = mp.parse_date(raw) or (mp.parse_datetime_naive(raw) or None)
        if d is None:
            return None, _("Not a date (use YYYY-MM-DD).")
        return (d.date() if isinstance(d, datetime) else d).isoformat(), None
    if t == "datetime":
        dt = mp.parse_datetime_naive(raw) or (datetime.combine(mp.parse_date(raw), datetime.min.time())
                                              if mp.parse_date(raw) else None)
        if dt is None:
            return None, _("Not a date and time.")
        aware = timezone.make_aware(dt, timezone.get_default_timezone())
        return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), None
    if t == "choice":
        if raw not in spec.choice_values:
            return None, _("Not one of the choices.")
        return raw, None
    if t == "multi_choice":
        parts = [p.strip() for p in _split(raw)]
        bad = [p for p in parts if p not in spec.choice_values]
        if bad:
            return None, _("Not one of the choices: %(list)s") % {"list": ", ".join(bad)}
        return parts, None
    return raw, None


def _split(raw: str) -> list[str]:
    out, cur = [], ""
    for ch in raw:
        if ch in MULTI_SPLIT:
            if cur.strip():
                out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


class RowCleaner:
    """Turns one row of cell texts into Lead values (+ custom fields), or a list of errors."""

    def __init__(self, headers: list[str], columns: dict, options: dict):
        from baton.accounts.models import Industry
        from baton.conditions.models import CustomField
        from baton.org.models import Region

        self.options = options
        self.empty = set(options.get("empty_values") or [])
        specs = {cf.key: _Spec(cf.key, cf.type, cf.choices) for cf in CustomField.objects.filter(target="lead")}
        targets = dict(columns)
        for header, spec in (options.get("new_custom_fields") or {}).items():
            specs.setdefault(spec["key"], _Spec(spec["key"], spec["type"], spec.get("choices")))
            targets[header] = mp.CUSTOM_PREFIX + spec["key"]
        self.plan = []  # (index, header, target, spec)
        for i, header in enumerate(headers):
            target = targets.get(header) or ""
            if not target:
                continue
            spec = specs.get(target[len(mp.CUSTOM_PREFIX):]) if target.startswith(mp.CUSTOM_PREFIX) else None
            self.plan.append((i, header, target, spec))
        self.has_source = any(t == "source" for _i, _h, t, _s in self.plan)
        self.industries = {}
        for ind in Industry.objects.all():
            self.industries[ind.code.lower()] = ind
            self.industries[ind.name.lower()] = ind
        self.regions = {}
        for reg in Region.objects.all():
            self.regions[reg.code.lower()] = reg
            self.regions[reg.name.lower()] = reg
        self.source_values = {str(k).strip().lower(): v for k, v in (options.get("source_values") or {}).items()}
        for value, label in LeadSource.choices:
            self.source_values.setdefault(value, value)
            self.source_values.setdefault(str(label).lower(), value)
        self.source_default = options.get("source_default") or ""
        self.keep_source_in = options.get("keep_source_in") or ""
        self.tz = timezone.get_default_timezone()

    def clean(self, cells: list[str]) -> tuple[dict, list[tuple[str, str, str]]]:
        data: dict = {"source": self.source_default or LeadSource.IMPORT} if not self.has_source else {}
        custom: dict = {}
        errors = []
        n = len(cells)
        for i, header, target, spec in self.plan:
            raw = cells[i].strip() if i < n else ""
            if raw in self.empty:
                raw = ""
            if spec is not None:
                if raw:
                    value, err = clean_custom(spec, raw)
                    if err:
                        errors.append((header, raw, err))
                    else:
                        custom[spec.key] = value
                continue
            err = self._field(target, raw, data, custom)
            if err:
                errors.append((header, raw, err))
        if custom:
            data["custom_fields"] = custom
        return data, errors

    def _field(self, target, raw, data, custom):
        if target == "source":
            value = self.source_values.get(raw.lower()) if raw else (self.source_default or LeadSource.IMPORT)
            if value is None:
                value = self.source_default or None
            if value is None:
                data["source"] = LeadSource.IMPORT
                return _("Unknown source value; map it to a Baton source in the wizard.")
            data["source"] = value
            if raw and self.keep_source_in:
                if self.keep_source_in.startswith(mp.CUSTOM_PREFIX):
                    custom[self.keep_source_in[len(mp.CUSTOM_PREFIX):]] = raw
                else:
                    data[self.keep_source_in] = raw[:100]
            return None
        if not raw:
            return None
        if target in MAX_LEN:
            if len(raw) > MAX_LEN[target]:
                return _("Longer than %(n)s characters.") % {"n": MAX_LEN[target]}
            if target == "phone":
                # A plain mainland mobile number: what phonenumbers answers, without its ~50 µs parse
                # (prefixes 11/12/17 are excluded: phonenumbers may read them as carrier codes).
                norm = "+86" + raw if _CN_MOBILE.fullmatch(raw) else dedupe.normalise_phone(raw)
                if not norm:
                    return _("Not a phone number.")
                data["phone_norm"] = norm
            data[target] = raw
            return None
        if target == "email":
            if not _plain_email(raw):
                try:
                    validate_email(raw)
                except ValidationError:
                    return _("Not a valid e-mail address.")
            data["email"] = raw
            return None
        if target == "budget":
            n = mp.parse_decimal(raw)
            if n is None:
                return _("Not a number.")
            if n < 0:
                return _("The budget cannot be negative.")
            if n >= 10 ** 12:
                return _("The budget is too large.")
            data["budget"] = n.quantize(mp.Decimal("0.01"))
            return None
        if target == "industries":
            found = []
            for part in _split(raw):
                ind = self.industries.get(part.lower())
                if ind is None:
                    return _("Unknown industry “%(v)s”.") % {"v": part}
                found.append(ind)
            data["industries"] = found
            return None
        if target == "region":
            reg = self.regions.get(raw.lower())
            if reg is None:
                return _("Unknown region.")
            data["region"] = reg
            return None
        if target == "created_at":
            dt = mp.parse_datetime_naive(raw)
            if dt is None and (d := mp.parse_date(raw)):
                dt = datetime.combine(d, datetime.min.time())
            if dt is None:
                return _("Not a date.")
            data["created_at"] = timezone.make_aware(dt, self.tz)
            return None
        return None


def dedupe_keys(data: dict) -> list[tuple[str, str]]:
    keys = []
    if data.get("external_id"):
        keys.append(("external_id", f"{data['source']}\x00{data['external_id']}"))
    if data.get("phone_norm"):
        keys.append(("phone", data["phone_norm"]))
    if data.get("email_norm"):
        keys.append(("email", data["email_norm"]))
    return keys


def _db_duplicates(rows: list[dict]) -> dict[tuple[str, str], int]:
    """Existing leads matching the chunk's keys: {(kind, key): lead id}; indexed lookups through the cursor
    (the ORM's per-value preparation of 2,000-value IN lists costs more than the queries). Where several
    leads share a key, the first in the lead ordering (newest first) is reported, as before."""
    found = {}
    ext = {}
    for d in rows:
        if d.get("external_id"):
            ext.setdefault(d["source"], set()).add(d["external_id"])
    phones = {d["phone_norm"] for d in rows if d.get("phone_norm")}
    emails = {d["email_norm"] for d in rows if d.get("email_norm")}
    table = connection.ops.quote_name(Lead._meta.db_table)
    order = "ORDER BY created_at DESC, id DESC"
    # NOT (external_id = '') repeats the partial unique index's predicate so that the index is used (without
    # it SQLite scans the whole table for every chunk).
    ext_where = "source = %s AND NOT (external_id = '') AND "
    postgres = connection.vendor == "postgresql"
    with (transaction.atomic() if postgres else nullcontext()), connection.cursor() as cursor:
        if postgres:
            # These are point lookups into the key indexes, and must stay so however the planner estimates:
            # without column statistics (a lead table that grew faster than autoanalyze, or a server without
            # autovacuum) it guesses 0.5 % of the table per value and seq-scanned the lead table per chunk, or
            # used only `source` of the (source, external id) index and filtered every lead of that source
            # (quadratic either way). Parallel workers and JIT compilation (which the same guesses trigger on
            # a big table: 0.2-0.4 s per statement) cost far more than such a lookup.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute("SET LOCAL jit = off")

        def lookup(where, params, values):
            values = sorted(values)
            if postgres:
                if values:
                    # One statement per key kind and chunk, the keys as one array; each key is its own
                    # parameterised index lookup (LATERAL … OFFSET 0 keeps the subquery a separate scan).
                    with binding_cursor(cursor) as raw:
                        raw.execute(f"SELECT l.id, k.v FROM unnest(%b::text[]) AS k(v), LATERAL (SELECT id, "
                                    f"created_at FROM {table} WHERE {where[1].replace('%s', '%b')}{where[0]} = k.v "
                                    f"OFFSET 0) AS l ORDER BY l.created_at DESC, l.id DESC", [values, *params],
                                    prepare=False)
                        yield from raw.fetchall()
                return
            for i in range(0, len(values), 500):
                part = values[i:i + 500]
                cursor.execute(f"SELECT id, {where[0]} FROM {table} WHERE {where[1]}"
                               f"{where[0]} IN ({', '.join(['%s'] * len(part))}) {order}", [*params, *part])
                yield from cursor.fetchall()

        for src, ids in ext.items():
            for pk, eid in lookup(("external_id", ext_where), [src], ids):
                found[("external_id", f"{src}\x00{eid}")] = pk
        for pk, p in lookup(("phone_norm", ""), [], phones):
            found.setdefault(("phone", p), pk)
        for pk, e in lookup(("email_norm", ""), [], emails):
            found.setdefault(("email", e), pk)
    return found


KEY_LABELS = {"external_id": "external id", "phone": "phone", "email": "e-mail"}


# --- The run ------------------------------------------------------------------------------------------------

@dataclass
class _Counts:
    processed: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    committed: int = 0
    errors: list = field(default_factory=list)


class _Report:
    """The error report, written as rows are read (CSV: row, column, value, message)."""

    def __init__(self):
        self.tmp = tempfile.NamedTemporaryFile("w+", suffix=".csv", encoding="utf-8-sig", newline="",  # noqa: SIM115
                                               delete=False)
        self.writer = csv.writer(self.tmp)
        self.writer.writerow(["row", "column", "value", "message"])
        self.sample: list[dict] = []
        self.lines = 0

    def add(self, row: int, column: str, value: str, message: str):
        self.writer.writerow([row, column, value, message])
        self.lines += 1
        if len(self.sample) < ERROR_SAMPLE:
            self.sample.append({"row": row, "column": column, "value": value, "message": str(message)})

    def close(self):
        self.tmp.close()
        return self.tmp.name


def job_create(*, actor, file, columns: dict | None = None, options: dict | None = None,
               mapping: ImportMapping | None = None, dry_run: bool = False,
               source=ChangeSource.UI) -> ImportJob:
    """Store an uploaded file as an import job (checked: type, size, header row, mapping)."""
    from django.conf import settings

    require_importer(actor)
    name = os.path.basename(getattr(file, "name", "") or "upload")
    file_kind(name)
    size = getattr(file, "size", None)
    if size is not None and size > getattr(settings, "BATON_MAX_IMPORT_BYTES", 200 * 1024 * 1024):
        raise ValidationFailed(errors=[("file", _("The file is too large."))])
    if size == 0:
        raise ValidationFailed(errors=[("file", _("The file is empty."))])
    if mapping is not None and columns is None:
        columns, options = dict(mapping.columns), dict(mapping.options or {})
    columns, options = columns or {}, options or {}
    job = create_object(ImportJob, actor=actor, source=source, check_scope=False, data={
        "file": File(file, name=name), "file_name": name[:255], "mapping": mapping, "columns": columns,
        "options": options, "dry_run": dry_run, "created_by": actor if actor and actor.is_authenticated else None,
    })
    try:
        headers, _rows = iter_rows(job.file.path, name)
        check_headers(headers)
        if columns or options:
            mapping_validate(columns, options, headers)
    except ValidationFailed:
        job.file.delete(save=False)
        job.delete()
        raise
    return job


def job_configure(*, job: ImportJob, actor, columns: dict, options: dict, dry_run: bool,
                  source=ChangeSource.UI) -> ImportJob:
    """Set the mapping of a job waiting in the wizard (or re-run a finished dry run for real)."""
    require_importer(actor)
    if job.status == ImportJob.Status.RUNNING:
        raise ValidationFailed(errors=[(None, _("This import is running."))])
    if job.status == ImportJob.Status.DONE and not job.dry_run:
        raise ValidationFailed(errors=[(None, _("This file has already been imported."))])
    headers, _rows = iter_rows(job.file.path, job.file_name)
    mapping_validate(columns, options, headers)
    update_object(job, actor=actor, source=source, check_scope=False, data={
        "columns": columns, "options": options, "dry_run": dry_run, "status": ImportJob.Status.PENDING,
        "processed": 0, "accepted": 0, "rejected": 0, "duplicates": 0, "committed": 0, "error_sample": [],
        "message": "", "total_rows": None, "started_at": None, "finished_at": None})
    return job


def _progress(job: ImportJob, counts: _Counts, **extra):
    ImportJob.objects.filter(pk=job.pk).update(
        processed=counts.processed, accepted=counts.accepted, rejected=counts.rejected,
        duplicates=counts.duplicates, committed=counts.committed, **extra)


def job_run(job_id: int, *, chunk: int = CHUNK, fail_after_chunks: int | None = None) -> ImportJob:
    """Run a job (dry or real) to the end. Safe to call from a huey task; progress is saved per chunk.
    `fail_after_chunks` exists for the crash test: it raises after that many chunks were committed."""
    job = ImportJob.objects.get(pk=job_id)
    actor = job.created_by
    now = clock.now()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=now)
    counts = _Counts()
    report = _Report()
    last_committed_row = 0
    try:
        total = count_rows(job.file.path, job.file_name)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=total)
        headers, rows = iter_rows(job.file.path, job.file_name)
        check_headers(headers)
        mapping_validate(job.columns, job.options, headers)
        if not job.dry_run:
            _ensure_custom_fields(actor, job.options)
        cleaner = RowCleaner(headers, job.columns, job.options)
        pipeline = None if job.dry_run else LeadPipeline(job=job, actor=actor)
        file_keys: dict[tuple[str, str], int] = {}  # dry run: every accepted key in the file
        batch: list[tuple[int, dict]] = []
        chunks_done = 0

        def flush():
            nonlocal batch, chunks_done, last_committed_row
            if not batch:
                return
            chunk_keys: dict[tuple[str, str], int] = {}
            db = _db_duplicates([d for _n, d in batch])
            keep = []
            for n, d in batch:
                dup = None
                keys = dedupe_keys(d)
                for k in keys:
                    kind = k[0]
                    if k in chunk_keys or k in file_keys:
                        dup = _("Duplicate of row %(row)s in this file (same %(key)s).") % {
                            "row": chunk_keys.get(k) or file_keys.get(k), "key": KEY_LABELS[kind]}
                        break
                    if k in db:
                        in_job = pipeline is not None and pipeline.created(db[k])
                        dup = (_("Duplicate of an earlier row in this file (lead #%(id)s, same %(key)s).")
                               if in_job else
                               _("Duplicate of existing lead #%(id)s (same %(key)s).")) % {
                            "id": db[k], "key": KEY_LABELS[kind]}
                        break
                if dup:
                    counts.duplicates += 1
                    report.add(n, "", "", dup)
                    continue
                for k in keys:
                    chunk_keys[k] = n
                keep.append((n, d))
            after = None
            if job.dry_run:
                for n, d in keep:
                    for k in dedupe_keys(d):
                        file_keys[k] = n
                counts.accepted += len(keep)
            elif keep:
                after = replace(counts, processed=counts.processed + len(batch),
                                accepted=counts.accepted + len(keep), committed=counts.committed + len(keep))
                with transaction.atomic():
                    pipeline.write(keep, first_row=batch[0][0], last_row=batch[-1][0])
                    _progress(job, after)  # committed with the chunk: one commit (disk flush) per chunk
                counts.accepted, counts.committed = after.accepted, after.committed
                last_committed_row = batch[-1][0]
            counts.processed += len(batch)
            batch = []
            chunks_done += 1
            if after is None:
                _progress(job, counts)
            if fail_after_chunks is not None and chunks_done >= fail_after_chunks:
                raise RuntimeError("simulated crash")

        for n, cells in rows:
            data, errors = cleaner.clean(cells)
            if errors:
                counts.rejected += 1
                counts.processed += 1
                for column, value, message in errors:
                    report.add(n, column, value, message)
                continue
            data.setdefault("phone_norm", "")
            data["email_norm"] = dedupe.normalise_email(data.get("email"))
            data["company_norm"] = dedupe.normalise_company(data.get("company"))
            batch.append((n, data))
            if len(batch) >= chunk:
                flush()
        flush()
        status, message = ImportJob.Status.DONE, ""
    except Exception as exc:  # the job must say what happened, whatever it was
        status = ImportJob.Status.FAILED
        detail = "; ".join(str(m) for _f, m in exc.errors) if isinstance(exc, ValidationFailed) else str(exc)
        message = _("The import stopped: %(error)s. %(n)s leads were written before it stopped%(rows)s; "
                    "nothing after that was written.") % {
            "error": detail or exc.__class__.__name__, "n": counts.committed,
            "rows": (_(" (up to row %(row)s)") % {"row": last_committed_row}) if last_committed_row else ""}
        if job.dry_run:
            message = _("The dry run stopped: %(error)s.") % {"error": detail or exc.__class__.__name__}
    path = report.close()
    job.refresh_from_db()
    try:
        with open(path, "rb") as fh:
            job.error_report.save(f"import_{job.pk}_errors.csv", File(fh), save=False)
    finally:
        os.unlink(path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, message=message, error_report=job.error_report.name, error_sample=report.sample,
        finished_at=clock.now(), processed=counts.processed, accepted=counts.accepted,
        rejected=counts.rejected, duplicates=counts.duplicates, committed=counts.committed)
    job.refresh_from_db()
    return job


def job_start(*, job: ImportJob, background: bool = True) -> ImportJob:
    """Run now, or queue the huey task (the page polls the progress)."""
    if background:
        from baton.imports.tasks import import_run

        import_run(job.pk)
        job.refresh_from_db()
        return job
    return job_run(job.pk)


# --- Writing: tags, score, assignment, insert ---------------------------------------------------------------

from baton.imports.pipeline import LeadPipeline  # noqa: E402  (pipeline imports helpers defined above)
