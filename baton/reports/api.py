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


@router.post("/pivot/export", summary="Export a pivot as CSV, XLSX or PDF")
def pivot_export(request, payload: PivotIn, format: Literal["csv", "xlsx", "pdf"] = "csv"):
    result = _pivot(request, payload)
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
