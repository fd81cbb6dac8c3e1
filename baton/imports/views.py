"""The import wizard: upload → map columns (guessed, presets, new custom fields) → dry run → import."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from baton.conditions.models import CustomField
from baton.core.errors import DomainError, NotFound
from baton.imports import mapping as mp
from baton.imports import selectors, services
from baton.imports.forms import UploadForm
from baton.leads.models import LeadSource


def _job(request, pk, action="view"):
    try:
        return selectors.job_get(user=request.user, pk=pk, action=action)
    except NotFound:
        raise Http404() from None


def _errors(exc: DomainError) -> str:
    return " ".join([str(exc.message), *[str(m) for _f, m in exc.errors]])


@login_required
def index(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.job_create(actor=request.user, file=form.cleaned_data["file"],
                                      mapping=form.cleaned_data["mapping"])
            return redirect("imports:map", pk=job.pk)
        except DomainError as exc:
            form.add_error("file", _errors(exc))
    jobs = selectors.job_list(user=request.user)[:20]
    return render(request, "imports/index.html", {"form": form, "jobs": jobs})


def _preview(job):
    headers, rows = services.iter_rows(job.file.path, job.file_name)
    sample = []
    for _n, cells in rows:
        sample.append(cells)
        if len(sample) >= services.PREVIEW_ROWS:
            break
    return headers, sample


@login_required
def mapping(request, pk):
    job = _job(request, pk, "change")
    headers, sample = _preview(job)
    preset = job.mapping or services.preset_for(headers)
    proposals = services.mapping_propose(headers, sample, preset=preset)
    if request.method == "POST":
        columns, new_fields = {}, {}
        for i, p in enumerate(proposals):
            target = request.POST.get(f"target_{i}", "")
            if target == "new":
                key = request.POST.get(f"newkey_{i}") or (p.new_field or {}).get("key") or ""
                type_ = request.POST.get(f"newtype_{i}") or (p.new_field or {}).get("type") or "text"
                spec = dict(p.new_field or {"label_zh": p.header, "label_en": p.header, "choices": []})
                spec.update({"key": key, "type": type_})
                if type_ not in ("choice", "multi_choice"):
                    spec["choices"] = []
                new_fields[p.header] = spec
            else:
                columns[p.header] = target
        options = {k: v for k, v in ((preset.options or {}) if preset else {}).items() if k != "new_custom_fields"}
        options["new_custom_fields"] = new_fields
        if request.POST.get("source_default"):
            options["source_default"] = request.POST["source_default"]
        if request.POST.get("keep_source"):
            options["keep_source_in"] = "utm_source"
        dry_run = request.POST.get("action") != "import"
        try:
            if name := request.POST.get("save_as", "").strip():
                services.mapping_save(actor=request.user, name=name, columns=columns, options=options)
            services.job_configure(job=job, actor=request.user, columns=columns, options=options, dry_run=dry_run)
            services.job_start(job=job, background=True)
            return redirect("imports:job", pk=job.pk)
        except DomainError as exc:
            messages.error(request, _errors(exc))
    choices = [("", _("— ignore —"))] + [(k, str(v)) for k, v in mp.TARGETS.items()]
    choices += [(f"custom:{cf.key}", f"{_('Custom field')}: {cf.label_zh or cf.key}")
                for cf in CustomField.objects.filter(target="lead", active=True)]
    return render(request, "imports/map.html", {
        "job": job, "proposals": proposals, "choices": choices, "preset": preset,
        "types": CustomField.Type.choices, "sources": LeadSource.choices,
        "source_default": ((preset.options or {}).get("source_default") if preset else "") or "",
    })


@login_required
def job(request, pk):
    job = _job(request, pk)
    if request.method == "POST" and request.POST.get("action") == "import":
        try:
            services.job_configure(job=job, actor=request.user, columns=job.columns, options=job.options,
                                   dry_run=False)
            services.job_start(job=job, background=True)
        except DomainError as exc:
            messages.error(request, _errors(exc))
        return redirect("imports:job", pk=job.pk)
    return render(request, "imports/job.html", {"job": job})


@login_required
def progress(request, pk):
    return render(request, "imports/partials/progress.html", {"job": _job(request, pk)})


@login_required
def errors_csv(request, pk):
    job = _job(request, pk)
    if not job.error_report:
        raise Http404()
    return FileResponse(job.error_report.open("rb"), as_attachment=True, filename=f"import_{job.pk}_errors.csv",
                        content_type="text/csv")
