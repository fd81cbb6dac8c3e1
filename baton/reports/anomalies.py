"""Anomaly lights: rules compare a metric over the last window with the window before, per dimension value,
and name the likely cause they can see (the source or team whose change contributes most to the move).

Evaluated daily (huey) and on demand (`POST /api/anomalies/evaluate`, `baton anomalies --now ISO`). The
pivot runs on the database engine so a light always reads the live system of record.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from baton.core import clock
from baton.reports import engine
from baton.reports import metrics as M
from baton.reports.models import AnomalyLight, AnomalyRule

TIME_FIELD = {"leads": "created_at", "opportunities": "created_at", "activities": "occurred_at"}
VOLUME = {"leads": "lead_count", "opportunities": "deal_count", "activities": "activity_count"}
CAUSE_DIMS = ("source", "team")

DEFAULT_RULES = [
    {"key": "conversion-drop-by-region", "name": "区域 7 日线索转商机率环比下降 / 7-day conversion down by region",
     "kind": "drop", "source": "leads", "metric": "conversion_rate", "dimension": "region", "window_days": 7,
     "red_threshold": 15, "yellow_threshold": 8},
    {"key": "intake-drop-by-region", "name": "区域 7 日线索量环比下降 / 7-day intake down by region",
     "kind": "drop", "source": "leads", "metric": "lead_count", "dimension": "region", "window_days": 7,
     "red_threshold": 30, "yellow_threshold": 15},
    {"key": "no-won-deal", "name": "连续无赢单 / No won deal for days", "kind": "no_won",
     "source": "opportunities", "metric": "won_count", "dimension": "", "window_days": 3,
     "red_threshold": 3, "yellow_threshold": 2},
]


def install_defaults() -> dict:
    """Create the shipped rules that are missing (by key); edited rules are left alone."""
    created = 0
    for spec in DEFAULT_RULES:
        _obj, made = AnomalyRule.objects.get_or_create(key=spec["key"], defaults=spec)
        created += made
    return {"created": created}


def _window(source, start, end):
    f = TIME_FIELD[source]
    return {"all": [{"field": f, "op": "gte", "value": start.isoformat()},
                    {"field": f, "op": "lt", "value": end.isoformat()}]}


def _pivot(rule, dims, metrics, filters):
    return engine.pivot(user=_system_user(), source=rule.source, dimensions=dims, metrics=metrics,
                        filters=filters, engine="db")["rows"]


def _system_user():
    """Rules read the whole company (their lights go to directors); a superuser-like reader."""
    from django.contrib.auth.models import AnonymousUser

    class _All(AnonymousUser):
        is_superuser = True
        is_authenticated = True
        is_active = True
        pk = None
        region_id = None

    return _All()


def _pct(cur, prev):
    if prev in (None, 0) or cur is None:
        return None
    return round((cur - prev) / prev * 100, 2)


def _level(rule, change):
    if change is None:
        return AnomalyLight.Level.GREEN
    move = -change if rule.kind == AnomalyRule.Kind.DROP else change
    if move > rule.red_threshold:
        return AnomalyLight.Level.RED
    if move > rule.yellow_threshold:
        return AnomalyLight.Level.YELLOW
    return AnomalyLight.Level.GREEN


def _cause(rule, key, cur_f, prev_f):
    """The source or team value contributing most to the move of `rule.metric` within dimension value `key`."""
    metric = M.metrics_for(rule.source)[rule.metric]
    vol = VOLUME[rule.source]
    ratio = metric.unit == "ratio"
    best = None
    for cdim in CAUSE_DIMS:
        if cdim == rule.dimension or cdim not in M.dimensions_for(rule.source):
            continue
        dims = [rule.dimension, cdim] if rule.dimension else [cdim]
        mets = [rule.metric] if rule.metric == vol else [rule.metric, vol]
        windows = {}
        for name, f in (("cur", cur_f), ("prev", prev_f)):
            rows = [r for r in _pivot(rule, dims, mets, f)
                    if not rule.dimension or r["_keys"][rule.dimension] == key]
            windows[name] = {r["_keys"][cdim]: r for r in rows}
        tot = {w: sum(r[vol] or 0 for r in windows[w].values()) for w in windows}
        for ck in set(windows["cur"]) | set(windows["prev"]):
            c, p = windows["cur"].get(ck, {}), windows["prev"].get(ck, {})
            n_c, n_p = c.get(vol) or 0, p.get(vol) or 0
            if ratio:
                part_c = n_c * (c.get(rule.metric) or 0) / tot["cur"] if tot["cur"] else 0
                part_p = n_p * (p.get(rule.metric) or 0) / tot["prev"] if tot["prev"] else 0
            else:
                part_c, part_p = c.get(rule.metric) or 0, p.get(rule.metric) or 0
            delta = part_c - part_p
            score = -delta if rule.kind == AnomalyRule.Kind.DROP else delta
            if best is None or score > best["score"]:
                label = c.get(cdim) or p.get(cdim) or ck
                best = {"score": score, "dimension": cdim, "key": ck, "label": label,
                        "volume": [n_p, n_c], "value": [p.get(rule.metric), c.get(rule.metric)],
                        "drill": {"source": rule.source, "dimensions": dims, "filters": cur_f,
                                  "cell": ({rule.dimension: key} if rule.dimension else {}) | {cdim: ck}}}
    if best is None:
        return "", {}
    what = "source" if best["dimension"] == "source" else "team"
    name = str(best["key"]) if best["dimension"] == "source" else str(best["label"])
    if best["dimension"] == "source" and str(best["label"]) != name:
        name += f" ({best['label']})"
    best["label"] = name
    n_p, n_c = best["volume"]
    v_p, v_c = best["value"]
    if rule.metric != vol and n_p and (n_p - n_c) / n_p > 0.2 and ratio is False:
        text = f"intake dropped in {what} {best['label']} ({n_p} → {n_c})"
    elif rule.metric == vol:
        verb = "dropped" if n_c < n_p else "rose"
        text = f"intake {verb} in {what} {best['label']} ({n_p} → {n_c})"
    else:
        verb = "fell" if (v_c or 0) < (v_p or 0) else "rose"
        text = f"{what} {best['label']}'s {metric.name} {verb} ({v_p} → {v_c}; {n_p} → {n_c} {vol})"
    return text, best


def _evaluate_rule(rule, now) -> list[AnomalyLight]:
    out = []
    if rule.kind == AnomalyRule.Kind.NO_WON:
        from baton.opportunities.models import Opportunity

        last = (Opportunity.objects.filter(status="won", closed_at__lte=now).order_by("-closed_at")
                .values_list("closed_at", flat=True).first())
        days = (now - last).total_seconds() / 86400 if last else None
        level = (AnomalyLight.Level.RED if days is None or days >= rule.red_threshold else
                 AnomalyLight.Level.YELLOW if days >= rule.yellow_threshold else AnomalyLight.Level.GREEN)
        f = {"field": "closed_at", "op": "within_last", "value": f"P{int(rule.red_threshold)}D"}
        out.append(AnomalyLight(rule=rule, key="", label="", level=level, current=days, evaluated_at=now,
                                cause=(f"no won deal since {last:%Y-%m-%d %H:%M}" if last else "no won deal yet")
                                if level != "green" else "",
                                detail={"last_won_at": last.isoformat() if last else None,
                                        "drill": {"source": "opportunities", "dimensions": [], "cell": {},
                                                  "filters": f}}))
        return out
    w = timedelta(days=rule.window_days)
    cur_f, prev_f = _window(rule.source, now - w, now), _window(rule.source, now - 2 * w, now - w)
    dims = [rule.dimension] if rule.dimension else []
    cur = {tuple(r["_keys"].values()): r for r in _pivot(rule, dims, [rule.metric], cur_f)}
    prev = {tuple(r["_keys"].values()): r for r in _pivot(rule, dims, [rule.metric], prev_f)}
    for k in sorted(set(cur) | set(prev), key=lambda x: str(x)):
        c, p = cur.get(k, {}), prev.get(k, {})
        vc, vp = c.get(rule.metric), p.get(rule.metric)
        if rule.metric == VOLUME[rule.source]:
            vc, vp = vc or 0, vp or 0
        change = _pct(vc, vp)
        level = _level(rule, change)
        key = k[0] if k else ""
        cause, detail = ("", {}) if level == "green" else _cause(rule, key, cur_f, prev_f)
        detail = {"cause": {x: y for x, y in detail.items() if x != "score"}} if detail else {}
        detail["drill"] = {"source": rule.source, "dimensions": dims, "filters": cur_f,
                           "cell": {rule.dimension: key} if rule.dimension else {}}
        out.append(AnomalyLight(rule=rule, key="" if key is None else str(key),
                                label=str(c.get(rule.dimension) or p.get(rule.dimension) or "") if dims else "",
                                level=level, current=vc, previous=vp, change_pct=change, cause=cause,
                                detail=detail, evaluated_at=now))
    return out


def evaluate(now=None, *, notify=True) -> list[AnomalyLight]:
    """Evaluate every enabled rule at `now`; store the lights; push red and yellow ones to directors."""
    now = now or clock.now()
    lights = []
    with clock.frozen(now):
        for rule in AnomalyRule.objects.filter(enabled=True):
            lights += _evaluate_rule(rule, now)
    with transaction.atomic():
        AnomalyLight.objects.bulk_create(lights)
    if notify:
        _push([x for x in lights if x.level != "green"], now)
    return lights


def _push(lights, now):
    try:
        from baton.notifications.services import notify
    except ImportError:
        return
    from baton.org.models import User

    users = list(User.objects.filter(is_active=True, roles__code__in=("director", "ops")).distinct())
    for light in lights:
        title = f"[{light.level.upper()}] {light.rule.name}" + (f" · {light.label}" if light.label else "")
        text = (f"{light.previous} → {light.current} ({light.change_pct}%). " if light.change_pct is not None
                else "") + (light.cause or "")
        notify(users=users, title=title, text=text, link="/reports/anomalies/",
               key=f"anomaly:{light.rule.key}:{light.key}:{now:%Y-%m-%d}")


def current_lights():
    """The latest light per rule and dimension value."""
    latest = {}
    for light in AnomalyLight.objects.select_related("rule").order_by("-evaluated_at", "-id")[:2000]:
        latest.setdefault((light.rule_id, light.key), light)
    return list(latest.values())
