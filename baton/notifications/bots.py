"""Group-bot wire formats: payloads, signatures, vendors' answers, and their published rate limits."""

import base64
import hashlib
import hmac
import re
import time
import urllib.parse
from dataclasses import dataclass

import httpx

TIMEOUT = httpx.Timeout(5.0, connect=3.0)

# (window seconds, max messages) per bot, as the vendors publish them.
RATE_LIMITS = {
    "wecom": [(60, 20)],
    "dingtalk": [(60, 20)],
    "feishu": [(1, 5), (60, 100)],
    "email": [],
}
RATE_LIMIT_CODES = {"wecom": {45009}, "dingtalk": {130101, 410100}, "feishu": {9499, 11232}}

_PHONE_RE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")


def mask_phones(text: str) -> str:
    """138 1234 5678 → 138****5678: group chats are a third party."""
    return _PHONE_RE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text or "")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _markdown(message: dict) -> str:
    text = f"**{message.get('title', '')}**\n\n{message.get('text', '')}"
    if message.get("link"):
        text += f"\n\n[{message.get('link_label') or 'Open'}]({message['link']})"
    return mask_phones(text)


def button_label(message: dict) -> str:
    """The card button's label: “处理” (the message may name its own)."""
    from django.conf import settings

    return message.get("button") or ("处理" if settings.LANGUAGE_CODE.lower().startswith("zh") else "Handle")


def dingtalk_action_card(message: dict) -> dict:
    """DingTalk actionCard: the markdown text and one button (“处理”) opening the link (the board's row)."""
    text = mask_phones(f"### {message.get('title', '')}\n\n{message.get('text', '')}")
    return {"msgtype": "actionCard",
            "actionCard": {"title": mask_phones(message.get("title", ""))[:100], "text": text,
                           "btnOrientation": "0", "singleTitle": button_label(message),
                           "singleURL": message["link"]}}


def feishu_card(message: dict) -> dict:
    """Feishu interactive card: a header, the text, and one primary button (“处理”) opening the link."""
    elements = [{"tag": "div", "text": {"tag": "lark_md", "content": mask_phones(message.get("text", ""))}}]
    if message.get("link"):
        elements.append({"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": button_label(message)},
             "type": "primary", "url": message["link"]}]})
    return {"msg_type": "interactive",
            "card": {"config": {"wide_screen_mode": True},
                     "header": {"template": "red",
                                "title": {"tag": "plain_text", "content": mask_phones(message.get("title", ""))}},
                     "elements": elements}}


def build_request(kind: str, url: str, secret: str, message: dict, *, now_s: float | None = None):
    """(url, json body) for one message to a bot. `message["format"]` picks the card variants
    (DingTalk `action_card`, Feishu `interactive`); an action card without a link falls back to markdown."""
    now_s = time.time() if now_s is None else now_s
    fmt = message.get("format") or ""
    if kind == "wecom":
        return url, {"msgtype": "markdown", "markdown": {"content": _markdown(message)}}
    if kind == "dingtalk":
        if fmt == "action_card" and message.get("link"):
            body = dingtalk_action_card(message)
        else:
            body = {"msgtype": "markdown",
                    "markdown": {"title": mask_phones(message.get("title", ""))[:100], "text": _markdown(message)}}
        if secret:
            ts = int(now_s * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={ts}&sign={urllib.parse.quote_plus(dingtalk_sign(secret, ts))}"
        return url, body
    if kind == "feishu":
        text = mask_phones(f"{message.get('title', '')}\n{message.get('text', '')}"
                           + (f"\n{message['link']}" if message.get("link") else ""))
        body = feishu_card(message) if fmt == "interactive" else {"msg_type": "text", "content": {"text": text}}
        if secret:
            ts = int(now_s)
            body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
        return url, body
    raise ValueError(kind)


@dataclass
class Outcome:
    ok: bool
    rate_limited: bool = False
    error: str = ""


def classify(kind: str, status: int, data) -> Outcome:
    """Read a bot's answer: success, a rate-limit answer (retry after the window) or an error."""
    if status == 429:
        return Outcome(False, True, "HTTP 429")
    code = None
    if isinstance(data, dict):
        code = data.get("errcode") if kind in ("wecom", "dingtalk") else data.get("code", data.get("StatusCode"))
    if code in RATE_LIMIT_CODES.get(kind, set()):
        return Outcome(False, True, f"rate limited ({code}): {data}")
    if status >= 400:
        return Outcome(False, False, f"HTTP {status}: {str(data)[:300]}")
    if code not in (0, None):
        return Outcome(False, False, f"error {code}: {str(data)[:300]}")
    return Outcome(True)


def post(kind: str, url: str, secret: str, message: dict) -> Outcome:
    url, body = build_request(kind, url, secret, message)
    try:
        response = httpx.post(url, json=body, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return Outcome(False, False, f"{type(exc).__name__}: {exc}")
    try:
        data = response.json()
    except ValueError:
        data = response.text[:300]
    return classify(kind, response.status_code, data)
