"""Settings pages for notification channels (ops only), card message formats, and dead letters."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from baton.core import clock
from baton.core.clock import parse_now as at
from baton.core.models import AuditEntry
from baton.core.testing.factories import make_team, make_user
from baton.notifications import services
from baton.notifications.models import Channel, OutboxMessage

from .conftest import SECRET

pytestmark = pytest.mark.django_db
T = at("2026-03-09T10:00")


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen(T):
        yield


@pytest.fixture
def ops(client):
    user = make_user(roles=("ops",), language="en")
    client.force_login(user)
    return user


def audits(obj):
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)


def test_a_rep_may_not_see_or_change_channels(client):
    rep = make_user(language="en")
    ch = Channel.objects.create(name="bot", kind="wecom", webhook_url="http://127.0.0.1:9/wecom")
    dead = OutboxMessage.objects.create(channel=ch, payload={"title": "x"}, status="dead", dedupe_key="d1")
    client.force_login(rep)
    for url in (reverse("notifications:channels"), reverse("notifications:channel_create"),
                reverse("notifications:channel_edit", args=[ch.pk]), reverse("notifications:dead_letters")):
        assert client.get(url).status_code == 403
    assert client.post(reverse("notifications:channel_create"),
                       {"name": "x", "kind": "wecom", "webhook_url": "http://x/"}).status_code == 403
    assert client.post(reverse("notifications:dead_letter_retry", args=[dead.pk])).status_code == 403
    assert client.post(reverse("notifications:dead_letter_retry_all")).status_code == 403
    assert client.post(reverse("notifications:channel_test", args=[ch.pk])).status_code == 403
    dead.refresh_from_db()
    assert dead.status == "dead" and Channel.objects.count() == 1


def test_ops_creates_and_edits_a_channel_audited_secret_kept_when_blank(client, ops):
    team = make_team()
    r = client.post(reverse("notifications:channel_create"), {
        "name": "销售一组钉钉群", "kind": "dingtalk", "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=t",
        "secret": SECRET, "message_format": "action_card", "team": team.pk, "active": "on"})
    assert r.status_code == 302
    ch = Channel.objects.get(name="销售一组钉钉群")
    assert (ch.kind, ch.secret, ch.message_format, ch.team, ch.active) == ("dingtalk", SECRET, "action_card", team,
                                                                          True)
    assert audits(ch).filter(action="create", actor=ops).exists()
    page = client.get(reverse("notifications:channels")).content.decode()
    assert "销售一组钉钉群" in page and team.name in page
    assert SECRET not in client.get(reverse("notifications:channel_edit", args=[ch.pk])).content.decode()
    # blank secret keeps it; a new format is saved and audited
    r = client.post(reverse("notifications:channel_edit", args=[ch.pk]), {
        "name": ch.name, "kind": "dingtalk", "webhook_url": ch.webhook_url, "secret": "", "message_format": "markdown",
        "team": team.pk, "active": "on"})
    assert r.status_code == 302
    ch.refresh_from_db()
    assert (ch.secret, ch.message_format) == (SECRET, "markdown")
    assert audits(ch).filter(action="update", changes__has_key="message_format").exists()
    # clearing it on purpose
    client.post(reverse("notifications:channel_edit", args=[ch.pk]), {
        "name": ch.name, "kind": "dingtalk", "webhook_url": ch.webhook_url, "clear_secret": "on",
        "message_format": "", "active": "on"})
    ch.refresh_from_db()
    assert ch.secret == "" and ch.team is None


def test_channel_validation_errors_are_shown_on_the_fields(client, ops):
    r = client.post(reverse("notifications:channel_create"), {"name": "飞书", "kind": "feishu", "webhook_url": "",
                                                                "message_format": "action_card", "active": "on"})
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert "webhook_url" in errors and "message_format" in errors
    r = client.post(reverse("notifications:channel_create"), {"name": "飞书", "kind": "feishu",
                                                                "webhook_url": "not a url", "active": "on"})
    assert "webhook_url" in r.context["form"].errors
    assert not Channel.objects.exists()


def test_send_test_button_reaches_the_bot(client, ops, bots):
    ch = Channel.objects.create(name="feishu", kind="feishu", webhook_url=bots.url("feishu"), secret=SECRET,
                                message_format="interactive")
    r = client.post(reverse("notifications:channel_test", args=[ch.pk]), follow=True)
    assert "The test message was sent" in r.content.decode()
    [body] = bots.received["feishu"]
    assert body["msg_type"] == "interactive" and "feishu" in body["card"]["elements"][0]["text"]["content"]
    # a refusal is reported, not hidden
    bots.answer("feishu", 200, {"code": 19021, "msg": "sign match fail"})
    r = client.post(reverse("notifications:channel_test", args=[ch.pk]), follow=True)
    assert "did not accept the test message" in r.content.decode() and "19021" in r.content.decode()


def test_dingtalk_action_card_and_feishu_interactive_card_shapes(bots, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    link = "https://baton.example.com/sla/board/?item=leads:7"
    ding = Channel.objects.create(name="ding", kind="dingtalk", webhook_url=bots.url("dingtalk"), secret=SECRET,
                                  message_format="action_card")
    fei = Channel.objects.create(name="fei", kind="feishu", webhook_url=bots.url("feishu"), secret=SECRET,
                                 message_format="interactive")
    for ch in (ding, fei):
        services.outbox_enqueue(channel=ch, title="[SLA] 线索 A 超时", text="电话: 13812345678", link=link,
                                key=f"card-{ch.pk}")
    assert services.outbox_deliver(T)["sent"] == 2
    [d] = bots.received["dingtalk"]
    assert d["msgtype"] == "actionCard"
    card = d["actionCard"]
    assert card["singleTitle"] == "处理" and card["singleURL"] == link and card["title"] == "[SLA] 线索 A 超时"
    assert "138****5678" in card["text"] and "13812345678" not in card["text"]
    [f] = bots.received["feishu"]
    assert f["msg_type"] == "interactive" and f["sign"]
    assert f["card"]["header"]["title"]["content"] == "[SLA] 线索 A 超时"
    [button] = f["card"]["elements"][1]["actions"]
    assert (button["text"]["content"], button["url"], button["type"]) == ("处理", link, "primary")
    assert "138****5678" in f["card"]["elements"][0]["text"]["content"]


def test_dead_letters_page_retry_now_and_retry_all(client, ops, bots):
    ch = Channel.objects.create(name="wecom", kind="wecom", webhook_url=bots.url("wecom"))
    other = Channel.objects.create(name="ding", kind="dingtalk", webhook_url=bots.url("dingtalk"), secret=SECRET)
    dead = [OutboxMessage.objects.create(channel=c, payload={"title": f"alert {i}", "text": "t", "link": ""},
                                         status="dead", attempts=8, last_error="HTTP 500: boom", dedupe_key=f"d{i}")
            for i, c in enumerate([ch, ch, other])]
    page = client.get(reverse("notifications:dead_letters")).content.decode()
    assert "alert 0" in page and "HTTP 500: boom" in page and "alert 2" in page
    assert "alert 2" not in client.get(reverse("notifications:dead_letters"), {"channel": ch.pk}).content.decode()
    client.post(reverse("notifications:dead_letter_retry", args=[dead[0].pk]))
    dead[0].refresh_from_db()
    assert (dead[0].status, dead[0].attempts) == ("pending", 0)
    assert services.outbox_deliver(T)["sent"] == 1
    assert [b["markdown"]["content"].split("\n")[0] for b in bots.received["wecom"]] == ["**alert 0**"]
    assert audits(ch).filter(action="event", actor=ops).exists()
    # retry all, for one channel: the other channel's dead letter stays dead
    client.post(reverse("notifications:dead_letter_retry_all"), {"channel": other.pk})
    assert OutboxMessage.objects.get(pk=dead[1].pk).status == "dead"
    assert services.outbox_deliver(T)["sent"] == 1 and len(bots.received["dingtalk"]) == 1
    client.post(reverse("notifications:dead_letter_retry_all"), {"channel": ""})
    assert services.outbox_deliver(T)["sent"] == 1
    assert not OutboxMessage.objects.filter(status="dead").exists()
    assert "No dead letters" in client.get(reverse("notifications:dead_letters")).content.decode()
