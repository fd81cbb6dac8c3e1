"""The timeliness board (one click: transfer or record a reason), clock badges, and scheduled report runs."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.core import clock
from baton.core.errors import DomainError, NotFound

from . import selectors, services
from .models import HolidayOverride, ReportRun, ReportSchedule, SlaPolicy, Target

STATE_COLOURS = {"on_track": "green", "warning": "yellow", "breached": "red", "stopped": "secondary"}


def duration(seconds: int) -> str:
    """3 h 05 min / 2 d 4 h / 12 min."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s h %(m)02d min") % {"h": hours, "m": minutes}
    return _("%(m)s min") % {"m": minutes}


def time_text(seconds: int, state: str) -> str:
    if state == "stopped":
        return _("stopped")
    if seconds >= 0:
        return _("overdue %(t)s") % {"t": duration(seconds)}
    return _("%(t)s left") % {"t": duration(seconds)}


def state_label(state: str) -> str:
    return {"on_track": _("on track"), "warning": _("warning"), "breached": _("breached"),
            "stopped": _("stopped")}.get(state, state)


_list_cache: ContextVar[dict | None] = ContextVar("sla_list_cache", default=None)


@contextmanager
def badge_cache():
    """While a list renders, read the policies once instead of once per row."""
    token = _list_cache.set({})
    try:
        yield
    finally:
        _list_cache.reset(token)


def clock_badges(obj) -> str:
    """The item's running clocks as badges (for lists): red and “overdue …” when breached."""
    cache = _list_cache.get()
    policies = overrides = None
    if cache is not None:
        key = type(obj).__name__
        if key not in cache:
            cache[key] = list(SlaPolicy.objects.filter(active=True, target=services.target_of(obj)).order_by("name"))
            cache.setdefault("overrides", dict(HolidayOverride.objects.values_list("date", "is_workday")))
        policies, overrides = cache[key], cache["overrides"]
    clocks = [c for c in selectors.item_clocks(obj, policies=policies, overrides=overrides)
              if c["state"] != "stopped"]
    if not clocks:
        return "—"
    return format_html_join(
        " ", '<span class="badge bg-{}-lt sla-badge sla-{}" title="{}">{} · {}</span>',
        ((STATE_COLOURS[c["state"]], c["state"], c["policy"], state_label(c["state"]),
          time_text(c["seconds"], c["state"])) for c in clocks))


def _can_transfer(user) -> bool:
    return user.is_superuser or any(user.has_role(r) for r in ("manager", "director", "ops"))


def _transfer_targets(user):
    from baton.assignment.models import Pool
    from baton.core import scoping
    from baton.org.models import User

    users = User.objects.filter(is_active=True).order_by("username")
    if scoping.scope_for(user, User, "view") != scoping.ALL and not user.is_superuser:
        users = users.filter(pk__in=user.team_member_ids() | {user.pk})
    return list(users), list(Pool.objects.filter(active=True).order_by("priority", "id"))


def _safe_next(request, fallback: str) -> str:
    nxt = request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return nxt
    return fallback


def _int(value):
    return int(value) if value and str(value).isdigit() else None


@login_required
def board(request):
    from baton.assignment.services import reassign_reasons
    from baton.org.models import Team

    g = request.GET
    sort = g.get("sort") if g.get("sort") in ("overdue", "grade", "due") else "overdue"
    rows = selectors.board_rows(request.user, policy=_int(g.get("policy")), state=g.get("state") or None,
                                team=_int(g.get("team")), owner=_int(g.get("owner")), item=g.get("item") or None,
                                sort=sort)
    page = Paginator(rows, 50).get_page(g.get("page"))
    for row in page.object_list:
        row.time_text = time_text(row.seconds, row.state)
        row.url = (reverse("leads:detail", args=[row.item.pk]) if row.item_type == Target.LEADS
                   else reverse("opportunities:detail", args=[row.item.pk]))
    users, pools = _transfer_targets(request.user)
    query = g.copy()
    query.pop("page", None)
    return render(request, "sla/board.html", {
        "page": page, "rows": page.object_list, "total": len(rows), "sort": sort,
        "policies": SlaPolicy.objects.filter(active=True), "teams": Team.objects.order_by("name"),
        "owners": users, "users": users, "pools": pools, "can_transfer": _can_transfer(request.user),
        "reasons": services.sla_reason_codes(), "reassign_reasons": reassign_reasons(),
        "f": {k: g.get(k, "") for k in ("policy", "state", "team", "owner", "item")},
        "query": query.urlencode(), "next": request.get_full_path(),
    })


def _item(request, raw: str):
    from baton.core.selectors import get_scoped
    from baton.leads.selectors import lead_list
    from baton.opportunities.models import Opportunity

    item_type, _sep, pk = (raw or "").partition(":")
    if not pk.isdigit() or item_type not in (Target.LEADS, Target.OPPORTUNITIES):
        raise Http404()
    try:
        if item_type == Target.LEADS:
            return get_scoped(lead_list(user=request.user), request.user, int(pk), "view")
        return get_scoped(Opportunity.objects.all(), request.user, int(pk), "view")
    except NotFound:
        raise Http404() from None


@login_required
@require_POST
def transfer(request):
    from baton.assignment.models import Pool
    from baton.org.models import User

    item = _item(request, request.POST.get("item"))
    back = _safe_next(request, reverse("sla:board"))
    kind, _sep, pk = request.POST.get("to", "").partition(":")
    to_user = User.objects.filter(pk=pk, is_active=True).first() if kind == "user" and pk.isdigit() else None
    pool = Pool.objects.filter(pk=pk, active=True).first() if kind == "pool" and pk.isdigit() else None
    if not isinstance(item, services.spec_for(Target.LEADS).model):  # a deal: a new owner, with a reason
        if not _can_transfer(request.user):
            raise Http404()
        try:
            services.sla_transfer_opportunity(opportunity=item, actor=request.user, to_user=to_user,
                                              reason_code=request.POST.get("reason_code", ""),
                                              note=request.POST.get("note", "")[:500])
        except DomainError as exc:
            messages.error(request, "; ".join(str(m) for _f, m in exc.errors) or str(exc.message))
        else:
            messages.success(request, _("%(item)s was transferred to %(user)s.") % {"item": item, "user": to_user})
        return HttpResponseRedirect(back)
    try:
        a = services.sla_transfer(lead=item, actor=request.user, reason_code=request.POST.get("reason_code", ""),
                                  to_user=to_user, pool=pool, note=request.POST.get("note", "")[:500])
    except DomainError as exc:
        messages.error(request, "; ".join(str(m) for _f, m in exc.errors) or str(exc.message))
    else:
        messages.success(request, _("%(item)s was transferred to %(user)s.") % {"item": item, "user": a.user})
    return HttpResponseRedirect(back)


@login_required
@require_POST
def reason(request):
    item = _item(request, request.POST.get("item"))
    back = _safe_next(request, reverse("sla:board"))
    try:
        services.sla_record_reason(item=item, actor=request.user, reason_code=request.POST.get("reason_code", ""),
                                   note=request.POST.get("note", "")[:300])
    except DomainError as exc:
        messages.error(request, "; ".join(str(m) for _f, m in exc.errors) or str(exc.message))
    else:
        messages.success(request, _("The reason was recorded for %(item)s.") % {"item": item})
    return HttpResponseRedirect(back)


# --- Scheduled reports ---------------------------------------------------------------------------------------


def _may_see_reports(user) -> bool:
    return user.is_superuser or any(user.has_role(r) for r in ("manager", "director", "ops"))


@login_required
def report_runs(request):
    if not _may_see_reports(request.user):
        raise Http404()
    runs = ReportRun.objects.select_related("schedule").order_by("-slot", "-id")[:200]
    schedules = ReportSchedule.objects.prefetch_related("channels", "recipients")
    return render(request, "sla/report_runs.html", {"runs": runs, "schedules": schedules, "now": clock.now()})


@login_required
def report_run(request, pk):
    from .reports import DEFINITIONS

    if not _may_see_reports(request.user):
        raise Http404()
    run = ReportRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404()
    return render(request, "sla/report_run.html", {"run": run, "definitions": DEFINITIONS,
                                                   "local_slot": timezone.localtime(run.slot)})


@login_required
def report_excel(request, pk):
    if not _may_see_reports(request.user):
        raise Http404()
    run = ReportRun.objects.filter(pk=pk).first()
    if run is None or not run.excel:
        raise Http404()
    return FileResponse(run.excel.open("rb"), as_attachment=True, filename=run.excel.name.rsplit("/", 1)[-1])


def badge_html(state: str, text: str):
    return format_html('<span class="badge bg-{}-lt">{}</span>', STATE_COLOURS.get(state, "secondary"), text)


# --- Settings: policies, holidays, reason codes, report schedules (ops and superusers) -----------------------


def _settings_admin(request):
    from django.core.exceptions import PermissionDenied

    if not (request.user.is_superuser or request.user.has_role("ops")):
        raise PermissionDenied()


def _get(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise Http404()
    return obj


def condition_summary(condition, depth: int = 0) -> str:
    """A short reading of a condition: grade = A and (source in [web, fair])."""
    if not condition:
        return _("every item")
    if "not" in condition:
        return _("not (%(c)s)") % {"c": condition_summary(condition["not"], depth + 1)}
    for mode, word in (("all", _(" and ")), ("any", _(" or "))):
        if isinstance(condition.get(mode), list):
            text = word.join(condition_summary(c, depth + 1) for c in condition[mode]) or _("every item")
            return f"({text})" if depth and len(condition[mode]) > 1 else text
    if "field" in condition:
        value = condition.get("value")
        value = ", ".join(map(str, value)) if isinstance(value, list) else value
        return f"{condition['field']} {condition.get('op', '')} {value if value is not None else ''}".strip()
    return "…"


def _event_choices():
    from .models import EVENTS

    return {t: {"start": sorted(starts), "stop": sorted(stops)} for t, (starts, stops) in EVENTS.items()}


@login_required
def policy_list(request):
    _settings_admin(request)
    policies = list(SlaPolicy.objects.order_by("target", "name"))
    for p in policies:
        p.condition_text = condition_summary(p.condition)
        p.duration_text = duration(p.target_seconds)
    return render(request, "sla/settings/policy_list.html", {"policies": policies})


@login_required
def policy_edit(request, pk=None):
    import json

    from baton.core.views_generic import apply_domain_error
    from baton.notifications.models import Channel
    from baton.org.models import Role, User

    from .forms import PolicyForm
    from .models import ACTIONS

    _settings_admin(request)
    policy = _get(SlaPolicy, pk) if pk is not None else None
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                if policy is None:
                    policy = services.policy_create(actor=request.user, **form.service_data())
                    messages.success(request, _("%(name)s was created.") % {"name": policy})
                else:
                    services.policy_update(policy=policy, actor=request.user, **form.service_data())
                    messages.success(request, _("%(name)s was saved.") % {"name": policy})
            except DomainError as exc:
                exc.errors = [("hours" if f == "target_seconds" else f, m) for f, m in exc.errors]
                apply_domain_error(form, exc)
            else:
                return HttpResponseRedirect(reverse("sla:policy_edit", args=[policy.pk]))
    else:
        initial = PolicyForm.initial_for(policy)
        if request.GET.get("target") in Target.values and request.GET["target"] != initial["target"]:
            initial["target"] = request.GET["target"]
            initial["start_event"], initial["stop_event"] = ("created", "assigned") \
                if initial["target"] == Target.LEADS else ("stage_entered", "stage_left")
        form = PolicyForm(initial=initial)
    target = form["target"].value() or Target.LEADS

    def _load(name, default):
        try:
            return json.loads(form[name].value() or default)
        except (TypeError, ValueError):
            return json.loads(default)

    labels = {"notify_owner": _("notify the owner"), "notify_manager": _("notify the owner's manager"),
              "notify_ops": _("notify ops"), "notify_channel": _("notify group bots"),
              "return_to_pool": _("return the lead to its pool"), "manager_task": _("open a task for the manager")}
    options = {
        "actions": [[a, labels.get(a, a)] for a in sorted(ACTIONS, key=list(labels).index)],
        "roles": [[r.code, str(r)] for r in Role.objects.order_by("code")],
        "users": [[u.pk, str(u)] for u in User.objects.filter(is_active=True).order_by("username")],
        "channels": [[c.pk, f"{c.name} ({c.get_kind_display()})"] for c in Channel.objects.order_by("name")],
        "events": _event_choices(),
    }
    return render(request, "sla/settings/policy_form.html", {
        "form": form, "policy": policy, "title": policy.name if policy else _("New SLA policy"),
        "cb_input": "condition", "cb_model": "lead" if target == Target.LEADS else "opportunity",
        "cb_value_json": json.dumps(_load("condition", "{}"), ensure_ascii=False),
        "steps_json": json.dumps(_load("escalation", "[]"), ensure_ascii=False),
        "options_json": json.dumps(options, ensure_ascii=False), "target": target,
    })


@login_required
def holidays(request):
    from baton.core.views_generic import apply_domain_error

    from .forms import HolidayForm

    _settings_admin(request)
    form = HolidayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.holiday_set(actor=request.user, day=form.cleaned_data["date"],
                                 is_workday=form.cleaned_data["is_workday"], name=form.cleaned_data["name"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, _("%(d)s was saved.") % {"d": form.cleaned_data["date"]})
            return HttpResponseRedirect(reverse("sla:holidays"))
    return render(request, "sla/settings/holidays.html", {
        "form": form, "holidays": HolidayOverride.objects.order_by("-date")})


@login_required
@require_POST
def holiday_delete(request, pk):
    _settings_admin(request)
    services.holiday_delete(actor=request.user, holiday=_get(HolidayOverride, pk))
    return HttpResponseRedirect(reverse("sla:holidays"))


@login_required
def reason_list(request):
    from .models import SlaReasonCode

    _settings_admin(request)
    services.sla_reason_codes()  # the shipped ones, the first time
    return render(request, "sla/settings/reason_list.html", {"reasons": SlaReasonCode.objects.order_by("code")})


def _edit_page(request, *, form_class, obj, create, update, arg, back, title, template="sla/settings/form.html",
               extra=None):
    from baton.core.views_generic import apply_domain_error

    if request.method == "POST":
        form = form_class(request.POST, instance=obj, user=request.user)
        if form.is_valid():
            try:
                if obj is None:
                    obj = create(actor=request.user, **form.cleaned_data)
                    messages.success(request, _("%(name)s was created.") % {"name": obj})
                else:
                    update(**{arg: obj}, actor=request.user, **form.cleaned_data)
                    messages.success(request, _("%(name)s was saved.") % {"name": obj})
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                return HttpResponseRedirect(reverse(back))
    else:
        form = form_class(instance=obj, user=request.user)
    return render(request, template, {"form": form, "obj": obj, "title": title, "back": reverse(back),
                                      **(extra(form) if extra else {})})


@login_required
def reason_edit(request, pk=None):
    from .forms import ReasonCodeForm
    from .models import SlaReasonCode

    _settings_admin(request)
    obj = _get(SlaReasonCode, pk) if pk is not None else None
    return _edit_page(request, form_class=ReasonCodeForm, obj=obj, create=services.reason_code_create,
                      update=services.reason_code_update, arg="reason", back="sla:reasons",
                      title=obj.label if obj else _("New reason code"))


def _preview(cron: str, time_zone: str) -> dict:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    cron = " ".join((cron or "").split())
    if not cron or not croniter.is_valid(cron) or len(cron.split()) != 5:
        return {"preview_error": _("Not a valid cron expression (minute hour day month weekday).")}
    try:
        ZoneInfo(time_zone or "")
    except (ZoneInfoNotFoundError, ValueError):
        return {"preview_error": _("Unknown time zone.")}
    return {"preview": services.cron_preview(cron, time_zone), "preview_tz": time_zone}


@login_required
def schedule_list(request):
    _settings_admin(request)
    return render(request, "sla/settings/schedule_list.html", {
        "schedules": ReportSchedule.objects.prefetch_related("recipients", "channels").order_by("name")})


@login_required
def schedule_edit(request, pk=None):
    from .forms import ScheduleForm

    _settings_admin(request)
    obj = _get(ReportSchedule, pk) if pk is not None else None
    return _edit_page(request, form_class=ScheduleForm, obj=obj, create=services.schedule_create,
                      update=services.schedule_update, arg="schedule", back="sla:schedules",
                      title=obj.name if obj else _("New report schedule"), template="sla/settings/schedule_form.html",
                      extra=lambda form: _preview(form["cron"].value() or "", form["time_zone"].value() or ""))


@login_required
def schedule_preview(request):
    """The next three run times of the cron expression being typed (htmx)."""
    _settings_admin(request)
    return render(request, "sla/settings/partials/cron_preview.html",
                  _preview(request.GET.get("cron", ""), request.GET.get("time_zone", "")))
