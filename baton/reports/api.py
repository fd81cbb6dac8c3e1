"""/api/pivot (self-service pivot), /api/pivot/rows (drill-down), exports, /api/metrics, analytics sync."""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Router, Schema
from pydantic import Field

from baton.core.api import InputSchema, responses
from baton.reports import exports, selectors, services
from baton.reports import metrics as M

router = Router(tags=["reports"])
Source = Literal["opportunities", "leads", "activities"]


class PivotIn(InputSchema):
    source: Source
    dimensions: list[str] = Field(default_factory=list, max_length=8)
    metrics: list[str] = Field(..., min_length=1, max_length=20)
    filters: dict[str, Any] | None = None
    engine: Literal["auto", "duckdb", "db"] = "auto"


class PivotOut(Schema):
    rows: list[dict[str, Any]]
    lineage: dict[str, Any]


class DrillIn(InputSchema):
    source: Source
    dimensions: list[str] = Field(default_factory=list, max_length=8)
    filters: dict[str, Any] | None = None
    cell: dict[str, Any] = Field(default_factory=dict)
    limit: int = Field(200, ge=1, le=1000)


class DrillOut(Schema):
    rows: list[dict[str, Any]]
    total: int
    limit: int


class SyncStateOut(Schema):
    table: str
    watermark: datetime | None
    last_sync_at: datetime | None
    last_full_at: datetime | None
    rows: int
    changed: int
    deleted: int
    duration_ms: int
    triggered_by: str


class RefreshIn(InputSchema):
    full: bool = False


def _pivot(request, payload):
    return selectors.pivot(user=request.auth, source=payload.source, dimensions=payload.dimensions,
                           metrics=payload.metrics, filters=payload.filters, engine_name=payload.engine)


@router.post("/pivot", response=responses(200, PivotOut),
             summary="Pivot: group a source by dimensions and compute catalogue metrics, with lineage")
def pivot(request, payload: PivotIn):
    return _pivot(request, payload)


@router.post("/pivot/rows", response=responses(200, DrillOut),
             summary="Drill-down: the rows behind one pivot cell (its dimension keys, `_keys` of a row)")
def pivot_rows(request, payload: DrillIn):
    return selectors.pivot_rows(user=request.auth, source=payload.source, dimensions=payload.dimensions,
                                cell=payload.cell, filters=payload.filters, limit=payload.limit)


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class ExportJobOut(Schema):
    id: int
    format: str
    status: str
    progress: int
    rows: int
    error: str
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None


def _job(job):
    return {"id": job.pk, "format": job.format, "status": job.status, "progress": job.progress, "rows": job.rows,
            "error": job.error, "created_at": job.created_at, "finished_at": job.finished_at,
            "download_url": f"/reports/exports/{job.pk}/download/" if job.status == "done" else None}


@router.post("/pivot/export", response=responses(202, ExportJobOut),
             summary="Export a pivot as CSV, XLSX or PDF (over BATON_EXPORT_ASYNC_ROWS rows: 202 and a "
                     "background job to poll at /api/exports/{id})")
def pivot_export(request, payload: PivotIn, format: Literal["csv", "xlsx", "pdf"] = "csv"):
    result = _pivot(request, payload)
    if len(result["rows"]) > exports.async_threshold():
        job = services.export_job_create(actor=request.auth, format=format, rows=len(result["rows"]),
                                         source=ChangeSource.API,
                                         request={"source": payload.source, "dimensions": payload.dimensions,
                                                  "metrics": payload.metrics, "filters": payload.filters})
        return 202, _job(job)
    header, body = exports.table(result, payload.source, payload.dimensions, payload.metrics)
    if format == "csv":
        data = exports.to_csv(header, body)
    elif format == "xlsx":
        data = exports.to_xlsx(header, body, result["lineage"])
    else:
        title = " · ".join([str(dict(SOURCE_LABELS)[payload.source])]
                           + [M.metrics_for(payload.source)[m].label for m in payload.metrics])
        data = exports.to_pdf(header, body, result["lineage"], user=request.auth, title=title)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(data, content_type=CONTENT_TYPES[format])
    response["Content-Disposition"] = f'attachment; filename="pivot-{payload.source}-{stamp}.{format}"'
    return response


SOURCE_LABELS = [("leads", "线索 / Leads"), ("opportunities", "商机 / Deals"), ("activities", "活动 / Activities")]


@router.get("/metrics", response=responses(200, dict[str, Any]),
            summary="The metric catalogue and the dimensions, per source, with definitions")
def metric_catalogue(request):
    return selectors.catalogue()


@router.get("/analytics/sync", response=responses(200, list[SyncStateOut]),
            summary="Where the analytics store stands (per table: watermark, last sync, rows, who refreshed)")
def sync_state(request):
    return selectors.sync_states()


@router.post("/analytics/refresh", response=responses(200, list[SyncStateOut]),
             summary="Refresh the analytics store now (incremental; full rebuild: ops only)")
def refresh(request, payload: RefreshIn):
    return services.analytics_refresh(actor=request.auth, full=payload.full)


# --- Invoices (trusted revenue) and the large-contract guard --------------------------------------------------
from datetime import date  # noqa: E402
from decimal import Decimal  # noqa: E402

from ninja import File, Form  # noqa: E402
from ninja.files import UploadedFile  # noqa: E402

from baton.core.models import ChangeSource  # noqa: E402
from baton.core.selectors import get_scoped  # noqa: E402


class InvoiceIn(InputSchema):
    number: str = Field(..., min_length=1, max_length=80)
    account_id: int | None = None
    opportunity_id: int | None = None
    amount: Decimal
    currency: str = Field("CNY", min_length=3, max_length=3)
    invoice_date: date
    source_system: str = Field("api", min_length=1, max_length=60)


class InvoiceOut(Schema):
    id: int
    number: str
    source_system: str
    account_id: int
    opportunity_id: int | None
    amount: Decimal
    currency: str
    invoice_date: date
    status: str
    created_at: datetime
    updated_at: datetime


class ImportOut(Schema):
    created: int
    held: int
    atomic: str
    ids: list[int]
    errors: list[dict[str, Any]]


class HeldOut(Schema):
    id: int
    account_id: int
    invoice_id: int | None
    opportunity_id: int | None
    month: date
    amount: Decimal
    month_total: Decimal
    threshold: Decimal
    status: str
    task_id: int | None
    correction: dict[str, Any]
    note: str
    reviewed_at: datetime | None


class ApproveIn(InputSchema):
    note: str = ""


class CorrectPart(InputSchema):
    amount: Decimal
    invoice_date: date
    number: str | None = None


class CorrectIn(InputSchema):
    parts: list[CorrectPart] = Field(..., min_length=1, max_length=500)
    note: str = ""
    total_reason: str = Field("", max_length=500)


@router.post("/invoices", response=responses(201, InvoiceOut), summary="Record one invoice (finance)")
def invoice_create(request, payload: InvoiceIn):
    from baton.accounts.models import Account
    from baton.opportunities.models import Opportunity

    data = payload.dict()
    account = opp = None
    if data.pop("opportunity_id") is not None:
        opp = get_scoped(Opportunity.objects.all(), request.auth, payload.opportunity_id)
    acc_id = data.pop("account_id")
    if acc_id is not None:
        account = get_scoped(Account.objects.all(), request.auth, acc_id)
    inv = services.invoice_create(actor=request.auth, source=ChangeSource.API, account=account, opportunity=opp,
                                  **data)
    return 201, inv


@router.get("/invoices", response=responses(200, list[InvoiceOut]), summary="Invoices (scoped)")
def invoice_list(request, account_id: int | None = None, opportunity_id: int | None = None, limit: int = 200):
    qs = selectors.invoice_list(user=request.auth)
    if account_id:
        qs = qs.filter(account_id=account_id)
    if opportunity_id:
        qs = qs.filter(opportunity_id=opportunity_id)
    return list(qs[:max(1, min(limit, 1000))])


@router.post("/invoices/import", response=responses(200, ImportOut),
             summary="Import invoices from CSV (multipart `file`; each row in its own transaction, bad rows "
                     "reported by line)")
def invoice_import(request, file: File[UploadedFile], source_system: Form[str] = ""):
    return services.invoice_import_csv(actor=request.auth, file=file.read(), source_system=source_system)


@router.get("/held-amounts", response=responses(200, list[HeldOut]),
            summary="Amounts the large-contract guard holds out of reports (finance)")
def held_list(request, status: str | None = None):
    return list(selectors.held_list(user=request.auth, status=status)[:500])


@router.post("/held-amounts/{held_id}/approve", response=responses(200, HeldOut),
             summary="Finance approves a held amount: it is released into reports")
def held_approve(request, held_id: int, payload: ApproveIn):
    held = selectors.held_get(user=request.auth, pk=held_id)
    return services.held_approve(held=held, actor=request.auth, source=ChangeSource.API, note=payload.note)


@router.post("/held-amounts/{held_id}/correct", response=responses(200, HeldOut),
             summary="Finance corrects a held amount: the parts (e.g. 20 orders of a framework agreement) "
                     "replace it")
def held_correct(request, held_id: int, payload: CorrectIn):
    held = selectors.held_get(user=request.auth, pk=held_id)
    return services.held_correct(held=held, actor=request.auth, source=ChangeSource.API, note=payload.note,
                                 parts=[p.dict() for p in payload.parts], total_reason=payload.total_reason)


class LightOut(Schema):
    id: int
    rule: str
    name: str
    key: str
    label: str
    level: str
    current: float | None
    previous: float | None
    change_pct: float | None
    cause: str
    detail: dict[str, Any]
    evaluated_at: datetime


def _light(x):
    return {"id": x.pk, "rule": x.rule.key, "name": x.rule.name, "key": x.key, "label": x.label, "level": x.level,
            "current": x.current, "previous": x.previous, "change_pct": x.change_pct, "cause": x.cause,
            "detail": x.detail, "evaluated_at": x.evaluated_at}


@router.post("/anomalies/evaluate", response=responses(200, list[LightOut]),
             summary="Evaluate the anomaly lights now (managers, directors, ops)")
def anomalies_evaluate(request):
    from baton.core.errors import PermissionDenied
    from baton.reports import anomalies

    u = request.auth
    if not (u.is_superuser or u.has_role("ops") or u.has_role("director") or u.has_role("manager")):
        raise PermissionDenied()
    return [_light(x) for x in anomalies.evaluate()]


@router.get("/anomalies", response=responses(200, list[LightOut]), summary="The current anomaly lights")
def anomalies_current(request):
    from baton.reports import anomalies

    return [_light(x) for x in anomalies.current_lights()]


@router.get("/exports/{job_id}", response=responses(200, ExportJobOut),
            summary="A background export: status, progress, and the download link when done (yours only)")
def export_job(request, job_id: int):
    return _job(selectors.export_job_get(user=request.auth, pk=job_id))


# --- Saved and shared pivots ---------------------------------------------------------------------------------
Share = Literal["private", "team", "region", "all"]


class SavedPivotIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=120)
    request: dict[str, Any]
    shared_with: Share = "private"


class SavedPivotPatch(InputSchema):
    name: str | None = Field(None, min_length=1, max_length=120)
    request: dict[str, Any] | None = None
    shared_with: Share | None = None


class SavedPivotOut(Schema):
    id: int
    name: str
    owner_id: int
    owner: str
    request: dict[str, Any]
    shared_with: str
    team_id: int | None
    region_id: int | None
    mine: bool
    created_at: datetime


def _saved(x, user):
    return {"id": x.pk, "name": x.name, "owner_id": x.owner_id, "owner": str(x.owner), "request": x.request,
            "shared_with": x.shared_with, "team_id": x.team_id, "region_id": x.region_id,
            "mine": x.owner_id == user.pk, "created_at": x.created_at}


@router.get("/pivots/saved", response=responses(200, list[SavedPivotOut]),
            summary="Saved pivots that reach you: yours and those shared with your team, region or everyone")
def saved_list(request):
    return [_saved(x, request.auth) for x in selectors.saved_pivot_list(user=request.auth)]


@router.post("/pivots/saved", response=responses(201, SavedPivotOut),
             summary="Save a pivot request (validated like /api/pivot), private or shared")
def saved_create(request, payload: SavedPivotIn):
    obj = services.saved_pivot_create(actor=request.auth, source=ChangeSource.API, **payload.dict())
    return 201, _saved(obj, request.auth)


@router.get("/pivots/saved/{saved_id}", response=responses(200, SavedPivotOut), summary="One saved pivot")
def saved_get(request, saved_id: int):
    return _saved(selectors.saved_pivot_get(user=request.auth, pk=saved_id), request.auth)


@router.patch("/pivots/saved/{saved_id}", response=responses(200, SavedPivotOut),
              summary="Rename, change or re-share a saved pivot (its owner)")
def saved_update(request, saved_id: int, payload: SavedPivotPatch):
    obj = selectors.saved_pivot_get(user=request.auth, pk=saved_id)
    data = {k: v for k, v in payload.dict().items() if v is not None}
    services.saved_pivot_update(saved=obj, actor=request.auth, source=ChangeSource.API, **data)
    return _saved(obj, request.auth)


@router.delete("/pivots/saved/{saved_id}", response=responses(204, None), summary="Delete a saved pivot (owner)")
def saved_delete(request, saved_id: int):
    obj = selectors.saved_pivot_get(user=request.auth, pk=saved_id)
    services.saved_pivot_delete(saved=obj, actor=request.auth, source=ChangeSource.API)
    return 204, None
