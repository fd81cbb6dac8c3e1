"""A real HTTP server on loopback that behaves like the WeCom, DingTalk and Feishu group bots, and a real SMTP
server (aiosmtpd). Tests talk to them over sockets exactly as production talks to the vendors."""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SECRET = "SECtest-secret-123"
OK = {"wecom": {"errcode": 0, "errmsg": "ok"}, "dingtalk": {"errcode": 0, "errmsg": "ok"},
      "feishu": {"code": 0, "msg": "success", "data": {}}}


class BotServer:
    def __init__(self):
        self.received = {"wecom": [], "dingtalk": [], "feishu": []}
        self.errors = []
        self.script = {"wecom": [], "dingtalk": [], "feishu": []}  # queued (status, body) answers
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, kind):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{kind}"

    def answer(self, kind, status, body):
        self.script[kind].append((status, body))

    def _check(self, kind, query, body):
        if kind == "wecom":
            assert body["msgtype"] == "markdown" and isinstance(body["markdown"]["content"], str)
        elif kind == "dingtalk":
            assert body["msgtype"] in ("markdown", "actionCard")
            if body["msgtype"] == "markdown":
                assert body["markdown"]["title"] and body["markdown"]["text"]
            else:  # one button: title, text, singleTitle, singleURL (an http(s) link)
                card = body["actionCard"]
                assert card["title"] and card["text"] and card["singleTitle"]
                assert card["singleURL"].startswith(("http://", "https://"))
            ts = query["timestamp"][0]
            assert abs(int(ts) / 1000 - time.time()) < 3600
            expected = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(),
                                                 hashlib.sha256).digest()).decode()
            assert query["sign"][0] == expected, "bad DingTalk signature"
        elif kind == "feishu":
            assert body["msg_type"] in ("text", "interactive")
            if body["msg_type"] == "text":
                assert isinstance(body["content"]["text"], str)
            else:  # a card: plain-text header, elements; buttons carry a text and an http(s) url
                card = body["card"]
                assert card["header"]["title"]["tag"] == "plain_text" and card["header"]["title"]["content"]
                assert card["elements"] and all("tag" in e for e in card["elements"])
                for element in card["elements"]:
                    for button in element.get("actions", []):
                        assert button["tag"] == "button" and button["text"]["content"]
                        assert button["url"].startswith(("http://", "https://"))
            ts = body["timestamp"]
            assert abs(int(ts) - time.time()) < 3600
            expected = base64.b64encode(hmac.new(f"{ts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
            assert body["sign"] == expected, "bad Feishu signature"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                parsed = urllib.parse.urlparse(self.path)
                kind = parsed.path.strip("/")
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                    server._check(kind, urllib.parse.parse_qs(parsed.query), body)
                except (AssertionError, KeyError, ValueError) as exc:
                    server.errors.append(f"{kind}: {exc!r}")
                    self._reply(400, {"errcode": 40001, "code": 19021, "msg": "bad request"})
                    return
                with server.lock:
                    status, answer = server.script[kind].pop(0) if server.script[kind] else (200, OK[kind])
                    if status == 200 and answer == OK[kind]:
                        server.received[kind].append(body)
                self._reply(status, answer)

            def _reply(self, status, answer):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def bots():
    server = BotServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    assert not server.errors, server.errors


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "data": envelope.content.decode("utf8", errors="replace")})
            return "250 Message accepted for delivery"

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()
