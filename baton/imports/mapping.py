"""Column mapping: guess targets from Chinese and English headers, guess custom field types from values.

Pure functions (no database), so the wizard, the API and the tests share them.
"""

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

IGNORE = ""
CUSTOM_PREFIX = "custom:"

# Lead fields a column may fill, with their labels (the wizard's select lists these).
TARGETS = {
    "external_id": _("External id"),
    "company": _("Company"),
    "contact_name": _("Contact name"),
    "phone": _("Phone"),
    "email": _("E-mail"),
    "source": _("Source"),
    "budget": _("Budget (CNY)"),
    "industries": _("Industries"),
    "region": _("Region"),
    "notes": _("Notes"),
    "created_at": _("Created at"),
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
}

# Normalised header (see `_norm`) -> target. Checked exactly first, then as a substring (longest first).
SYNONYMS = {
    "external_id": ["外部编号", "外部id", "编号", "线索编号", "externalid", "id", "leadid", "prospectid", "leadnumber",
                    "mqlid"],
    "company": ["公司", "公司名称", "企业", "企业名称", "单位", "单位名称", "客户名称", "company", "companyname",
                "organisation", "organization", "account", "accountname"],
    "contact_name": ["联系人", "姓名", "名字", "联系人姓名", "客户姓名", "name", "contact", "contactname", "fullname",
                     "person"],
    "phone": ["电话", "手机", "手机号", "手机号码", "电话号码", "联系电话", "联系方式", "phone", "mobile", "tel",
              "telephone", "phonenumber", "cell"],
    "email": ["邮箱", "电子邮件", "邮件", "电子邮箱", "email", "e-mail", "mail", "emailaddress"],
    "source": ["来源", "线索来源", "渠道", "来源渠道", "source", "leadsource", "channel", "origin"],
    "budget": ["预算", "预算金额", "budget", "amount", "金额"],
    "industries": ["行业", "所属行业", "industry", "industries", "sector"],
    "region": ["地区", "区域", "城市", "省份", "大区", "city", "region", "area", "province"],
    "notes": ["备注", "说明", "描述", "notes", "note", "remark", "remarks", "comment", "comments", "description"],
    "created_at": ["创建时间", "创建日期", "日期", "createdat", "created", "createdate", "date"],
    "utm_source": ["utmsource"], "utm_medium": ["utmmedium"], "utm_campaign": ["utmcampaign"],
    "utm_term": ["utmterm"], "utm_content": ["utmcontent"],
}
_EXACT = {syn.replace("-", ""): target for target, syns in SYNONYMS.items() for syn in syns}
# Substring matches only for words long enough not to match by accident ("id" in "paid" must not count).
_CONTAINS = sorted(((s.replace("-", ""), t) for s, t in _EXACT.items() if len(s) >= 2 and not s.isascii()
                    or len(s) >= 5), key=lambda st: -len(st[0]))


def _norm(header: str) -> str:
    text = unicodedata.normalize("NFKC", header or "").strip().lower()
    return re.sub(r"[\s_\-./:()（）:：]+", "", text)


def guess_target(header: str) -> str:
    """The Lead field `header` most likely holds, or "" when nothing fits."""
    key = _norm(header)
    if not key:
        return IGNORE
    if key in _EXACT:
        return _EXACT[key]
    for syn, target in _CONTAINS:
        if syn in key:
            return target
    return IGNORE


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{header: target}; a target is used once (the first header claiming it wins), others are left ""."""
    out, used = {}, set()
    for header in headers:
        target = guess_target(header)
        if target and target in used:
            target = IGNORE
        if target:
            used.add(target)
        out[header] = target
    return out


# --- Custom fields from unknown columns ----------------------------------------------------------------

BOOL_TRUE = {"yes", "y", "true", "t", "1", "是", "有", "对"}
BOOL_FALSE = {"no", "n", "false", "f", "0", "否", "无", "不"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                     "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")
MAX_CHOICES = 20


def parse_bool(value: str):
    low = value.strip().lower()
    if low in BOOL_TRUE:
        return True
    if low in BOOL_FALSE:
        return False
    return None


def parse_date(value: str):
    value = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def parse_datetime_naive(value: str):
    value = value.strip()
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def parse_decimal(value: str):
    text = unicodedata.normalize("NFKC", value).strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def guess_type(values: list[str]) -> tuple[str, list[str]]:
    """(type, choices) for a column from sample values: bool, number, decimal, date, datetime, choice or text."""
    vals = [v.strip() for v in values if v is not None and v.strip() != ""]
    if not vals:
        return "text", []
    lowered = {v.lower() for v in vals}
    if lowered <= (BOOL_TRUE | BOOL_FALSE) and len(lowered) <= 2 and not lowered <= {"0", "1"}:
        return "bool", []
    numbers = [parse_decimal(v) for v in vals]
    if all(n is not None for n in numbers):
        if all(n == n.to_integral_value() and "." not in v for n, v in zip(numbers, vals, strict=True)):
            return "number", []
        return "decimal", []
    if all(parse_date(v) for v in vals):
        return "date", []
    if all(parse_datetime_naive(v) or parse_date(v) for v in vals):
        return "datetime", []
    distinct = sorted(set(vals))
    if len(distinct) <= MAX_CHOICES and len(vals) >= 2 * len(distinct) and all(len(v) <= 100 for v in distinct):
        return "choice", distinct
    return "text", []


def key_for(header: str, taken: set[str]) -> str:
    """A custom field key ([a-z][a-z0-9_]{0,39}) made from a header, unique among `taken`."""
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not key or not key[0].isalpha():
        key = "f_" + key if key else "field"
    key = key[:36].rstrip("_")
    candidate, n = key, 2
    while candidate in taken:
        candidate = f"{key[:36]}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_date(str(value))
