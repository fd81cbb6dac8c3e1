"""Sales ops manage script packs: create, edit, reorder, deactivate (services audited, pages, API)."""

import json

import pytest

from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry
from baton.core.testing import factories as f
from baton.scripts import selectors, services
from baton.scripts.models import Script, ScriptPack

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops():
    return f.user(roles=("ops",))


@pytest.fixture
def rep():
    return f.user(roles=("rep",))


def _titles(pack):
    return list(pack.scripts.order_by("position", "id").values_list("title", flat=True))


def test_services_create_reorder_deactivate_audited(ops, rep):
    pack = services.pack_create(actor=ops, name="招投标", scenario="custom", description="")
    one = services.script_create(actor=ops, pack=pack, title="一", body="第一句")
    two = services.script_create(actor=ops, pack=pack, title="二", body="第二句")
    three = services.script_create(actor=ops, pack=pack, title="三", body="第三句")
    assert _titles(pack) == ["一", "二", "三"]
    services.scripts_reorder(pack=pack, actor=ops, script_ids=[three.pk, one.pk, two.pk])
    assert _titles(pack) == ["三", "一", "二"]
    with pytest.raises(ValidationFailed):  # every script once
        services.scripts_reorder(pack=pack, actor=ops, script_ids=[three.pk, one.pk])
    with pytest.raises(ValidationFailed):
        services.script_create(actor=ops, pack=pack, title="", body="x")
    assert pack in selectors.active_packs()
    services.pack_update(pack=pack, actor=ops, active=False)
    assert pack not in selectors.active_packs()
    assert AuditEntry.objects.filter(content_type__model="script", object_id=three.pk, action="update").exists()
    assert AuditEntry.objects.filter(content_type__model="scriptpack", object_id=pack.pk).count() == 2
    for call in (lambda: services.pack_create(actor=rep, name="x"),
                 lambda: services.pack_update(pack=pack, actor=rep, active=True),
                 lambda: services.script_create(actor=rep, pack=pack, title="t", body="b"),
                 lambda: services.scripts_reorder(pack=pack, actor=rep, script_ids=[one.pk, two.pk, three.pk]),
                 lambda: services.script_delete(script=one, actor=rep)):
        with pytest.raises(PermissionDenied):
            call()


def test_pages_ops_ok_rep_403(client, ops, rep):
    pack = services.pack_create(actor=ops, name="竞品")
    script = services.script_create(actor=ops, pack=pack, title="t", body="b")
    urls = ["/scripts/settings/", "/scripts/settings/new/", f"/scripts/settings/{pack.pk}/",
            f"/scripts/settings/{pack.pk}/scripts/{script.pk}/"]
    client.force_login(rep)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/scripts/settings/{pack.pk}/scripts/{script.pk}/delete/").status_code == 403
    client.force_login(ops)
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_pages_create_pack_add_edit_move_delete_and_deactivate(client, ops):
    client.force_login(ops)
    assert client.post("/scripts/settings/new/", {"name": "", "scenario": "custom"}).status_code == 400
    answer = client.post("/scripts/settings/new/", {"name": "续费", "scenario": "custom", "description": "到期前",
                                                     "active": "on"})
    assert answer.status_code == 302
    pack = ScriptPack.objects.get(name="续费")
    for title in ("甲", "乙"):
        assert client.post(f"/scripts/settings/{pack.pk}/scripts/", {"title": title, "body": title * 3}
                           ).status_code == 302
    second = Script.objects.get(pack=pack, title="乙")
    client.post(f"/scripts/settings/{pack.pk}/scripts/{second.pk}/move/", {"direction": "up"})
    assert _titles(pack) == ["乙", "甲"]
    client.post(f"/scripts/settings/{pack.pk}/scripts/{second.pk}/", {"title": "乙2", "body": "新内容"})
    assert Script.objects.get(pk=second.pk).body == "新内容"
    client.post(f"/scripts/settings/{pack.pk}/scripts/{second.pk}/delete/")
    assert _titles(pack) == ["甲"]
    page = client.get(f"/scripts/settings/{pack.pk}/").content.decode()
    assert "甲" in page and "乙2" not in page
    client.post(f"/scripts/settings/{pack.pk}/", {"name": "续费", "scenario": "custom", "description": ""})
    pack.refresh_from_db()
    assert pack.active is False


def _json(client, method, url, body=None):
    return getattr(client, method)(url, data=json.dumps(body) if body is not None else None,
                                   content_type="application/json")


def test_api_crud_reorder_ops_ok_rep_403(client, ops, rep):
    client.force_login(rep)
    assert _json(client, "post", "/api/script-packs", {"name": "x"}).status_code == 403
    client.force_login(ops)
    r = _json(client, "post", "/api/script-packs", {"name": "API 包", "scenario": "competitor"})
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    ids = [_json(client, "post", f"/api/script-packs/{pid}/scripts", {"title": t, "body": t}).json()["id"]
           for t in ("a", "b", "c")]
    r = _json(client, "post", f"/api/script-packs/{pid}/reorder", {"script_ids": list(reversed(ids))})
    assert r.status_code == 200 and [s["title"] for s in r.json()["scripts"]] == ["c", "b", "a"]
    assert _json(client, "post", f"/api/script-packs/{pid}/reorder", {"script_ids": ids[:1]}).status_code == 422
    r = _json(client, "patch", f"/api/script-packs/{pid}/scripts/{ids[0]}", {"body": "新"})
    assert r.status_code == 200 and r.json()["body"] == "新"
    client.force_login(rep)  # reps read the active packs
    assert pid in [p["id"] for p in client.get("/api/script-packs").json()]
    assert _json(client, "patch", f"/api/script-packs/{pid}", {"active": False}).status_code == 403
    client.force_login(ops)
    assert _json(client, "patch", f"/api/script-packs/{pid}", {"active": False}).json()["active"] is False
    assert pid not in [p["id"] for p in client.get("/api/script-packs").json()]
    assert pid in [p["id"] for p in client.get("/api/script-packs?active=false").json()]
    assert client.delete(f"/api/script-packs/{pid}/scripts/{ids[1]}").status_code == 204
    assert [s["title"] for s in client.get(f"/api/script-packs/{pid}").json()["scripts"]] == ["c", "a"]
    assert client.get("/api/script-packs/999999").status_code == 404
