"""Pages: the fast log (phone page, works offline), the script side panel for a lead / account / deal, script
usage for ops, and the call-window heat map."""

import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from baton.accounts.models import Industry
from baton.accounts.selectors import account_list
from baton.activities.models import Activity
from baton.core import clock
from baton.core.errors import DomainError, ValidationFailed
from baton.core.views_generic import apply_domain_error
from baton.leads.selectors import lead_list
from baton.opportunities.selectors import opportunity_list
from baton.scripts import selectors, services
from baton.scripts.forms import PackForm, QuickLogForm, ScriptForm
from baton.scripts.models import Script, ScriptPack

RECORDS = {"lead": lead_list, "account": account_list, "opportunity": opportunity_list}
WEEKDAYS = [gettext_lazy("Mon"), gettext_lazy("Tue"), gettext_lazy("Wed"), gettext_lazy("Thu"), gettext_lazy("Fri"),
            gettext_lazy("Sat"), gettext_lazy("Sun")]


def _linked(request, params) -> tuple[str | None, object | None]:
    for name, selector in RECORDS.items():
        raw = params.get(name)
        if raw:
            obj = selector(user=request.user).filter(pk=raw).first() if str(raw).isdigit() else None
            if obj is None:
                raise Http404()
            return name, obj
    return None, None


def _windows_for(user, name, obj) -> dict | None:
    lead = obj if name == "lead" else getattr(obj, "lead", None) if name == "opportunity" else None
    if lead is None:
        return None
    result = selectors.lead_best_windows(lead)
    result["windows"] = [{**w, "label": f"{WEEKDAYS[w['weekday']]} {w['hour']:02d}:00–{w['hour'] + 1:02d}:00"}
                         for w in result["windows"]]
    result["open"] = user.is_newcomer()
    return result


def _context(request, form, name, obj):
    return {"form": form, "record_name": name, "record": obj, "packs": selectors.active_packs(),
            "windows": _windows_for(request.user, name, obj) if obj else None,
            "outcomes": Activity.Outcome.choices, "kinds": Activity.Kind.choices,
            "next": request.GET.get("next") or request.POST.get("next") or ""}


@login_required
def quick_log(request):
    name, obj = _linked(request, request.POST if request.method == "POST" else request.GET)
    if request.method == "POST":
        form = QuickLogForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                _activity, task, _created = services.quick_log(
                    actor=request.user, kind=d["kind"], outcome=d["outcome"], note=d["note"],
                    next_step=d["next_step"], next_step_date=d["next_step_date"], script_ids=d["script_ids"],
                    client_id=d["client_id"] or None, **({name: obj} if obj else {}))
            except ValidationFailed as e:
                for field, message in e.errors:
                    form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, _("Activity logged.") + (
                    " " + _("Next step due %(date)s.") % {"date": d["next_step_date"]} if task else ""))
                nxt = request.POST.get("next", "")
                if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}):
                    return redirect(nxt)
                return redirect(request.get_full_path())
        return render(request, "scripts/quick_log.html", _context(request, form, name, obj), status=400)
    initial = {name: obj.pk} if obj else {}
    return render(request, "scripts/quick_log.html", _context(request, QuickLogForm(initial=initial), name, obj))


@login_required
def panel(request):
    """The side panel on a lead / account / deal page: scripts with one-click insert, a compact quick log,
    and (for a lead) its best call windows."""
    name, obj = _linked(request, request.GET)
    if obj is None:
        raise Http404()
    ctx = _context(request, QuickLogForm(initial={name: obj.pk}), name, obj)
    ctx["next"] = request.GET.get("next") or ""
    return render(request, "scripts/partials/panel.html", ctx)


@login_required
def stats(request):
    try:
        days = max(1, min(366, int(request.GET.get("days", 90))))
    except ValueError:
        days = 90
    since = clock.now() - timedelta(days=days)
    return render(request, "scripts/stats.html", {"rows": selectors.script_usage(since=since), "days": days})


@login_required
def windows(request):
    industries = list(Industry.objects.order_by("name"))
    raw = request.GET.get("industry")
    industry = next((i for i in industries if str(i.pk) == raw), None)
    grid = selectors.call_grid(since=clock.now() - timedelta(days=365))
    cells = grid["industry"].get(industry.pk, {}) if industry else grid["company"]
    data = [[hour, weekday, round(c / n * 100, 1), n] for (weekday, hour), (n, c) in cells.items()]
    best = selectors.best_windows(industry_ids=[industry.pk] if industry else (), grid=grid)
    return render(request, "scripts/windows.html", {
        "industries": industries, "industry": industry, "min_calls": selectors.min_calls_per_cell(),
        "best": [{**w, "label": f"{WEEKDAYS[w['weekday']]} {w['hour']:02d}:00"} for w in best["windows"]],
        "basis": best["basis"],
        "chart": json.dumps({"data": data, "weekdays": [str(w) for w in WEEKDAYS]}, ensure_ascii=False),
    })


# --- Settings (sales ops): packs and their scripts ------------------------------------------------------------


def _ops(request):
    if not (request.user.is_superuser or request.user.has_role("ops")):
        raise PermissionDenied()


def _pack(pk) -> ScriptPack:
    pack = ScriptPack.objects.filter(pk=pk).first()
    if pack is None:
        raise Http404()
    return pack


def _script(pack, pk) -> Script:
    script = Script.objects.filter(pack=pack, pk=pk).first()
    if script is None:
        raise Http404()
    return script


@login_required
def settings_list(request):
    _ops(request)
    return render(request, "scripts/settings_list.html", {"packs": selectors.all_packs()})


@login_required
def settings_pack(request, pk=None):
    """Create a pack, or edit one: its fields, its scripts (add, edit, move up / down, delete)."""
    _ops(request)
    pack = _pack(pk) if pk is not None else None
    if request.method == "POST":
        form = PackForm(request.POST)
        if form.is_valid():
            try:
                if pack is None:
                    pack = services.pack_create(actor=request.user, **form.cleaned_data)
                else:
                    services.pack_update(pack=pack, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("%(name)s was saved.") % {"name": pack})
                return redirect("scripts:settings_pack", pk=pack.pk)
        if pack is not None:
            pack.refresh_from_db()
    elif pack is not None:
        form = PackForm(initial={"name": pack.name, "scenario": pack.scenario, "description": pack.description,
                                 "active": pack.active})
    else:
        form = PackForm()
    ctx = {"form": form, "pack": pack, "script_form": ScriptForm(),
           "scripts": list(pack.scripts.order_by("position", "id")) if pack else []}
    return render(request, "scripts/settings_pack.html", ctx, status=400 if request.method == "POST" else 200)


@login_required
def settings_script(request, pk, script_pk=None):
    """Add a script to a pack (POST without script_pk) or edit one."""
    _ops(request)
    pack = _pack(pk)
    script = _script(pack, script_pk) if script_pk is not None else None
    if request.method == "POST":
        form = ScriptForm(request.POST)
        if form.is_valid():
            try:
                if script is None:
                    services.script_create(actor=request.user, pack=pack, **form.cleaned_data)
                else:
                    services.script_update(script=script, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("Script saved."))
                return redirect("scripts:settings_pack", pk=pack.pk)
    elif script is not None:
        form = ScriptForm(initial={"title": script.title, "body": script.body})
    else:
        return redirect("scripts:settings_pack", pk=pack.pk)
    return render(request, "scripts/settings_script.html", {"form": form, "pack": pack, "script": script},
                  status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def settings_move(request, pk, script_pk):
    """Move a script one place up or down in its pack."""
    _ops(request)
    pack = _pack(pk)
    script = _script(pack, script_pk)
    ids = list(pack.scripts.order_by("position", "id").values_list("pk", flat=True))
    i = ids.index(script.pk)
    j = i - 1 if request.POST.get("direction") == "up" else i + 1
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
        services.scripts_reorder(pack=pack, actor=request.user, script_ids=ids)
    return redirect("scripts:settings_pack", pk=pack.pk)


@login_required
@require_POST
def settings_script_delete(request, pk, script_pk):
    _ops(request)
    pack = _pack(pk)
    services.script_delete(script=_script(pack, script_pk), actor=request.user)
    messages.success(request, _("Script deleted."))
    return redirect("scripts:settings_pack", pk=pack.pk)
