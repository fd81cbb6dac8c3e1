"""State changes of the reports app: refreshing the analytics store (the only thing it writes)."""

from baton.core.errors import PermissionDenied
from baton.reports import store


def analytics_refresh(*, actor=None, full: bool = False, triggered_by: str = ""):
    """Sync the analytics store now. A person asking is recorded as `user:<username>` in the lineage."""
    if actor is not None and not actor.is_authenticated:
        raise PermissionDenied()
    if full and actor is not None and not (actor.is_superuser or actor.has_role("ops")):
        raise PermissionDenied()  # a full rebuild of a large store is an operator's call
    who = triggered_by or (f"user:{actor.get_username()}" if actor is not None else "schedule")
    return store.sync(triggered_by=who, full=full)


# --- Invoices and the large-contract guard -----------------------------------------------------------------
import csv  # noqa: E402
import io  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from decimal import Decimal, InvalidOperation  # noqa: E402

from django.db import IntegrityError, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402

from baton.core import clock  # noqa: E402
from baton.core.errors import ValidationFailed  # noqa: E402
from baton.core.models import ChangeSource  # noqa: E402
from baton.core.services import create_object, record, update_object  # noqa: E402
from baton.reports.models import GuardConfig, HeldAmount, Invoice  # noqa: E402


def _is_finance(actor) -> bool:
    return actor is not None and (actor.is_superuser or actor.has_role("finance") or actor.has_role("ops"))


def _require_finance(actor):
    if actor is not None and not _is_finance(actor):
        raise PermissionDenied()


def guard_config() -> GuardConfig:
    cfg = GuardConfig.objects.order_by("id").first()
    return cfg or GuardConfig.objects.create()


def _month(d: date) -> date:
    return d.replace(day=1)


def _next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def account_month_total(account_id, month: date) -> Decimal:
    """The customer's invoiced amounts dated in `month` (active or held) plus the signed amounts of its deals
    won in that month that have no invoice yet."""
    from django.db.models import Exists, OuterRef

    from baton.opportunities.models import Opportunity

    end = _next_month(month)
    inv = (Invoice.objects.filter(account_id=account_id, invoice_date__gte=month, invoice_date__lt=end)
           .exclude(status=Invoice.Status.SUPERSEDED).aggregate(s=Sum("amount"))["s"] or Decimal(0))
    from datetime import datetime, time

    tz = timezone.get_default_timezone()
    start_dt = datetime.combine(month, time.min, tzinfo=tz)
    end_dt = datetime.combine(end, time.min, tzinfo=tz)
    signed = (Opportunity.objects.filter(account_id=account_id, status="won", closed_at__gte=start_dt,
                                         closed_at__lt=end_dt)
              .exclude(Exists(Invoice.objects.filter(opportunity=OuterRef("pk"))))
              .aggregate(s=Sum("amount"))["s"] or Decimal(0))
    return inv + signed


def _finance_user():
    from baton.org.models import User

    return (User.objects.filter(is_active=True, roles__code="finance").order_by("id").first()
            or User.objects.filter(is_active=True, is_superuser=True).order_by("id").first())


def _hold(*, account, amount, month, total, cfg, invoice=None, opportunity=None, actor, source):
    from baton.activities.services import task_create

    held = create_object(HeldAmount, actor=actor, source=source, check_scope=False,
                         data={"account": account, "invoice": invoice, "opportunity": opportunity, "month": month,
                               "amount": amount, "month_total": total, "threshold": cfg.threshold},
                         message="large-contract guard: held out of reports")
    finance = _finance_user()
    if finance is not None:
        what = f"invoice {invoice.number}" if invoice else f"deal {opportunity.name}"
        task = task_create(actor=None, source=ChangeSource.SYSTEM, assignee=finance, origin="review",
                           title=_("Review a large amount: %(what)s (%(amount)s %(cur)s)")
                           % {"what": what, "amount": amount, "cur": cfg.currency},
                           description=_("%(account)s has %(total)s %(cur)s in %(month)s, above the threshold "
                                         "%(threshold)s. Approve or correct it at /reports/held/%(id)s/.")
                           % {"account": account, "total": total, "cur": cfg.currency,
                              "month": month.strftime("%Y-%m"), "threshold": cfg.threshold, "id": held.pk},
                           due_at=clock.now() + timedelta(days=2))
        held.task = task
        held.save(update_fields=["task"])
    return held


def _guard_invoice(invoice, *, actor, source):
    cfg = guard_config()
    if not cfg.enabled:
        return None
    month = _month(invoice.invoice_date)
    total = account_month_total(invoice.account_id, month)
    if total <= cfg.threshold:
        return None
    invoice.status = Invoice.Status.HELD
    invoice.save(update_fields=["status"])
    return _hold(account=invoice.account, amount=invoice.amount, month=month, total=total, cfg=cfg,
                 invoice=invoice, actor=actor, source=source)


def invoice_create(*, actor, source=ChangeSource.UI, **data) -> Invoice:
    """Record one invoice; the large-contract guard may hold it (status held, a finance review task)."""
    _require_finance(actor)
    if data.get("opportunity") is not None and data.get("account") is None:
        data["account"] = data["opportunity"].account
    data.setdefault("created_at", clock.now())
    data["updated_at"] = clock.now()
    with transaction.atomic():
        if Invoice.objects.filter(source_system=data.get("source_system", "manual"),
                                  number=data.get("number")).exists():
            raise ValidationFailed(errors=[("number", _("This invoice number already exists in that source "
                                                        "system."))])
        invoice = create_object(Invoice, actor=actor, source=source, data=data, check_scope=False)
        _guard_invoice(invoice, actor=actor, source=source)
    return invoice


IMPORT_COLUMNS = ("number", "account", "amount", "invoice_date")


def invoice_import_csv(*, actor, file, source_system="", source=ChangeSource.IMPORT) -> dict:
    """Import invoices from CSV (columns: number, account (id or name), opportunity (id, optional), amount,
    currency, invoice_date (YYYY-MM-DD), source_system). Each row is written in its own transaction: good
    rows are kept, bad rows are reported with their line number and reason."""
    from baton.accounts.models import Account
    from baton.opportunities.models import Opportunity

    _require_finance(actor)
    raw = file.read() if hasattr(file, "read") else file
    text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in IMPORT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed(errors=[("file", _("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})])
    created, errors, held = [], [], 0
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        try:
            acc_key = row["account"]
            account = (Account.objects.filter(pk=int(acc_key)).first() if acc_key.isdigit()
                       else Account.objects.filter(name=acc_key).first())
            if account is None:
                raise ValidationFailed(errors=[("account", _("No account “%(v)s”.") % {"v": acc_key})])
            opp = None
            if row.get("opportunity"):
                opp = Opportunity.objects.filter(pk=int(row["opportunity"])).first() \
                    if row["opportunity"].isdigit() else None
                if opp is None:
                    raise ValidationFailed(errors=[("opportunity", _("No opportunity “%(v)s”.")
                                                    % {"v": row["opportunity"]})])
            try:
                amount = Decimal(row["amount"].replace(",", ""))
            except InvalidOperation:
                raise ValidationFailed(errors=[("amount", _("Not a number."))]) from None
            try:
                day = date.fromisoformat(row["invoice_date"])
            except ValueError:
                raise ValidationFailed(errors=[("invoice_date", _("Not a date (YYYY-MM-DD)."))]) from None
            inv = invoice_create(actor=actor, source=source, number=row["number"], account=account,
                                 opportunity=opp, amount=amount, currency=row.get("currency") or "CNY",
                                 invoice_date=day,
                                 source_system=row.get("source_system") or source_system or "csv")
            created.append(inv.pk)
            held += inv.status == Invoice.Status.HELD
        except ValidationFailed as exc:
            errors.append({"line": line, "number": row.get("number", ""),
                           "errors": [{"field": f, "message": str(m)} for f, m in (exc.errors or [])]
                           or [{"field": "", "message": str(exc)}]})
        except IntegrityError as exc:
            errors.append({"line": line, "number": row.get("number", ""),
                           "errors": [{"field": "", "message": str(exc)}]})
    return {"created": len(created), "held": held, "errors": errors, "ids": created, "atomic": "per row"}


def guard_scan_signed(*, actor=None, source=ChangeSource.SYSTEM) -> int:
    """Hold won deals without invoices whose customer's month total is over the threshold (deals won since
    the last scan are checked; each deal is held at most once)."""
    from baton.opportunities.models import Opportunity

    cfg = guard_config()
    if not cfg.enabled:
        return 0
    since = clock.now() - timedelta(days=62)
    n = 0
    deals = (Opportunity.objects.filter(status="won", closed_at__gte=since, account__isnull=False,
                                        invoices__isnull=True, holds__isnull=True)
             .select_related("account").order_by("closed_at", "id"))
    for deal in deals:
        month = _month(timezone.localtime(deal.closed_at).date())
        total = account_month_total(deal.account_id, month)
        if total > cfg.threshold:
            _hold(account=deal.account, amount=deal.amount or 0, month=month, total=total, cfg=cfg,
                  opportunity=deal, actor=actor, source=source)
            n += 1
    return n


def held_approve(*, held: HeldAmount, actor, source=ChangeSource.UI, note="") -> HeldAmount:
    """Finance approves: the amount is released into reports."""
    _require_finance(actor)
    if held.status != HeldAmount.Status.HELD:
        raise ValidationFailed(errors=[("status", _("This amount has already been reviewed."))])
    with transaction.atomic():
        update_object(held, actor=actor, source=source, check_scope=False,
                      data={"status": HeldAmount.Status.RELEASED, "note": note, "reviewed_by": actor,
                            "reviewed_at": clock.now()}, message="approved: released into reports")
        if held.invoice_id:
            update_object(held.invoice, actor=actor, source=source, check_scope=False,
                          data={"status": Invoice.Status.ACTIVE, "updated_at": clock.now()})
        _close_task(held, actor, source)
    return held


def held_correct(*, held: HeldAmount, actor, parts: list[dict], source=ChangeSource.UI, note="",
                 total_reason="") -> HeldAmount:
    """Finance corrects: the held amount is replaced by `parts` ([{"amount", "invoice_date", "number"?}]),
    e.g. a yearly framework agreement split into 20 orders. Each part becomes an active invoice (source system
    "correction"); the held invoice is superseded; the parts count in reports from now on.

    The parts must add up to the held amount (a split moves money between dates, it does not change it),
    unless `total_reason` says why the corrected total differs (e.g. a credit note, a wrong amount keyed in);
    the reason is kept in the correction and in the audit message."""
    _require_finance(actor)
    if held.status != HeldAmount.Status.HELD:
        raise ValidationFailed(errors=[("status", _("This amount has already been reviewed."))])
    if not parts:
        raise ValidationFailed(errors=[("parts", _("Give at least one corrected amount."))])
    clean, errors = [], []
    for i, p in enumerate(parts):
        try:
            amount = Decimal(str(p["amount"]))
            day = p["invoice_date"] if isinstance(p["invoice_date"], date) else date.fromisoformat(p["invoice_date"])
        except (KeyError, InvalidOperation, ValueError, TypeError):
            errors.append((f"parts[{i}]", _("Each part needs an amount and an invoice date (YYYY-MM-DD).")))
            continue
        if amount <= 0:
            errors.append((f"parts[{i}].amount", _("Must be more than zero.")))
        clean.append((amount, day, p.get("number")))
    if errors:
        raise ValidationFailed(errors=errors)
    total_reason = (total_reason or "").strip()
    parts_total = sum(a for a, _d, _n in clean)
    if parts_total != held.amount and not total_reason:
        raise ValidationFailed(errors=[("parts", _("The parts add up to %(sum)s, not the held %(held)s. Make "
                                                   "them add up, or give the reason for a corrected total.")
                                        % {"sum": parts_total, "held": held.amount})])
    base = held.invoice.number if held.invoice_id else f"deal-{held.opportunity_id}"
    with transaction.atomic():
        made = []
        for i, (amount, day, number) in enumerate(clean, start=1):
            inv = create_object(Invoice, actor=actor, source=source, check_scope=False, data={
                "number": number or f"{base}/{i}", "source_system": "correction", "account": held.account,
                "opportunity": held.opportunity or (held.invoice.opportunity if held.invoice_id else None),
                "amount": amount, "currency": held.invoice.currency if held.invoice_id else "CNY",
                "invoice_date": day, "created_at": clock.now(), "updated_at": clock.now()},
                message=f"correction of held amount {held.pk}")
            made.append({"id": inv.pk, "number": inv.number, "amount": str(amount), "invoice_date": day.isoformat()})
        if held.invoice_id:
            update_object(held.invoice, actor=actor, source=source, check_scope=False,
                          data={"status": Invoice.Status.SUPERSEDED, "updated_at": clock.now()})
        total = sum(a for a, _d, _n in clean)
        update_object(held, actor=actor, source=source, check_scope=False,
                      data={"status": HeldAmount.Status.CORRECTED, "note": note, "reviewed_by": actor,
                            "reviewed_at": clock.now(),
                            "correction": {"parts": made, "original": str(held.amount), "adjusted": str(total),
                                             "total_reason": total_reason}},
                      message=f"corrected: {len(made)} parts, {total}"
                              + (f" (corrected total: {total_reason})" if total_reason else ""))
        _close_task(held, actor, source)
    return held


def _close_task(held, actor, source):
    from baton.activities.services import task_update

    if held.task_id and held.task.status == "open":
        task_update(task=held.task, actor=None, source=source, status="done")



def guard_config_update(*, actor, source=ChangeSource.UI, threshold=None, enabled=None) -> GuardConfig:
    """Finance or ops change the large-contract guard's monthly threshold (and switch it on or off)."""
    _require_finance(actor)
    cfg = guard_config()
    data = {}
    if threshold is not None:
        try:
            threshold = Decimal(str(threshold))
        except InvalidOperation:
            raise ValidationFailed(errors=[("threshold", _("Not a number."))]) from None
        if threshold <= 0:
            raise ValidationFailed(errors=[("threshold", _("Must be more than zero."))])
        data["threshold"] = threshold
    if enabled is not None:
        data["enabled"] = bool(enabled)
    update_object(cfg, actor=actor, source=source, check_scope=False, data=data,
                  message="large-contract guard settings")
    return cfg


# --- Anomaly rules ------------------------------------------------------------------------------------------
def _require_ops(actor):
    if actor is not None and not (actor.is_superuser or actor.has_role("ops")):
        raise PermissionDenied()


RULE_FIELDS = ("name", "metric", "dimension", "window_days", "red_threshold", "yellow_threshold", "enabled")


def anomaly_rule_update(*, rule, actor, source=ChangeSource.UI, **data):
    """Ops tune a light: thresholds (percent change, or days for no-won), window, metric, dimension, on/off.

    Yellow is the softer threshold: it must be above zero and below red."""
    from baton.reports import metrics as M

    _require_ops(actor)
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ValidationFailed(errors=[(k, _("Unknown field.")) for k in sorted(unknown)])
    new = {f: data.get(f, getattr(rule, f)) for f in RULE_FIELDS}
    errors = []
    if rule.kind != "no_won":
        if new["metric"] not in M.metrics_for(rule.source):
            errors.append(("metric", _("Unknown metric “%(name)s” for %(source)s.")
                           % {"name": new["metric"], "source": rule.source}))
        if new["dimension"] and new["dimension"] not in M.dimensions_for(rule.source):
            errors.append(("dimension", _("Unknown dimension “%(name)s” for %(source)s.")
                           % {"name": new["dimension"], "source": rule.source}))
    try:
        red, yellow = float(new["red_threshold"]), float(new["yellow_threshold"])
        window = int(new["window_days"])
    except (TypeError, ValueError):
        raise ValidationFailed(errors=[(None, _("Thresholds and the window must be numbers."))]) from None
    if red <= 0:
        errors.append(("red_threshold", _("Must be more than zero.")))
    if yellow <= 0:
        errors.append(("yellow_threshold", _("Must be more than zero.")))
    elif yellow >= red:
        errors.append(("yellow_threshold", _("The yellow threshold must be softer (lower) than the red one.")))
    if not 1 <= window <= 90:
        errors.append(("window_days", _("Between 1 and 90 days.")))
    if errors:
        raise ValidationFailed(errors=errors)
    new.update(red_threshold=red, yellow_threshold=yellow, window_days=window)
    update_object(rule, actor=actor, source=source, check_scope=False, data=new,
                  message=f"anomaly rule {rule.key}")
    return rule


# --- Saved and shared pivots --------------------------------------------------------------------------------
REQUEST_KEYS = ("source", "dimensions", "metrics", "filters")


def clean_pivot_request(request) -> dict:
    """The pivot request as saved: source, dimensions, metrics, filters, checked by the pivot validator."""
    from baton.reports import engine

    if not isinstance(request, dict):
        raise ValidationFailed(errors=[("request", _("A pivot request is an object."))])
    extra = set(request) - set(REQUEST_KEYS) - {"engine", "chart"}
    if extra:
        raise ValidationFailed(errors=[(f"request.{k}", _("Unknown field.")) for k in sorted(extra)])
    dims, mets = request.get("dimensions") or [], request.get("metrics") or []
    if not isinstance(dims, list) or not isinstance(mets, list) or not all(
            isinstance(x, str) for x in dims + mets):
        raise ValidationFailed(errors=[("request", _("Dimensions and metrics are lists of names."))])
    out = {"source": request.get("source"), "dimensions": dims, "metrics": mets,
           "filters": request.get("filters") or None}
    try:
        engine.validate(out["source"], dims, mets, out["filters"])
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, errors=[(f"request.{f}" if f else "request", m)
                                                    for f, m in exc.errors]) from None
    if request.get("chart") in ("bar", "line", "heatmap"):
        out["chart"] = request["chart"]
    return out


def _share_target(actor, shared_with):
    from baton.reports.models import SavedPivot

    if shared_with not in SavedPivot.Share.values:
        raise ValidationFailed(errors=[("shared_with", _("Choose one of: %(v)s.")
                                        % {"v": ", ".join(SavedPivot.Share.values)})])
    team = region = None
    if shared_with == SavedPivot.Share.TEAM:
        team = actor.team
        if team is None:
            raise ValidationFailed(errors=[("shared_with", _("You are in no team to share with."))])
    if shared_with == SavedPivot.Share.REGION:
        region = actor.region
        if region is None:
            raise ValidationFailed(errors=[("shared_with", _("You are in no region to share with."))])
    return {"shared_with": shared_with, "team": team, "region": region}


def saved_pivot_create(*, actor, name, request, shared_with="private", source=ChangeSource.UI):
    """Save a pivot for `actor`; `shared_with` private / team (the owner's team) / region (the owner's
    region) / all. Whoever runs it later sees it within their own data scope."""
    from baton.reports.models import SavedPivot

    if actor is None or not actor.is_authenticated:
        raise PermissionDenied()
    data = {"owner": actor, "name": (name or "").strip(), "request": clean_pivot_request(request),
            "created_at": clock.now()} | _share_target(actor, shared_with)
    return create_object(SavedPivot, actor=actor, source=source, data=data, check_scope=False,
                         message="saved pivot")


def _require_owner(saved, actor):
    if actor is None or not (actor.is_superuser or saved.owner_id == actor.pk):
        raise PermissionDenied()


def saved_pivot_update(*, saved, actor, source=ChangeSource.UI, **data):
    """The owner renames, changes the request or the sharing of a saved pivot."""
    _require_owner(saved, actor)
    unknown = set(data) - {"name", "request", "shared_with"}
    if unknown:
        raise ValidationFailed(errors=[(k, _("Unknown field.")) for k in sorted(unknown)])
    new = {}
    if "name" in data:
        new["name"] = (data["name"] or "").strip()
    if "request" in data:
        new["request"] = clean_pivot_request(data["request"])
    if "shared_with" in data:
        new |= _share_target(saved.owner, data["shared_with"])
    update_object(saved, actor=actor, source=source, check_scope=False, data=new, message="saved pivot")
    return saved


def saved_pivot_delete(*, saved, actor, source=ChangeSource.UI):
    from baton.core.models import AuditEntry

    _require_owner(saved, actor)
    with transaction.atomic():
        record(saved, actor=actor, source=source, action=AuditEntry.Action.DELETE, changes={},
               message=f"saved pivot {saved.name}")
        saved.delete()


# --- Exports in the background ------------------------------------------------------------------------------
def export_job_create(*, actor, request: dict, format: str, rows: int = 0, source=ChangeSource.UI):
    """Queue a large export for `actor` (the file is written by a huey task under var/exports/)."""
    from baton.reports.models import ExportJob

    if actor is None or not actor.is_authenticated:
        raise PermissionDenied()
    if format not in ("csv", "xlsx", "pdf"):
        raise ValidationFailed(errors=[("format", _("Choose csv, xlsx or pdf."))])
    job = create_object(ExportJob, actor=actor, source=source, check_scope=False, message="export queued",
                        data={"requested_by": actor, "format": format, "request": clean_pivot_request(request),
                              "rows": rows, "created_at": clock.now()})
    from baton.reports.tasks import export_run

    transaction.on_commit(lambda: export_run(job.pk))
    return job


__all__ = ["analytics_refresh", "invoice_create", "invoice_import_csv", "held_approve", "held_correct",
           "guard_scan_signed", "guard_config_update", "anomaly_rule_update", "saved_pivot_create",
           "saved_pivot_update", "saved_pivot_delete", "export_job_create", "record"]
