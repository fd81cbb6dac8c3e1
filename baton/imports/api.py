"""REST: POST /api/leads/import (multipart: file, mapping JSON or mapping_name, dry_run, background),
GET /api/imports/{id} (progress and counts)."""

import json

from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from baton.core.api import responses
from baton.core.errors import ValidationFailed
from baton.core.models import ChangeSource
from baton.imports import selectors, services

router = Router(tags=["imports"])


class ErrorRow(Schema):
    row: int
    column: str
    value: str
    message: str


class JobOut(Schema):
    id: int
    file_name: str
    dry_run: bool
    status: str
    total_rows: int | None
    processed: int
    accepted: int
    rejected: int
    duplicates: int
    committed: int
    percent: int
    message: str
    errors: list[ErrorRow]
    error_report_url: str | None


def job_out(job) -> dict:
    return {"id": job.pk, "file_name": job.file_name, "dry_run": job.dry_run, "status": job.status,
            "total_rows": job.total_rows, "processed": job.processed, "accepted": job.accepted,
            "rejected": job.rejected, "duplicates": job.duplicates, "committed": job.committed,
            "percent": job.percent, "message": job.message, "errors": job.error_sample or [],
            "error_report_url": f"/imports/{job.pk}/errors.csv" if job.error_report else None}


@router.post("/leads/import", response={**responses(200, JobOut), 201: JobOut, 202: JobOut},
             operation_id="leads_import",
             summary="Import leads from a CSV or XLSX file (dry run: 200; import: 201, or 202 when queued)")
def leads_import(request, file: File[UploadedFile], mapping: Form[str] = "", mapping_name: Form[str] = "",
                 dry_run: Form[bool] = False, background: Form[bool] = False):
    saved = None
    columns = options = None
    if mapping_name:
        saved = selectors.mapping_get_by_name(mapping_name)
        if saved is None:
            raise ValidationFailed(errors=[("mapping_name", _("There is no saved mapping of this name."))])
    if mapping:
        try:
            parsed = json.loads(mapping)
        except ValueError:
            raise ValidationFailed(errors=[("mapping", _("The mapping is not valid JSON."))]) from None
        if not isinstance(parsed, dict):
            raise ValidationFailed(errors=[("mapping", _("The mapping must be a JSON object."))])
        # Either {"columns": {...}, "options": {...}} or just the columns.
        if "columns" in parsed and isinstance(parsed["columns"], dict):
            columns, options = parsed["columns"], parsed.get("options") or {}
        else:
            columns, options = parsed, {}
        if saved is not None:
            columns = {**saved.columns, **columns}
            options = {**(saved.options or {}), **options}
    if columns is None and saved is None:
        raise ValidationFailed(errors=[("mapping", _("Give a mapping or the name of a saved mapping."))])
    job = services.job_create(actor=request.user, file=file, columns=columns, options=options, mapping=saved,
                              dry_run=dry_run, source=ChangeSource.API)
    job = services.job_start(job=job, background=background)
    if background and not job.finished:
        return Status(202, job_out(job))
    return Status(200 if dry_run else 201, job_out(job))


@router.get("/imports/{int:job_id}", response=responses(200, JobOut), operation_id="import_get",
            summary="An import job's progress and counts")
def import_get(request, job_id: int):
    return job_out(selectors.job_get(user=request.user, pk=job_id))
