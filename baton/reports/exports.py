"""Exports of any pivot: CSV (formula cells neutralised), XLSX, and a PDF report watermarked on every page."""

from __future__ import annotations

import csv
import io
from html import escape

from django.utils import timezone
from django.utils.translation import gettext as _

from baton.core import clock
from baton.reports import metrics as M

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CJK_FONTS = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", sans-serif'


def neutralise(value):
    """A cell a spreadsheet would run as a formula (= + - @, tab, CR) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def table(result: dict, source: str, dimensions, metric_names) -> tuple[list[str], list[list]]:
    """Header and body of a pivot result (labels in the active language)."""
    dims = [M.dimensions_for(source)[d] for d in dimensions]
    mets = [M.metrics_for(source)[m] for m in metric_names]
    header = [d.label for d in dims] + [m.label for m in mets]
    body = [[row.get(d.name) for d in dims] + [row.get(m.name) for m in mets] for row in result["rows"]]
    return header, body


def to_csv(header, body) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(h) for h in header])
    for row in body:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly


def to_xlsx(header, body, lineage: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = _("Pivot")[:31]
    ws.append([neutralise(h) for h in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in body:
        # Strings are written as text, never as formulas, and neutralised as in CSV for the same reason.
        ws.append([neutralise(v) for v in row])
    info = wb.create_sheet(_("Lineage")[:31])
    info.append([_("Data as of"), lineage.get("data_as_of") or ""])
    info.append([_("Engine"), lineage.get("engine") or ""])
    info.append([_("Refreshed by"), lineage.get("refreshed_by") or ""])
    for m in lineage.get("metrics", []):
        info.append([neutralise(m["label"]), neutralise(m["definition"]), ", ".join(m["sources"])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_pdf(header, body, lineage: dict, *, user, title: str) -> bytes:
    from weasyprint import HTML

    stamp = timezone.localtime(clock.now()).strftime("%Y-%m-%d %H:%M")
    watermark = f"{user.get_username()} · {stamp}"
    rows = "".join("<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in body)
    defs = "".join(f"<li><b>{escape(m['label'])}</b>: {escape(m['definition'])} "
                   f"<i>({escape(', '.join(m['sources']))})</i></li>" for m in lineage.get("metrics", []))
    html = f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 18mm 14mm;
  @bottom-center {{ content: "{escape(watermark)} · " counter(page) "/" counter(pages);
                    font-family: {CJK_FONTS}; font-size: 8pt; color: #888; }} }}
body {{ font-family: {CJK_FONTS}; font-size: 10pt; color: #222; }}
h1 {{ font-size: 16pt; margin: 0 0 4mm; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.5pt solid #bbb; padding: 2pt 4pt; text-align: left; }}
th {{ background: #eef; }}
.wm {{ position: fixed; top: 40%; left: 0; right: 0; text-align: center; transform: rotate(-30deg);
       font-size: 30pt; color: rgba(200, 0, 0, 0.18); z-index: -1; }}
.lineage {{ font-size: 8.5pt; color: #444; margin-top: 6mm; }}
</style></head><body>
<div class="wm">{escape(watermark)}</div>
<h1>{escape(title)}</h1>
<p class="lineage">{escape(_("Data as of"))}: {escape(str(lineage.get("data_as_of") or ""))} ·
{escape(_("Engine"))}: {escape(str(lineage.get("engine") or ""))} ·
{escape(_("Refreshed by"))}: {escape(str(lineage.get("refreshed_by") or ""))}</p>
<table><thead><tr>{"".join(f"<th>{escape(h)}</th>" for h in header)}</tr></thead><tbody>{rows}</tbody></table>
<ul class="lineage">{defs}</ul>
</body></html>"""
    return HTML(string=html).write_pdf()


# --- Large exports in the background ------------------------------------------------------------------------
def async_threshold() -> int:
    """Exports of more rows than this run as a background job (setting BATON_EXPORT_ASYNC_ROWS, 50,000)."""
    from django.conf import settings

    return int(getattr(settings, "BATON_EXPORT_ASYNC_ROWS", 50000))


def export_dir():
    from pathlib import Path

    from django.conf import settings

    path = Path(getattr(settings, "BATON_EXPORT_DIR", None) or Path(settings.VAR_DIR) / "exports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def title_for(source, metric_names) -> str:
    labels = {"leads": "线索 / Leads", "opportunities": "商机 / Deals", "activities": "活动 / Activities"}
    return " · ".join([labels[source]] + [M.metrics_for(source)[m].label for m in metric_names])


def render(fmt, header, body, lineage, *, user, title, progress=None) -> bytes:
    """One export file; `progress(done, total)` is called as the body is written (CSV in chunks)."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([neutralise(h) for h in header])
        step = max(1, len(body) // 20)
        for i, row in enumerate(body, start=1):
            writer.writerow(["" if v is None else neutralise(v) for v in row])
            if progress and i % step == 0:
                progress(i, len(body))
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    if fmt == "xlsx":
        return to_xlsx(header, body, lineage)
    return to_pdf(header, body, lineage, user=user, title=title)


def run_job(job_id: int) -> None:
    """Write the file of one ExportJob: run its pivot as the person who asked (their scope), save the file
    under var/exports/, and record progress on the way (the page polls it)."""
    from django.utils import translation

    from baton.reports import engine
    from baton.reports.models import ExportJob

    job = ExportJob.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
        return
    user = job.requested_by

    def save(**fields):
        ExportJob.objects.filter(pk=job.pk).update(**fields)

    save(status=ExportJob.Status.RUNNING, progress=5)
    try:
        with translation.override(getattr(user, "language", None) or "zh-hans"):
            req = job.request
            result = engine.pivot(user=user, source=req["source"], dimensions=req["dimensions"],
                                  metrics=req["metrics"], filters=req.get("filters"))
            save(progress=40, rows=len(result["rows"]))
            header, body = table(result, req["source"], req["dimensions"], req["metrics"])
            data = render(job.format, header, body, result["lineage"], user=user,
                          title=title_for(req["source"], req["metrics"]),
                          progress=lambda done, total: save(progress=40 + int(50 * done / max(total, 1))))
        name = f"export-{job.pk}-{timezone.localtime(clock.now()):%Y%m%d-%H%M%S}.{job.format}"
        path = export_dir() / name
        path.write_bytes(data)
        save(status=ExportJob.Status.DONE, progress=100, file=name, finished_at=clock.now())
    except Exception as exc:  # the job records why it failed; the page shows it
        save(status=ExportJob.Status.FAILED, error=str(exc)[:2000], finished_at=clock.now())
        raise
