"""The metric catalogue: every number a report shows is one of these, with its definition beside it.

A metric belongs to one source (leads, opportunities, activities) and is built from *parts*: aggregates
with one DuckDB SQL expression (over the fact table `f` and the joins it names) and one Django ORM
expression, or quantiles (the DuckDB `quantile_cont` and the same linear interpolation in Python over the
ORM's values). `finish` turns the parts of one group into the metric's value, the same function for both
engines, so the two paths cannot round differently.

Dimensions work the same way: a DuckDB SQL key, a Django key (a lookup path or an expression), and a
label lookup applied to the keys after grouping (ids are grouped, names are looked up), so two reps with
the same name stay two rows and a renamed team shows its new name at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate, TruncMonth, TruncQuarter, TruncWeek
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from baton.core import clock

SOURCES = ("leads", "opportunities", "activities")
CONTACT_KINDS = ("call", "visit", "meeting", "email", "wechat")
SUCCESS_OUTCOMES = ("connected", "done")


# --- Parts -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Agg:
    sql: str
    orm: Callable  # () -> Django aggregate


@dataclass(frozen=True)
class Quantile:
    """A quantile of a per-row value; rows whose value is NULL do not count."""

    sql_value: str
    q: float
    orm_fields: tuple[str, ...]
    py_value: Callable  # (*field values) -> float | None


@dataclass(frozen=True)
class Metric:
    name: str
    source: str
    label_zh: str
    label_en: str
    definition_zh: str
    definition_en: str
    sources: tuple[str, ...]
    unit: str
    parts: dict
    finish: Callable
    joins: tuple[str, ...] = ()
    orm_annotations: Callable | None = None  # () -> {name: expression} the ORM parts refer to

    @property
    def label(self) -> str:
        return self.label_zh if (get_language() or "").startswith("zh") else self.label_en

    @property
    def definition(self) -> str:
        return self.definition_zh if (get_language() or "").startswith("zh") else self.definition_en

    def describe(self) -> dict:
        return {"name": self.name, "source": self.source, "label": self.label, "label_zh": self.label_zh,
                "label_en": self.label_en, "definition": self.definition, "definition_zh": self.definition_zh,
                "definition_en": self.definition_en, "sources": list(self.sources), "unit": self.unit}


def quantile_cont(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (DuckDB's `quantile_cont`, R-7)."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])


def _num(v):
    if v is None:
        return None
    return float(v) if isinstance(v, Decimal) else v


def _round(v, places):
    return None if v is None else round(float(v), places)


def _ratio(a, b, places=4):
    a, b = _num(a) or 0, _num(b) or 0
    return None if not b else round(a / b, places)


def _hours(a, b):
    return None if a is None or b is None else (a - b).total_seconds() / 3600


def _days(a, b):
    return None if a is None or b is None else (a - b).total_seconds() / 86400


# --- Metrics -----------------------------------------------------------------------------------------------
def _first_contact_outcome():
    from baton.activities.models import Activity

    return Subquery(Activity.objects.filter(lead=OuterRef("pk"), kind__in=CONTACT_KINDS)
                    .order_by("occurred_at", "id").values("outcome")[:1])


def _has_opportunity():
    from baton.opportunities.models import Opportunity

    return Exists(Opportunity.objects.filter(lead=OuterRef("pk")))


# Revenue: invoiced amounts first, signed amounts of won deals without invoices, held amounts left out.
_SIGNED_SQL = "f.status = 'won' AND inv.opportunity_id IS NULL AND hd.opportunity_id IS NULL"
_HELD_SQL = ("COALESCE(inv.n_held, 0) > 0 AND COALESCE(inv.n_active, 0) = 0 OR (f.status = 'won' AND "
             "inv.opportunity_id IS NULL AND hd.opportunity_id IS NOT NULL)")


def _signed_q():
    return Q(status="won", _inv_any=False, _held=False)


def _held_q():
    return Q(_inv_held=True, _inv_active=False) | Q(status="won", _inv_any=False, _held=True)


_BASIS_PARTS = {
    "n_invoiced": Agg("count(*) FILTER (WHERE COALESCE(inv.n_active, 0) > 0)",
                      lambda: Count("id", filter=Q(_inv_active=True))),
    "n_signed": Agg(f"count(*) FILTER (WHERE {_SIGNED_SQL})", lambda: Count("id", filter=_signed_q())),
    "n_held": Agg(f"count(*) FILTER (WHERE {_HELD_SQL})", lambda: Count("id", filter=_held_q())),
}


def _revenue_annotations():
    from django.db.models import DecimalField

    from baton.reports.models import HeldAmount, Invoice

    live = Invoice.objects.filter(opportunity=OuterRef("pk")).exclude(status="superseded")
    active = Invoice.objects.filter(opportunity=OuterRef("pk"), status="active")
    return {
        "_inv_amt": Subquery(active.order_by().values("opportunity").annotate(s=Sum("amount")).values("s")[:1],
                             output_field=DecimalField(max_digits=18, decimal_places=2)),
        "_inv_any": Exists(live),
        "_inv_active": Exists(active),
        "_inv_held": Exists(live.filter(status="held")),
        "_held": Exists(HeldAmount.objects.filter(opportunity=OuterRef("pk"), status="held")),
    }


LEAD_BASE_ZH = "（线索均按唯一编号去重：标记为重复（duplicate_of 已填）的线索不计入。）"
LEAD_BASE_EN = " (Leads are de-duplicated by unique id: a lead marked as a duplicate (duplicate_of set) is not counted.)"

_METRICS: list[Metric] = [
    Metric(
        "lead_count", "leads", "线索数", "Leads received",
        "收到的线索条数。" + LEAD_BASE_ZH,
        "Number of leads received." + LEAD_BASE_EN,
        ("leads_lead",), "count",
        {"n": Agg("count(*)", lambda: Count("id"))},
        lambda p: p["n"] or 0,
    ),
    Metric(
        "response_hours_median", "leads", "首次联系响应时长（中位数）", "Response time to first contact (median)",
        "已首次联系的线索，从创建到首次联系（first_contact_at）的小时数的中位数（线性插值）。" + LEAD_BASE_ZH,
        "Median, with linear interpolation, of the hours from a lead's creation to its first contact "
        "(first_contact_at), over leads that have been contacted." + LEAD_BASE_EN,
        ("leads_lead",), "hours",
        {"q": Quantile("(epoch(f.first_contact_at) - epoch(f.created_at)) / 3600.0", 0.5,
                       ("first_contact_at", "created_at"), _hours)},
        lambda p: _round(p["q"], 2),
    ),
    Metric(
        "response_hours_p90", "leads", "首次联系响应时长（P90）", "Response time to first contact (p90)",
        "已首次联系的线索，从创建到首次联系的小时数的第 90 百分位数（线性插值）。" + LEAD_BASE_ZH,
        "90th percentile, with linear interpolation, of the hours from a lead's creation to its first "
        "contact, over leads that have been contacted." + LEAD_BASE_EN,
        ("leads_lead",), "hours",
        {"q": Quantile("(epoch(f.first_contact_at) - epoch(f.created_at)) / 3600.0", 0.9,
                       ("first_contact_at", "created_at"), _hours)},
        lambda p: _round(p["q"], 2),
    ),
    Metric(
        "first_contact_success_rate", "leads", "首次联系成功率", "First-contact success rate",
        "有首次联系活动的线索中，首次联系活动（电话、拜访、会议、邮件、微信中发生时间最早的一条）结果为"
        "“已接通”或“已完成”的比例。" + LEAD_BASE_ZH,
        "Of the leads with a contact activity, the share whose first one (the earliest call, visit, meeting, "
        "e-mail or WeChat on the lead) has the outcome Connected or Done." + LEAD_BASE_EN,
        ("leads_lead", "activities_activity"), "ratio",
        {"ok": Agg("count(*) FILTER (WHERE fc.outcome IN ('connected', 'done'))",
                   lambda: Count("id", filter=Q(_fc_outcome__in=SUCCESS_OUTCOMES))),
         "contacted": Agg("count(fc.lead_id)", lambda: Count("id", filter=Q(_fc_outcome__isnull=False)))},
        lambda p: _ratio(p["ok"], p["contacted"]),
        joins=("fc",),
        orm_annotations=lambda: {"_fc_outcome": _first_contact_outcome()},
    ),
    Metric(
        "conversion_rate", "leads", "线索转商机率", "Lead → opportunity conversion",
        "至少关联一个商机的线索数 ÷ 线索数。" + LEAD_BASE_ZH,
        "Leads linked to at least one opportunity ÷ leads." + LEAD_BASE_EN,
        ("leads_lead", "opportunities_opportunity"), "ratio",
        {"conv": Agg("count(conv.lead_id)", lambda: Count("id", filter=Q(_has_opp=True))),
         "n": Agg("count(*)", lambda: Count("id"))},
        lambda p: _ratio(p["conv"], p["n"]),
        joins=("conv",),
        orm_annotations=lambda: {"_has_opp": _has_opportunity()},
    ),
    Metric(
        "deal_count", "opportunities", "商机数", "Deals",
        "商机条数（任何状态）。", "Number of opportunities (any status).",
        ("opportunities_opportunity",), "count",
        {"n": Agg("count(*)", lambda: Count("id"))},
        lambda p: p["n"] or 0,
    ),
    Metric(
        "won_count", "opportunities", "赢单数", "Deals won",
        "状态为“赢单”的商机条数。", "Number of opportunities with status Won.",
        ("opportunities_opportunity",), "count",
        {"won": Agg("count(*) FILTER (WHERE f.status = 'won')", lambda: Count("id", filter=Q(status="won")))},
        lambda p: p["won"] or 0,
    ),
    Metric(
        "won_amount", "opportunities", "赢单金额", "Won amount",
        "状态为“赢单”的商机的签约金额（amount）之和；尚无财务开票金额时使用签约金额。",
        "Sum of the signed amount (amount) of opportunities with status Won; the signed amount is used "
        "because no invoiced amount is recorded.",
        ("opportunities_opportunity",), "CNY",
        {"won_amount": Agg("sum(f.amount) FILTER (WHERE f.status = 'won')",
                           lambda: Sum("amount", filter=Q(status="won")))},
        lambda p: _round(p["won_amount"] or 0, 2),
    ),
    Metric(
        "revenue", "opportunities", "收入（开票优先）", "Revenue (invoiced first)",
        "每个商机：有财务开票（有效发票）时取开票金额之和；没有发票的赢单商机取签约金额（amount）。被大额合同"
        "保护暂扣、等待财务复核的金额不计入。来源明细见血缘中的 revenue_basis。",
        "Per deal: the sum of finance's invoiced amounts (active invoices) when there are any; a won deal "
        "without invoices counts its signed amount (amount). Amounts held by the large-contract guard for "
        "finance's review are left out. The lineage's revenue_basis says which was used.",
        ("opportunities_opportunity", "reports_invoice", "reports_heldamount"), "CNY",
        {**{"invoiced": Agg("sum(inv.amt)", lambda: Sum("_inv_amt")),
            "signed": Agg(f"sum(f.amount) FILTER (WHERE {_SIGNED_SQL})",
                          lambda: Sum("amount", filter=_signed_q()))},
         **{k: v for k, v in _BASIS_PARTS.items()}},
        lambda p: _round((_num(p["invoiced"]) or 0) + (_num(p["signed"]) or 0), 2),
        joins=("inv", "hd"),
        orm_annotations=lambda: _revenue_annotations(),
    ),
    Metric(
        "invoiced_amount", "opportunities", "开票金额", "Invoiced amount",
        "商机上有效发票（财务开票，未被暂扣、未被更正替换）的金额之和。",
        "Sum of the active invoices (finance's, neither held nor superseded by a correction) on the deals.",
        ("opportunities_opportunity", "reports_invoice"), "CNY",
        {"invoiced": Agg("sum(inv.amt)", lambda: Sum("_inv_amt")), **_BASIS_PARTS},
        lambda p: _round(_num(p["invoiced"]) or 0, 2),
        joins=("inv", "hd"),
        orm_annotations=lambda: _revenue_annotations(),
    ),
    Metric(
        "win_rate", "opportunities", "赢率", "Win rate",
        "赢单数 ÷（赢单数 + 输单数）。只计已关闭的商机：进行中的商机不在分母里（有的工具用全部商机做分母）。",
        "Won ÷ (Won + Lost). Only closed deals count: open deals are not in the denominator (some tools "
        "divide by all deals).",
        ("opportunities_opportunity",), "ratio",
        {"won": Agg("count(*) FILTER (WHERE f.status = 'won')", lambda: Count("id", filter=Q(status="won"))),
         "closed": Agg("count(*) FILTER (WHERE f.status IN ('won', 'lost'))",
                       lambda: Count("id", filter=Q(status__in=("won", "lost"))))},
        lambda p: _ratio(p["won"], p["closed"]),
    ),
    Metric(
        "pipeline_amount", "opportunities", "在途金额", "Pipeline amount",
        "状态为“进行中”的商机金额之和。", "Sum of the amount of open opportunities.",
        ("opportunities_opportunity",), "CNY",
        {"open_amount": Agg("sum(f.amount) FILTER (WHERE f.status = 'open')",
                            lambda: Sum("amount", filter=Q(status="open")))},
        lambda p: _round(p["open_amount"] or 0, 2),
    ),
    Metric(
        "avg_deal_size", "opportunities", "平均客单价", "Average deal size",
        "赢单金额 ÷ 赢单数。", "Won amount ÷ deals won.",
        ("opportunities_opportunity",), "CNY",
        {"won_amount": Agg("sum(f.amount) FILTER (WHERE f.status = 'won')",
                           lambda: Sum("amount", filter=Q(status="won"))),
         "won": Agg("count(*) FILTER (WHERE f.status = 'won')", lambda: Count("id", filter=Q(status="won")))},
        lambda p: _ratio(p["won_amount"], p["won"], 2),
    ),
    Metric(
        "sales_cycle_days_median", "opportunities", "销售周期（天，中位数）", "Sales cycle (days, median)",
        "赢单商机从创建（接洽）到关闭（closed_at）的天数的中位数（线性插值）。",
        "Median, with linear interpolation, of the days from a won deal's creation (engage date) to its "
        "close (closed_at).",
        ("opportunities_opportunity",), "days",
        {"q": Quantile("CASE WHEN f.status = 'won' THEN (epoch(f.closed_at) - epoch(f.created_at)) / 86400.0 END",
                       0.5, ("status", "closed_at", "created_at"),
                       lambda status, closed, created: _days(closed, created) if status == "won" else None)},
        lambda p: _round(p["q"], 2),
    ),
    Metric(
        "activity_count", "activities", "活动数", "Activities",
        "记录的活动条数（电话、拜访、会议、邮件、微信、备注）。",
        "Number of activities logged (calls, visits, meetings, e-mails, WeChat, notes).",
        ("activities_activity",), "count",
        {"n": Agg("count(*)", lambda: Count("id"))},
        lambda p: p["n"] or 0,
    ),
    Metric(
        "activities_per_rep", "activities", "人均活动数", "Activities per rep",
        "活动数 ÷ 有活动的销售人数（按活动作者去重）。",
        "Activities ÷ number of reps who logged at least one (distinct authors).",
        ("activities_activity",), "count",
        {"n": Agg("count(*)", lambda: Count("id")),
         "reps": Agg("count(DISTINCT f.author_id)", lambda: Count("author_id", distinct=True))},
        lambda p: _ratio(p["n"], p["reps"], 2),
    ),
]
METRICS: dict[tuple[str, str], Metric] = {(m.source, m.name): m for m in _METRICS}


def metrics_for(source: str) -> dict[str, Metric]:
    return {m.name: m for m in _METRICS if m.source == source}


def find_metric(name: str) -> Metric | None:
    return next((m for m in _METRICS if m.name == name), None)


# --- Dimensions --------------------------------------------------------------------------------------------
TENURE_BANDS = [("lt3m", 90, _("< 3 months")), ("3to6m", 180, _("3–6 months")), ("6to12m", 365, _("6–12 months")),
                ("1to2y", 730, _("1–2 years")), ("2yplus", None, _("2 years +"))]


@dataclass(frozen=True)
class Dimension:
    name: str
    label_zh: str
    label_en: str
    sql: str | Callable  # DuckDB key expression (callable: (today) -> sql)
    orm: str | Callable  # Django lookup path, or () -> expression
    joins: tuple[str, ...] = ()
    labels: str = ""  # how keys become labels: "user", "region", "team", "stage", "pipeline", "industry", "choice:…"
    fmt: str = ""  # ORM value formatting: "month", "week", "quarter"
    m2m: bool = False
    numeric: bool = False  # an integer key: never text, sorted by value
    definition_zh: str = ""
    definition_en: str = ""

    @property
    def label(self) -> str:
        return self.label_zh if (get_language() or "").startswith("zh") else self.label_en


def _tenure_sql(today):
    parts = []
    for code, days, _label in TENURE_BANDS:
        if days is None:
            parts.append(f"ELSE '{code}'")
        else:
            parts.append(f"WHEN u.hire_date > DATE '{(today - timedelta(days=days)).isoformat()}' THEN '{code}'")
    return "CASE WHEN u.hire_date IS NULL THEN 'unknown' " + " ".join(parts) + " END"


def _tenure_orm(owner_path):
    def build():
        today = clock.today()
        whens = [When(**{f"{owner_path}__hire_date__isnull": True}, then=Value("unknown"))]
        for code, days, _label in TENURE_BANDS:
            if days is not None:
                whens.append(When(**{f"{owner_path}__hire_date__gt": today - timedelta(days=days)},
                                  then=Value(code)))
        return Case(*whens, default=Value("2yplus"), output_field=CharField())
    return build


class WeeksBetween(Func):
    """Whole weeks from the date `earlier` to the date `later`, rounded down (day 0-6 is week 0, the day
    before is week -1); NULL when either is NULL. DuckDB: floor((later - earlier) / 7)."""

    arity = 2
    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra):
        later, later_params = compiler.compile(self.source_expressions[0])
        earlier, earlier_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "sqlite":
            days = f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
        elif connection.vendor == "postgresql":
            days = f"({later} - {earlier})"
        else:
            days = f"DATEDIFF({later}, {earlier})"
        params = (*later_params, *earlier_params)
        return f"(CASE WHEN {days} >= 0 THEN {days} / 7 ELSE -((6 - {days}) / 7) END)", params * 3


def _weeks_since_hire_orm(owner_path, time_path):
    return lambda: WeeksBetween(TruncDate(time_path, tzinfo=timezone.get_default_timezone()),
                                F(f"{owner_path}__hire_date"))


def _weeks_since_hire_dim(owner_path, day_col, time_path, what_zh, what_en):
    return Dimension(
        "weeks_since_hire", "入职第几周", "Weeks since hire",
        f"CAST(floor((f.{day_col} - u.hire_date) / 7.0) AS BIGINT)", _weeks_since_hire_orm(owner_path, time_path),
        joins=("u",), numeric=True,
        definition_zh=f"{what_zh}当天（公司时区）距负责人入职日期的整周数：入职当周为 0；无入职日期时为空。",
        definition_en=f"Whole weeks from the owner's hire date to the day the record was {what_en} (company time "
                      "zone): the first week is 0; empty when there is no hire date.")


def _trunc(kind, path):
    cls = {"month": TruncMonth, "week": TruncWeek, "quarter": TruncQuarter}[kind]
    return lambda: cls(path, output_field=DateField(), tzinfo=timezone.get_default_timezone())


def _time_sql(kind, col):
    if kind == "month":
        return f"strftime({col}, '%Y-%m')"
    if kind == "week":
        return f"strftime(date_trunc('week', {col}), '%Y-%m-%d')"
    return f"CAST(year({col}) AS VARCHAR) || '-Q' || CAST(quarter({col}) AS VARCHAR)"


def format_time_key(kind: str, d) -> str | None:
    if d is None:
        return None
    if hasattr(d, "date") and callable(d.date):
        d = timezone.localtime(d, timezone.get_default_timezone()).date()
    if kind == "month":
        return f"{d.year:04d}-{d.month:02d}"
    if kind == "week":
        return d.isoformat()
    return f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}"


def _owner_dims(owner_col: str, owner_path: str, with_region=True) -> list[Dimension]:
    dims = [
        Dimension("owner", "负责人", "Owner", f"f.{owner_col}", f"{owner_path}_id", labels="user",
                  definition_zh="记录的负责人（活动为记录人）。", definition_en="The record's owner (an activity's author)."),
        Dimension("team", "团队", "Team", "u.team_id", f"{owner_path}__team_id", joins=("u",), labels="team",
                  definition_zh="负责人当前所在团队。", definition_en="The owner's current team."),
        Dimension("manager", "经理", "Manager", "u.manager_id", f"{owner_path}__manager_id", joins=("u",),
                  labels="user", definition_zh="负责人的直属经理。", definition_en="The owner's manager."),
        Dimension("tenure_band", "司龄段", "Tenure band", _tenure_sql, _tenure_orm(owner_path), joins=("u",),
                  labels="tenure",
                  definition_zh="负责人截至今天的入职时长（按入职日期）。",
                  definition_en="The owner's time since hire date, as of today."),
    ]
    if with_region:
        dims.append(Dimension("region", "区域", "Region", "u.region_id", f"{owner_path}__region_id", joins=("u",),
                              labels="region", definition_zh="负责人（销售）所属区域。",
                              definition_en="The owning rep's region."))
    return dims


def _time_dims(col: str, path: str, prefix="", what_zh="创建", what_en="created") -> list[Dimension]:
    names = {"month": ("月", "Month"), "week": ("周", "Week"), "quarter": ("季度", "Quarter")}
    out = []
    for kind, (zh, en) in names.items():
        out.append(Dimension(f"{prefix}{kind}", f"{what_zh}{zh}", f"{en} {what_en}" if prefix else en,
                             _time_sql(kind, col), _trunc(kind, path), fmt=kind,
                             definition_zh=f"按{what_zh}时间（公司时区）。",
                             definition_en=f"By time {what_en} (company time zone); weeks start on Monday."))
    return out


def _dims() -> dict[str, dict[str, Dimension]]:
    leads = [
        *_owner_dims("owner_id", "owner", with_region=False),
        Dimension("region", "区域", "Region", "f.region_id", "region_id", labels="region",
                  definition_zh="线索所属区域。", definition_en="The lead's region."),
        Dimension("source", "来源", "Source", "f.source", "source", labels="choice:lead_source"),
        Dimension("grade", "等级", "Grade", "f.grade", "grade"),
        Dimension("status", "状态", "Status", "f.status", "status", labels="choice:lead_status"),
        Dimension("industry", "行业", "Industry", "li.industry_id", "industries", joins=("li",), labels="industry",
                  m2m=True, definition_zh="线索的行业；有多个行业的线索在每个行业下各计一次。",
                  definition_en="The lead's industries; a lead with several counts once under each."),
        *_time_dims("f.created_day", "created_at"),
        _weeks_since_hire_dim("owner", "created_day", "created_at", "线索创建", "created"),
    ]
    opportunities = [
        *_owner_dims("owner_id", "owner"),
        Dimension("stage", "阶段", "Stage", "f.stage_id", "stage_id", labels="stage"),
        Dimension("pipeline", "销售流程", "Pipeline", "f.pipeline_id", "pipeline_id", labels="pipeline"),
        Dimension("status", "状态", "Status", "f.status", "status", labels="choice:opportunity_status"),
        Dimension("product", "产品", "Product", "f.product", lambda: KeyTextTransform("product", "custom_fields"),
                  definition_zh="商机的产品（自定义字段 product）。",
                  definition_en="The deal's product (custom field product)."),
        Dimension("source", "来源", "Source", "l.source", "lead__source", joins=("l",), labels="choice:lead_source",
                  definition_zh="商机来源线索的来源。", definition_en="The source of the lead the deal came from."),
        Dimension("grade", "等级", "Grade", "l.grade", "lead__grade", joins=("l",),
                  definition_zh="商机来源线索的等级。", definition_en="The grade of the lead the deal came from."),
        *_time_dims("f.created_day", "created_at"),
        *_time_dims("f.closed_day", "closed_at", prefix="close_", what_zh="关闭", what_en="closed"),
        _weeks_since_hire_dim("owner", "created_day", "created_at", "商机创建", "created"),
    ]
    activities = [
        *_owner_dims("author_id", "author"),
        Dimension("kind", "类型", "Kind", "f.kind", "kind", labels="choice:activity_kind"),
        Dimension("outcome", "结果", "Outcome", "f.outcome", "outcome", labels="choice:activity_outcome"),
        *_time_dims("f.occurred_day", "occurred_at", what_zh="发生", what_en="occurred"),
        _weeks_since_hire_dim("author", "occurred_day", "occurred_at", "活动发生", "occurred"),
    ]
    return {"leads": {d.name: d for d in leads}, "opportunities": {d.name: d for d in opportunities},
            "activities": {d.name: d for d in activities}}


DIMENSIONS = _dims()


def dimensions_for(source: str) -> dict[str, Dimension]:
    return DIMENSIONS[source]


@dataclass
class SourceDef:
    name: str
    fact: str
    model_label: str
    owner_col: str
    owner_path: str
    region_col: str | None  # the fact column holding the region scope path (lead region, account region)
    tables: tuple[str, ...] = field(default=())

    @property
    def model(self):
        from django.apps import apps

        return apps.get_model(self.model_label)

    def base_queryset(self):
        qs = self.model._default_manager.all()
        if self.name == "leads":
            qs = qs.filter(duplicate_of__isnull=True)
        return qs

    @property
    def base_sql(self) -> str:
        return "f.duplicate_of_id IS NULL" if self.name == "leads" else "TRUE"


SOURCE_DEFS = {
    "leads": SourceDef("leads", "leads_fact", "leads.lead", "owner_id", "owner", "region_id",
                       ("leads_fact", "activities_fact", "opportunities_fact")),
    "opportunities": SourceDef("opportunities", "opportunities_fact", "opportunities.opportunity", "owner_id",
                               "owner", "account_region_id", ("opportunities_fact", "leads_fact")),
    "activities": SourceDef("activities", "activities_fact", "activities.activity", "author_id", "author", None,
                            ("activities_fact",)),
}

# DuckDB joins a dimension or metric may ask for (alias -> clause).
JOINS = {
    "u": "LEFT JOIN users_dim u ON u.id = f.{owner_col}",
    "l": "LEFT JOIN leads_fact l ON l.id = f.lead_id",
    "li": "LEFT JOIN lead_industries li ON li.lead_id = f.id",
    "fc": "LEFT JOIN lead_first_contact fc ON fc.lead_id = f.id",
    "conv": "LEFT JOIN (SELECT DISTINCT lead_id FROM opportunities_fact WHERE lead_id IS NOT NULL) conv "
            "ON conv.lead_id = f.id",
    "s": "LEFT JOIN stages_dim s ON s.id = f.stage_id",
    "ur": "LEFT JOIN regions_dim ur ON ur.id = u.region_id",
    "lr": "LEFT JOIN regions_dim lr ON lr.id = f.region_id",
    "inv": "LEFT JOIN (SELECT opportunity_id, sum(amount) FILTER (WHERE status = 'active') AS amt, "
           "count(*) FILTER (WHERE status = 'active') AS n_active, count(*) FILTER (WHERE status = 'held') "
           "AS n_held FROM invoices_dim WHERE opportunity_id IS NOT NULL AND status <> 'superseded' "
           "GROUP BY opportunity_id) inv ON inv.opportunity_id = f.id",
    "hd": "LEFT JOIN held_deals_dim hd ON hd.opportunity_id = f.id",
}
JOIN_DEPENDS = {"ur": ("u",)}


# --- Condition fields for activities (the condition language has no activity fields of its own) ----------
def register_condition_fields():
    from baton.conditions import registry

    def load():
        from baton.activities.models import Activity

        registry.register_field(Activity, "kind", "choice", "类型", "Kind", nullable=False,
                                choices=registry._choices_of(Activity.Kind))
        registry.register_field(Activity, "outcome", "choice", "结果", "Outcome", nullable=False,
                                choices=registry._choices_of(Activity.Outcome))
        registry.register_field(Activity, "occurred_at", "datetime", "发生时间", "Occurred at", nullable=False)
        registry.register_field(Activity, "author", "ref", "记录人", "Author", path="author_id", nullable=False,
                                extra={"ref": "org.user"})
        registry.register_field(Activity, "author.team", "ref", "记录人团队", "Author's team",
                                path="author__team_id", extra={"ref": "org.team"})
        registry.register_field(Activity, "author.region", "choice", "记录人区域", "Author's region",
                                path="author__region__code", choices=registry._values("org.region", "code"))
        registry.register_field(Activity, "author.hire_date", "date", "记录人入职日期", "Author's hire date",
                                path="author__hire_date")
        for model in ("leads.lead", "opportunities.opportunity"):
            registry.register_field(model, "owner.hire_date", "date", "负责人入职日期", "Owner's hire date",
                                    path="owner__hire_date")

    registry._load_builtins()
    load()


__all__ = ["METRICS", "DIMENSIONS", "SOURCE_DEFS", "Metric", "Dimension", "Agg", "Quantile", "F"]
