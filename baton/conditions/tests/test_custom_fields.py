"""Custom fields: define, clean values, change type (migrating values, all or nothing), delete, API."""

import pytest
from django.utils import translation

from baton.conditions import compiler, services
from baton.conditions.models import CustomField
from baton.core import clock
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.leads.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops():
    return f.make_user(roles=["ops"])


def make(ops, key, type_, **kw):
    return services.custom_field_create(actor=ops, target="lead", key=key, label_zh=f"字段{key}",
                                        label_en=f"Field {key}", type=type_, **kw)


def test_create_is_audited_and_keys_are_unique_per_target(ops):
    field = make(ops, "size", "number")
    assert AuditEntry.objects.filter(object_id=field.pk, action="create").count() == 1
    with pytest.raises(ValidationFailed):
        make(ops, "size", "text")
    services.custom_field_create(actor=ops, target="account", key="size", label_zh="规模", label_en="Size",
                                 type="number")
    with pytest.raises(ValidationFailed) as exc:
        make(ops, "Bad Key", "text")
    assert exc.value.errors[0][0] == "key"
    with pytest.raises(ValidationFailed) as exc:
        make(ops, "tier", "choice")
    assert exc.value.errors[0][0] == "choices"


def test_only_ops_manage_custom_fields():
    rep = f.make_user(roles=["rep"])
    with pytest.raises(PermissionDenied):
        services.custom_field_create(actor=rep, target="lead", key="x", label_zh="x", label_en="x", type="text")


def test_values_clean_coerces_and_reports_each_bad_key(ops):
    make(ops, "size", "number", required=True)
    make(ops, "ratio", "decimal")
    make(ops, "since", "date")
    make(ops, "seen", "datetime")
    make(ops, "vip", "bool")
    make(ops, "tier", "choice", choices=["gold", {"value": "silver", "label_zh": "银", "label_en": "Silver"}])
    make(ops, "channels", "multi_choice", choices=["web", "phone"])
    make(ops, "note", "text")
    clean = services.custom_values_clean(Lead, {
        "size": "1,200", "ratio": "0.50", "since": "2025-01-31", "seen": "2025-01-31 09:00", "vip": "是",
        "tier": "silver", "channels": "web", "note": "",
    })
    assert clean == {"size": 1200, "ratio": 0.5, "since": "2025-01-31", "seen": "2025-01-31T01:00:00Z",
                     "vip": True, "tier": "silver", "channels": ["web"]}
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        services.custom_values_clean(Lead, {"size": "1.5", "tier": "bronze", "since": "31/01/2025", "zzz": 1})
    errors = dict(exc.value.errors)
    assert set(errors) == {"custom_fields.size", "custom_fields.tier", "custom_fields.since", "custom_fields.zzz"}
    assert "whole number" in errors["custom_fields.size"] and "Field size" in errors["custom_fields.size"]
    assert "not one of the choices" in errors["custom_fields.tier"]
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        services.custom_values_clean(Lead, {"note": "x"})
    assert exc.value.errors == [("custom_fields.size", "Field size is required.")]
    assert services.custom_values_clean(Lead, {"note": "x"}, partial=True) == {"note": "x"}


def test_cleaned_values_compare_correctly_in_conditions(ops):
    make(ops, "ratio", "decimal")
    make(ops, "seen", "datetime")
    rows = []
    for ratio, seen in [("9.5", "2025-03-10T09:00:00+08:00"), ("10.25", "2025-03-10T02:00:00+00:00"),
                        ("100", "2025-03-09T23:00:00")]:
        rows.append(f.make_lead(custom_fields=services.custom_values_clean(Lead, {"ratio": ratio, "seen": seen})))
    # numbers order numerically (not as text), datetimes by instant whatever offset they were entered in
    q = compiler.to_q(Lead, {"field": "custom.ratio", "op": "gt", "value": 10})
    assert set(Lead.objects.filter(q)) == {rows[1], rows[2]}
    with clock.frozen("2025-03-10T11:00:00+08:00"):
        q = compiler.to_q(Lead, {"field": "custom.seen", "op": "within_last", "value": "PT3H"})
        assert set(Lead.objects.filter(q)) == {rows[0], rows[1]}


def test_change_type_choice_to_multi_wraps_values(ops):
    field = make(ops, "tier", "choice", choices=["gold", "silver"])
    a = f.make_lead(custom_fields={"tier": "gold"})
    b = f.make_lead(custom_fields={})
    assert services.custom_field_change_type(field, "multi_choice", ops) == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.custom_fields == {"tier": ["gold"]} and b.custom_fields == {}
    field.refresh_from_db()
    assert field.type == "multi_choice"
    assert AuditEntry.objects.filter(object_id=field.pk, action="update").exists()
    assert set(Lead.objects.filter(compiler.to_q(Lead, {"field": "custom.tier", "op": "has_any",
                                                       "value": ["gold"]}))) == {a}


def test_change_type_number_to_text_and_back(ops):
    field = make(ops, "size", "number")
    a = f.make_lead(custom_fields={"size": 120})
    services.custom_field_change_type(field, "text", ops)
    a.refresh_from_db()
    assert a.custom_fields["size"] == "120"
    services.custom_field_change_type(field, "number", ops)
    a.refresh_from_db()
    assert a.custom_fields["size"] == 120


def test_change_type_refuses_atomically_and_lists_the_records(ops):
    field = make(ops, "size", "text")
    good = f.make_lead(custom_fields={"size": "12"})
    bad = f.make_lead(custom_fields={"size": "about ten"})
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        services.custom_field_change_type(field, "number", ops)
    assert f"#{bad.pk}" in exc.value.errors[0][1] and f"#{good.pk}" not in exc.value.errors[0][1]
    good.refresh_from_db()
    field.refresh_from_db()
    assert good.custom_fields == {"size": "12"} and field.type == "text"


def test_change_type_text_to_choice_takes_existing_values_as_choices(ops):
    field = make(ops, "tier", "text")
    f.make_lead(custom_fields={"tier": "gold"})
    f.make_lead(custom_fields={"tier": "silver"})
    services.custom_field_change_type(field, "choice", ops)
    field.refresh_from_db()
    assert field.choice_values == ["gold", "silver"]


def test_removing_a_used_choice_is_refused(ops):
    field = make(ops, "tier", "choice", choices=["gold", "silver"])
    f.make_lead(custom_fields={"tier": "gold"})
    with pytest.raises(ValidationFailed):
        services.custom_field_update(field=field, actor=ops, choices=["silver"])
    services.custom_field_update(field=field, actor=ops, choices=["gold"], label_en="Tier")
    field.refresh_from_db()
    assert field.choice_values == ["gold"] and field.label_en == "Tier"


def test_delete_removes_the_values(ops):
    field = make(ops, "size", "number")
    a = f.make_lead(custom_fields={"size": 1, "other": "x"})
    assert services.custom_field_delete(field=field, actor=ops) == 1
    a.refresh_from_db()
    assert a.custom_fields == {"other": "x"}
    assert not CustomField.objects.exists()


# --- API ------------------------------------------------------------------------------------------------
def test_api_custom_fields_and_registry(ops):
    api = ApiClient(ops)
    created = api.post("/api/custom-fields", {"target": "lead", "key": "tier", "label_zh": "等级", "label_en": "Tier",
                                              "type": "choice", "choices": [{"value": "gold"}]})
    assert created.status_code == 201, created.content
    fid = created.json()["id"]
    f.make_lead(custom_fields={"tier": "gold"})
    listed = api.get("/api/custom-fields", {"target": "lead"}).json()
    assert [x["key"] for x in listed] == ["tier"]
    patched = api.patch(f"/api/custom-fields/{fid}", {"label_en": "Level"})
    assert patched.status_code == 200 and patched.json()["label_en"] == "Level"
    changed = api.post(f"/api/custom-fields/{fid}/change-type", {"type": "multi_choice"})
    assert changed.status_code == 200 and changed.json()["converted"] == 1
    fields = api.get("/api/conditions/fields", {"model": "lead"}).json()
    by_name = {x["name"]: x for x in fields}
    assert by_name["custom.tier"]["operators"] == ["has_any", "has_all", "is_null"]
    assert by_name["score"]["label_en"] == "Score" and by_name["score"]["label_zh"] == "评分"
    bad = api.post("/api/conditions/validate", {"model": "lead", "condition": {
        "all": [{"field": "score", "op": "gt", "value": 1}, {"field": "score", "op": "gt", "value": "x"}]}})
    assert bad.status_code == 200
    assert bad.json()["valid"] is False and bad.json()["errors"][0]["path"] == "all[1].value"
    ok = api.post("/api/conditions/validate", {"model": "lead", "condition": {"field": "custom.tier",
                                                                               "op": "has_any", "value": ["gold"]}})
    assert ok.json() == {"valid": True, "errors": []}
    assert api.delete(f"/api/custom-fields/{fid}").status_code == 204


def test_api_refuses_reps(db):
    rep = f.make_user(roles=["rep"])
    resp = ApiClient(rep).post("/api/custom-fields", {"target": "lead", "key": "x", "label_zh": "x",
                                                      "label_en": "x", "type": "text"})
    assert resp.status_code == 403
