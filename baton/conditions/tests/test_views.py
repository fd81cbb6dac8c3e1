"""The custom fields settings pages (ops only)."""

import pytest

from baton.conditions.models import CustomField
from baton.core.testing import factories as f

pytestmark = pytest.mark.django_db


def test_rep_is_refused(client):
    client.force_login(f.user("rep1", roles=("rep",)))
    assert client.get("/settings/custom-fields/").status_code == 403
    assert client.get("/settings/custom-fields/new/").status_code == 403


def test_ops_creates_edits_and_retypes_a_field(client):
    client.force_login(f.user("ops1", roles=("ops",)))
    r = client.post("/settings/custom-fields/new/", {
        "target": "lead", "key": "channel", "label_zh": "渠道", "label_en": "Channel", "type": "choice",
        "choices": "web | 网站 | Web\nexpo | 展会 | Expo", "position": 0, "active": "on"})
    assert r.status_code == 302
    field = CustomField.objects.get(key="channel")
    assert [c["value"] for c in field.choices] == ["web", "expo"]
    lead = f.lead(custom_fields={"channel": "web"})
    page = client.get("/settings/custom-fields/")
    assert "渠道".encode() in page.content
    r = client.post(f"/settings/custom-fields/{field.pk}/", {"label_zh": "来源渠道", "label_en": "Channel",
                                                             "choices": "web | 网站 | Web\nexpo | 展会 | Expo",
                                                             "position": 1, "active": "on"})
    assert r.status_code == 302
    field.refresh_from_db()
    assert field.label_zh == "来源渠道"
    r = client.post(f"/settings/custom-fields/{field.pk}/type/", {"type": "multi_choice", "choices": ""})
    assert r.status_code == 302
    field.refresh_from_db()
    lead.refresh_from_db()
    assert field.type == "multi_choice" and lead.custom_fields["channel"] == ["web"]


def test_a_duplicate_key_is_shown_on_the_form(client):
    client.force_login(f.user("ops2", roles=("ops",)))
    data = {"target": "lead", "key": "size", "label_zh": "规模", "label_en": "Size", "type": "number",
            "position": 0, "active": "on"}
    assert client.post("/settings/custom-fields/new/", data).status_code == 302
    r = client.post("/settings/custom-fields/new/", data)
    assert r.status_code == 200 and CustomField.objects.filter(key="size").count() == 1
