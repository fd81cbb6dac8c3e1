"""Shipped saved mappings for the two public lead data sets Baton is tested against.

X Education (`Leads.csv`, online courses lead scoring) and Olist "Marketing Funnel" MQLs. Source values are
mapped into Baton's LeadSource choices; the file's own source text is kept in utm_source.
"""


def _cf(key, type_, zh, en, choices=()):
    return {"key": key, "type": type_, "label_zh": zh, "label_en": en,
            "choices": [{"value": c} for c in choices]}


X_EDUCATION = (
    "X Education leads",
    {"Prospect ID": "external_id", "Lead Source": "source"},
    {
        "source_values": {
            "Google": "advertising", "google": "advertising", "bing": "advertising",
            "Pay per Click Ads": "advertising", "Facebook": "advertising", "Social Media": "advertising",
            "youtubechannel": "advertising", "Direct Traffic": "web_form", "Organic Search": "web_form",
            "Olark Chat": "web_form", "Live Chat": "web_form", "Welingak Website": "web_form",
            "WeLearn": "web_form", "welearnblog_Home": "web_form", "blog": "web_form",
            "Reference": "referral", "Referral Sites": "referral", "Click2call": "phone",
            "Press_Release": "other", "NC_EDM": "other", "testone": "other",
        },
        "source_default": "other",
        "keep_source_in": "utm_source",
        "empty_values": ["Select"],
        "new_custom_fields": {
            "Lead Number": _cf("lead_number", "number", "线索号", "Lead number"),
            "Lead Origin": _cf("lead_origin", "choice", "线索起点", "Lead origin", [
                "API", "Landing Page Submission", "Lead Add Form", "Lead Import", "Quick Add Form"]),
            "Do Not Email": _cf("do_not_email", "bool", "不接收邮件", "Do not e-mail"),
            "Do Not Call": _cf("do_not_call", "bool", "不接电话", "Do not call"),
            "Converted": _cf("converted", "bool", "已转化", "Converted"),
            "TotalVisits": _cf("total_visits", "number", "访问次数", "Total visits"),
            "Total Time Spent on Website": _cf("time_on_website", "number", "网站停留时间（秒）",
                                               "Time on website (s)"),
            "Page Views Per Visit": _cf("page_views_per_visit", "decimal", "每次访问浏览页数",
                                        "Page views per visit"),
            "Last Activity": _cf("last_activity", "text", "最近活动", "Last activity"),
            "Country": _cf("country", "text", "国家", "Country"),
            "City": _cf("city", "text", "城市", "City"),
            "Specialization": _cf("specialization", "text", "专业方向", "Specialization"),
            "What is your current occupation": _cf("occupation", "text", "职业", "Occupation"),
            "Lead Quality": _cf("lead_quality", "text", "线索质量", "Lead quality"),
        },
    },
)

OLIST_MQL = (
    "Olist marketing-qualified leads",
    {"mql_id": "external_id", "first_contact_date": "created_at", "origin": "source"},
    {
        "source_values": {
            "social": "advertising", "paid_search": "advertising", "display": "advertising",
            "other_publicities": "advertising", "organic_search": "web_form", "direct_traffic": "web_form",
            "email": "other", "referral": "referral", "other": "other", "unknown": "other",
        },
        "source_default": "other",
        "keep_source_in": "utm_source",
        "new_custom_fields": {
            "landing_page_id": _cf("landing_page_id", "text", "落地页", "Landing page id"),
        },
    },
)

PRESETS = [X_EDUCATION, OLIST_MQL]
