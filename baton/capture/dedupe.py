"""Pure normalisers and similarity for lead de-duplication (no database access here).

The normalised keys are stored on each lead (`phone_norm`, `email_norm`, `company_norm`) so that
duplicate lookups are indexed equality or prefix queries, never full scans.
"""

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from rapidfuzz import fuzz

DEFAULT_REGION = "CN"
DEFAULT_FUZZY_THRESHOLD = 90
BLOCK_LEN = 2  # fuzzy company matches are only looked for among leads sharing this many leading characters

# Longest first so "股份有限公司" is not left as "股份" after stripping "有限公司".
_CN_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团")
_EN_SUFFIXES = ("co ltd", "co limited", "company limited", "limited", "ltd", "inc", "corp", "corporation",
                "llc", "gmbh", "group")
# After NFKC the full-width （中国） is already the half-width (中国).
_REGION_MARKERS = ("(中国)",)
_ANY_SUFFIX = _CN_SUFFIXES + tuple(" " + s for s in _EN_SUFFIXES)
_NON_WORD = re.compile(r"[^\w]+")


@lru_cache(maxsize=1024)
def normalise_phone(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """E.164 ("+8613800138000") for anything phonenumbers can parse; else the bare digits; else "".
    Kept per process: a capture normalises the same number for its duplicate lookup and again for the row."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    raw = unicodedata.normalize("NFKC", raw)
    try:
        number = phonenumbers.parse(raw, region)
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", raw)
    return digits if len(digits) >= 5 else ""


def normalise_email(raw: str | None) -> str:
    """Lower-cased and stripped; no provider-specific tricks (dots and +tags are kept)."""
    return unicodedata.normalize("NFKC", (raw or "")).strip().lower()


def normalise_company(raw: str | None) -> str:
    """A comparison key for a company name.

    Full-width → half-width (NFKC), lower case, "(中国)" removed, legal-form suffixes
    (股份有限公司, 有限责任公司, 有限公司, 集团, Co., Ltd. …) stripped from the end, punctuation and spaces removed.
    """
    text = unicodedata.normalize("NFKC", raw or "").lower().strip()
    for marker in _REGION_MARKERS:
        text = text.replace(marker, "")
    # Latin words: punctuation to spaces, so "Co., Ltd." becomes "co ltd" and suffix words can be matched.
    text = " ".join(_NON_WORD.sub(" ", text).split())
    # A pass over the suffixes runs only while one of them ends the text (bulk imports call this per row).
    while text and text.endswith(_ANY_SUFFIX):
        before = text
        for suffix in _CN_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)].rstrip()
        for suffix in _EN_SUFFIXES:
            if text.endswith(" " + suffix):
                text = text[: -len(suffix) - 1].rstrip()
        if text == before:
            break
    # Punctuation, symbols and separators removed: only word characters and single spaces are left, and of
    # those only the spaces and "_" are in such a category (true of all of Unicode), so no per-character
    # category lookup is needed.
    return text.replace(" ", "").replace("_", "")[:200]


def blocking_key(company_norm: str) -> str:
    return company_norm[:BLOCK_LEN]


def company_similarity(a_norm: str, b_norm: str) -> float:
    """0–100; both arguments are already normalised."""
    if not a_norm or not b_norm:
        return 0.0
    return float(fuzz.ratio(a_norm, b_norm))


def is_fuzzy_match(a_norm: str, b_norm: str, threshold: int = DEFAULT_FUZZY_THRESHOLD) -> bool:
    return company_similarity(a_norm, b_norm) >= threshold


def normalised_keys(data: dict) -> dict:
    """The `*_norm` values for whichever of phone / email / company `data` carries."""
    out = {}
    if "phone" in data:
        out["phone_norm"] = normalise_phone(data["phone"])
    if "email" in data:
        out["email_norm"] = normalise_email(data["email"])
    if "company" in data:
        out["company_norm"] = normalise_company(data["company"])
    return out
