import re
from datetime import timedelta
from email import message_from_string
from email.header import decode_header, make_header
from io import StringIO

import pytest
from django.core.management import call_command

from baton.core import clock
from baton.core.clock import parse_now as at
from baton.core.testing.factories import make_user
from baton.notifications import services
from baton.notifications.bots import mask_phones
from baton.notifications.models import Channel, Notification, OutboxMessage

from .conftest import SECRET

pytestmark = pytest.mark.django_db
T = at("2026-03-09T10:00")


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen(T):
        yield


def channel(bots, kind, **kw):
    return Channel.objects.create(name=f"{kind}-bot", kind=kind, webhook_url=bots.url(kind), **kw)


def enqueue(ch, n, *, start=0):
    for i in range(start, start + n):
        services.outbox_enqueue(channel=ch, title=f"alert {i}", text=f"lead {i}, phone 13812345678",
                                key=f"k{ch.pk}-{i}")


def test_mask_phones():
    assert mask_phones("call 13812341234 or +86 139-1234-5678, order 2026030912345") == \
        "call 138****1234 or +86 139****5678, order 2026030912345"


@pytest.mark.parametrize("kind,secret", [("wecom", ""), ("dingtalk", SECRET), ("feishu", SECRET)])
def test_each_bot_receives_its_payload_signed_and_masked(bots, kind, secret):
    ch = channel(bots, kind, secret=secret)
    enqueue(ch, 1)
    stats = services.outbox_deliver(T)
    assert stats["sent"] == 1
    [body] = bots.received[kind]
    text = {"wecom": lambda b: b["markdown"]["content"], "dingtalk": lambda b: b["markdown"]["text"],
            "feishu": lambda b: b["content"]["text"]}[kind](body)
    assert "alert 0" in text and "138****5678" in text and "13812345678" not in text
    assert OutboxMessage.objects.get().status == "sent"
    # nothing is sent twice
    assert services.outbox_deliver(T + timedelta(minutes=5))["sent"] == 0
    assert len(bots.received[kind]) == 1


def test_a_wrong_signature_is_not_counted_as_sent(bots):
    ch = channel(bots, "dingtalk", secret="not-the-secret")
    enqueue(ch, 1)
    assert services.outbox_deliver(T)["retry"] == 1
    assert OutboxMessage.objects.get().status == "pending"
    bots.errors.clear()


def test_server_error_is_retried_with_exponential_backoff(bots):
    ch = channel(bots, "wecom")
    bots.answer("wecom", 500, {"error": "internal"})
    bots.answer("wecom", 502, {"error": "bad gateway"})
    enqueue(ch, 1)
    assert services.outbox_deliver(T)["retry"] == 1
    msg = OutboxMessage.objects.get()
    assert (msg.attempts, msg.next_attempt_at) == (1, T + timedelta(seconds=30))
    assert services.outbox_deliver(T + timedelta(seconds=29))["sent"] == 0
    assert services.outbox_deliver(T + timedelta(seconds=30))["retry"] == 1
    msg.refresh_from_db()
    assert (msg.attempts, msg.next_attempt_at) == (2, T + timedelta(seconds=90))  # 30 s, then 60 s
    assert services.outbox_deliver(T + timedelta(seconds=90))["sent"] == 1
    assert len(bots.received["wecom"]) == 1


def test_dead_letter_after_max_attempts_and_retry_now(bots):
    ch = channel(bots, "feishu", secret=SECRET)
    for _i in range(services.MAX_ATTEMPTS):
        bots.answer("feishu", 500, {"code": 500})
    enqueue(ch, 1)
    now = T
    for _i in range(services.MAX_ATTEMPTS):
        services.outbox_deliver(now)
        now += timedelta(hours=2)
    msg = OutboxMessage.objects.get()
    assert msg.status == "dead" and "500" in msg.last_error
    assert services.outbox_deliver(now)["sent"] == 0
    admin = make_user(roles=("ops",))
    services.outbox_retry_now(message=msg, actor=admin)
    assert services.outbox_deliver(now + timedelta(seconds=1))["sent"] == 1
    assert len(bots.received["feishu"]) == 1


@pytest.mark.parametrize("kind,code", [("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}),
                                       ("dingtalk", {"errcode": 130101, "errmsg": "send too fast"}),
                                       ("feishu", {"code": 9499, "msg": "too many request"})])
def test_vendor_rate_limit_answer_waits_without_spending_an_attempt(bots, kind, code):
    ch = channel(bots, kind, secret=SECRET if kind != "wecom" else "")
    bots.answer(kind, 200, code)
    enqueue(ch, 1)
    assert services.outbox_deliver(T)["rate_limited"] == 1
    msg = OutboxMessage.objects.get()
    assert (msg.status, msg.attempts, msg.next_attempt_at) == ("pending", 0, T + timedelta(seconds=60))
    assert services.outbox_deliver(T + timedelta(seconds=60))["sent"] == 1


def test_http_429_is_a_rate_limit_answer(bots):
    ch = channel(bots, "feishu", secret=SECRET)
    bots.answer("feishu", 429, {"code": 11232, "msg": "frequency limited"})
    enqueue(ch, 1)
    assert services.outbox_deliver(T)["rate_limited"] == 1
    assert OutboxMessage.objects.get().attempts == 0


def _all_delivered(ch, bots, kind):
    """Every message is sent itself or inside a digest that was sent; returns the titles that reached the bot."""
    for m in OutboxMessage.objects.filter(channel=ch, dedupe_key__startswith="k"):
        assert m.status == "sent" or (m.status == "merged" and m.merged_into.status == "sent"), m
    texts = []
    for body in bots.received[kind]:
        texts.append(body["markdown"]["content"] if kind == "wecom" else body["content"]["text"])
    return "\n".join(texts)


def test_over_the_wecom_limit_messages_merge_into_a_digest(bots):
    ch = channel(bots, "wecom")
    enqueue(ch, 25)
    stats = services.outbox_deliver(T)
    assert len(bots.received["wecom"]) == 20  # 19 single messages + 1 digest: the bot's 20 per minute
    assert stats["merged"] == 6
    text = _all_delivered(ch, bots, "wecom")
    for i in range(25):
        assert re.search(rf"alert {i}\b", text), i
    # the minute is used up: new messages wait (not dropped) and go out when the window moves on
    enqueue(ch, 3, start=100)
    assert services.outbox_deliver(T + timedelta(seconds=30))["waiting"] == 3
    assert len(bots.received["wecom"]) == 20
    assert services.outbox_deliver(T + timedelta(seconds=61))["sent"] == 3
    _all_delivered(ch, bots, "wecom")


def test_feishu_five_per_second(bots):
    ch = channel(bots, "feishu", secret=SECRET)
    enqueue(ch, 12)
    services.outbox_deliver(T)
    assert len(bots.received["feishu"]) == 5
    text = _all_delivered(ch, bots, "feishu")
    assert all(f"alert {i}" in text for i in range(12))


def test_a_worker_killed_mid_delivery_loses_nothing(bots):
    ch = channel(bots, "wecom")
    enqueue(ch, 2)
    # a worker claimed both and died before finishing
    OutboxMessage.objects.update(status="sending", lease_until=T + timedelta(seconds=services.LEASE_SECONDS))
    assert services.outbox_deliver(T + timedelta(seconds=10))["sent"] == 0  # still leased to the dead worker
    stats = services.outbox_deliver(T + timedelta(seconds=services.LEASE_SECONDS + 1))
    assert (stats["requeued"], stats["sent"]) == (2, 2)
    assert len(bots.received["wecom"]) == 2


def test_email_goes_over_smtp(smtp):
    ch = Channel.objects.create(name="mail", kind="email")
    rep = make_user(email="rep@example.com")
    services.notify(users=[rep], title="线索超时", text="电话 13812345678", link="http://x/leads/1/", key="a")
    services.notify(users=[rep], title="线索超时", text="电话 13812345678", link="http://x/leads/1/", key="a")
    assert OutboxMessage.objects.filter(channel=ch).count() == 1
    assert services.outbox_deliver(T)["sent"] == 1
    [mail] = smtp.messages
    assert mail["to"] == ["rep@example.com"]
    parsed = message_from_string(mail["data"])
    assert str(make_header(decode_header(parsed["Subject"]))) == "线索超时"
    assert "http://x/leads/1/" in parsed.get_payload(decode=True).decode()


def test_smtp_down_is_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1
    ch = Channel.objects.create(name="mail", kind="email")
    services.outbox_enqueue(channel=ch, title="t", text="x", to=["a@example.com"])
    assert services.outbox_deliver(T)["retry"] == 1


def test_inbox_unread_count_and_scope_of_channels(bots):
    from baton.core.testing.factories import make_team

    team, other = make_team(), make_team()
    ours = Channel.objects.create(name="ours", kind="wecom", webhook_url=bots.url("wecom"), team=team)
    Channel.objects.create(name="theirs", kind="wecom", webhook_url=bots.url("wecom"), team=other)
    everyone = Channel.objects.create(name="all", kind="wecom", webhook_url=bots.url("wecom"))
    rep = make_user(team=team)
    services.notify(users=[rep], title="t1", text="", key="n1", team=team)
    services.notify(users=[rep], title="t2", text="", key="n2", team=team)
    assert set(OutboxMessage.objects.values_list("channel", flat=True)) == {ours.pk, everyone.pk}
    assert services.unread_count(rep) == 2
    services.notification_mark_read(user=rep, ids=[Notification.objects.filter(title="t1").get().pk])
    assert services.unread_count(rep) == 1


def test_notify_test_command(bots):
    ch = channel(bots, "dingtalk", secret=SECRET)
    out = StringIO()
    call_command("notify", "test", str(ch.pk), stdout=out)
    assert "sent" in out.getvalue()
    assert len(bots.received["dingtalk"]) == 1
    bots.answer("dingtalk", 200, {"errcode": 310000, "errmsg": "keywords not in content"})
    with pytest.raises(Exception, match="310000"):
        call_command("notify", "test", ch.name)
