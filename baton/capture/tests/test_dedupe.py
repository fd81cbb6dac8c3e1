import pytest

from baton.capture import dedupe
from baton.capture.models import DedupePolicy
from baton.capture.selectors import lead_find_duplicates
from baton.capture.services import duplicate_dismiss, duplicate_merge, lead_capture
from baton.core.selectors import history_for
from baton.core.testing import factories as f
from baton.leads.models import Lead, LeadStatus
from baton.leads.services import lead_create, lead_update


@pytest.mark.parametrize("raw", ["+86 138-0013-8000", "13800138000", "0086 13800138000", "１３８００１３８０００"])
def test_phone_formats_normalise_to_e164(raw):
    assert dedupe.normalise_phone(raw) == "+8613800138000"


def test_phone_empty_and_landline():
    assert dedupe.normalise_phone("") == ""
    assert dedupe.normalise_phone("010-12345678") == "+861012345678"


def test_email_lowercased_and_stripped_without_gmail_tricks():
    assert dedupe.normalise_email("  Zhang.San@Example.COM ") == "zhang.san@example.com"
    assert dedupe.normalise_email("a.b@gmail.com") != dedupe.normalise_email("ab@gmail.com")


@pytest.mark.parametrize("raw, expected", [
    ("华为技术有限公司", "华为技术"),
    ("阿里巴巴（中国）有限公司", "阿里巴巴"),
    ("阿里巴巴(中国)有限公司", "阿里巴巴"),
    ("ＡＢＣ科技股份有限公司", "abc科技"),
    ("海尔集团", "海尔"),
    ("上海某某有限责任公司", "上海某某"),
    ("Acme Co., Ltd.", "acme"),
    ("北京·星光，科技", "北京星光科技"),
])
def test_company_normalisation(raw, expected):
    assert dedupe.normalise_company(raw) == expected


def test_fuzzy_threshold_edges():
    a, b = dedupe.normalise_company("北京百度网讯科技有限公司"), dedupe.normalise_company("北京百度网讯科技公司")
    score = dedupe.company_similarity(a, b)
    assert 80 < score < 100
    assert dedupe.is_fuzzy_match(a, b, threshold=int(score))
    assert not dedupe.is_fuzzy_match(a, b, threshold=int(score) + 1)


@pytest.fixture
def rep(db):
    return f.user(roles=("ops",))


@pytest.mark.django_db
def test_services_store_normalised_keys(rep):
    lead = lead_create(actor=rep, company="星光科技有限公司", phone="+86 138-0013-8000", email="A@B.CN")
    lead.refresh_from_db()
    assert (lead.phone_norm, lead.email_norm, lead.company_norm) == ("+8613800138000", "a@b.cn", "星光科技")
    lead_update(lead=lead, actor=rep, phone="13900139000")
    lead.refresh_from_db()
    assert lead.phone_norm == "+8613900139000"
    # The derived key is not audited as a user change.
    assert all("phone_norm" not in e.changes for e in history_for(lead).filter(action="update"))


@pytest.mark.django_db
@pytest.mark.parametrize("existing, incoming, reason", [
    ({"lead_source": "api", "external_id": "X-1"}, {"source": "api", "external_id": "X-1"}, "external_id"),
    ({"phone": "13800138000"}, {"phone": "0086 138 0013 8000"}, "phone"),
    ({"email": "li@corp.cn"}, {"email": " LI@Corp.CN"}, "email"),
    ({"company": "星光科技有限公司"}, {"company": "星光科技股份有限公司"}, "company"),
])
def test_find_duplicates_on_each_key(rep, existing, incoming, reason):
    lead = lead_create(actor=rep, **existing)
    lead_create(actor=rep, company="无关公司", phone="13500000000", email="other@x.cn")
    matches = lead_find_duplicates(incoming)
    assert [(m.pk, r) for m, r in matches] == [(lead.pk, [reason])]


@pytest.mark.django_db
def test_external_id_matches_only_within_its_source(rep):
    lead_create(actor=rep, lead_source="api", external_id="X-1")
    assert lead_find_duplicates({"source": "web_form", "external_id": "X-1"}) == []


@pytest.mark.django_db
def test_fuzzy_company_threshold(rep):
    lead = lead_create(actor=rep, company="北京百度网讯科技有限公司")
    incoming = {"company": "北京百度网讯科技公司"}
    score = dedupe.company_similarity(lead.company_norm, dedupe.normalise_company(incoming["company"]))
    assert [m.pk for m, _r in lead_find_duplicates(incoming, threshold=int(score))] == [lead.pk]
    assert lead_find_duplicates(incoming, threshold=int(score) + 1) == []
    assert lead_find_duplicates({"company": "深圳百度网讯科技"}, threshold=50) == []  # other block: not compared


@pytest.mark.django_db
@pytest.mark.parametrize("block, lookalike", [("a_", "ab"), ("%a", "xa"), ("a\\", "a%")])
def test_fuzzy_block_is_a_literal_prefix(rep, block, lookalike):
    # A normalised name passed in as is may hold LIKE's wildcards: they match only themselves.
    literal, other = lead_create(actor=rep, company="甲"), lead_create(actor=rep, company="乙")
    Lead.objects.filter(pk=literal.pk).update(company_norm=block + "cdef")
    Lead.objects.filter(pk=other.pk).update(company_norm=lookalike + "cdef")
    assert [m.pk for m, _r in lead_find_duplicates({"company_norm": block + "cdef"}, threshold=50)] == [literal.pk]


@pytest.mark.django_db
def test_a_match_on_a_flagged_duplicate_is_its_original(rep):
    original = lead_create(actor=rep, company="星光科技", phone="13800138000", budget=1000)
    flagged = lead_create(actor=rep, company="星光科技有限公司", email="dup@x.cn", duplicate_of=original)
    lead_create(actor=rep, company="其他", email="again@x.cn", duplicate_of=flagged)  # two hops from it
    incoming = {"email": "again@x.cn", "phone": "13800138000", "company": "星光科技"}
    [(found, reasons)] = lead_find_duplicates(incoming)
    assert found.pk == original.pk and reasons == ["phone", "email", "company"]
    assert (found.company, found.budget, found.created_at) == ("星光科技", 1000, original.created_at)
    assert lead_find_duplicates(incoming, exclude_pk=original.pk) == []


@pytest.mark.django_db
def test_capture_without_duplicate_creates(rep):
    result = lead_capture(data={"company": "新公司", "phone": "13700000000"}, actor=rep, source_channel="api")
    assert not result.merged and not result.flagged and result.lead.pk


@pytest.mark.django_db
def test_capture_merge_policy_fills_empty_fields_and_logs_repeat_inquiry(rep):
    DedupePolicy.objects.create(source="web_form", action=DedupePolicy.Action.MERGE)
    owner = f.user()
    existing = lead_create(actor=rep, lead_source="web_form", company="星光科技", phone="13800138000", owner=owner)
    result = lead_capture(data={"source": "web_form", "phone": "+86 13800138000", "email": "x@y.cn",
                                "company": "别的名字", "utm_campaign": "spring"}, actor=None,
                          source_channel="web_form")
    assert result.merged and result.lead.pk == existing.pk and result.lead.merged
    existing.refresh_from_db()
    assert existing.email == "x@y.cn" and existing.company == "星光科技" and existing.utm_campaign == "spring"
    assert Lead.objects.count() == 1
    note = existing.activities.get()
    assert note.kind == "note" and "web_form" in note.note and note.author == owner
    assert any("Repeat inquiry" in e.message or "重复" in e.message for e in history_for(existing))


@pytest.mark.django_db
def test_capture_flag_policy_creates_flagged_lead(rep):
    DedupePolicy.objects.create(source="api", action=DedupePolicy.Action.FLAG)
    existing = lead_create(actor=rep, lead_source="api", email="dup@x.cn")
    result = lead_capture(data={"source": "api", "email": "DUP@x.cn", "company": "甲"}, actor=rep,
                          source_channel="api")
    assert result.flagged and result.lead.pk != existing.pk
    assert result.lead.duplicate_of_id == existing.pk and result.reasons == ["email"]


@pytest.mark.django_db(transaction=True)
def test_capture_that_loses_an_external_id_race_merges_into_the_winner(rep, monkeypatch):
    """Two captures of one (source, external id) at once: the lookup runs before the write transaction, so the
    later one can miss the other's lead; its insert then hits the unique key, and it looks again."""
    from baton.capture import services

    DedupePolicy.objects.create(source="api", action=DedupePolicy.Action.MERGE)
    real_lookup, winner = services.lead_find_duplicates, []

    def lookup_then_lose_the_race(data, **kw):
        found = real_lookup(data, **kw)
        if not winner:  # the other capture commits between this lookup and this capture's insert
            winner.append(lead_create(actor=rep, lead_source="api", external_id="CRM-7", company="先到公司"))
        return found

    monkeypatch.setattr(services, "lead_find_duplicates", lookup_then_lose_the_race)
    result = lead_capture(data={"source": "api", "external_id": "CRM-7", "email": "late@x.cn"}, actor=rep)
    assert result.merged and result.lead.pk == winner[0].pk and result.reasons == ["external_id"]
    assert Lead.objects.count() == 1 and Lead.objects.get().email == "late@x.cn"


@pytest.mark.django_db(transaction=True)
def test_a_refused_value_is_not_taken_for_a_race(rep, monkeypatch):
    """A lead refused for a field's value answers with that field at once: no second lookup, nothing written."""
    from baton.capture import services
    from baton.core.errors import ValidationFailed

    real_lookup, lookups = services.lead_find_duplicates, []
    monkeypatch.setattr(services, "lead_find_duplicates", lambda data, **kw: lookups.append(1) or real_lookup(data, **kw))
    with pytest.raises(ValidationFailed) as refused:
        lead_capture(data={"source": "api", "external_id": "CRM-8", "email": "not an e-mail"}, actor=rep)
    assert [field for field, _m in refused.value.errors] == ["email"]
    assert len(lookups) == 1 and not Lead.objects.exists()


@pytest.mark.django_db
def test_default_policy_row_applies_to_sources_without_their_own(rep):
    DedupePolicy.objects.create(source="", action=DedupePolicy.Action.MERGE)
    DedupePolicy.objects.create(source="api", action=DedupePolicy.Action.MERGE, active=False)
    existing = lead_create(actor=rep, lead_source="api", email="a@x.cn")
    assert lead_capture(data={"source": "api", "email": "a@x.cn"}, actor=rep).lead.pk == existing.pk


@pytest.mark.django_db
def test_review_merge_moves_activities_and_is_audited(rep):
    original = lead_create(actor=rep, company="星光科技", phone="13800138000")
    dup = lead_create(actor=rep, company="星光科技有限公司", email="new@x.cn", duplicate_of=original)
    act = f.activity(author=rep, lead=dup)
    duplicate_merge(lead=dup, into=original, actor=rep)
    original.refresh_from_db()
    dup.refresh_from_db()
    act.refresh_from_db()
    assert act.lead_id == original.pk
    assert original.email == "new@x.cn"
    assert dup.status == LeadStatus.DISQUALIFIED and dup.duplicate_of_id == original.pk
    assert history_for(dup).filter(actor=rep, changes__has_key="status").exists()
    assert history_for(original).filter(actor=rep, changes__has_key="email").exists()
    assert history_for(act).filter(changes__has_key="lead").exists()


@pytest.mark.django_db
def test_review_dismiss_clears_flag_audited(rep):
    original = lead_create(actor=rep, company="甲公司")
    dup = lead_create(actor=rep, company="甲公司", duplicate_of=original)
    duplicate_dismiss(lead=dup, actor=rep)
    dup.refresh_from_db()
    assert dup.duplicate_of_id is None
    assert history_for(dup).filter(actor=rep, changes__has_key="duplicate_of").exists()


@pytest.mark.django_db
def test_review_page_lists_pairs_and_merges(client, rep):
    original = lead_create(actor=rep, company="乙公司")
    dup = lead_create(actor=rep, company="乙公司", duplicate_of=original)
    client.force_login(rep)
    page = client.get("/capture/review/")
    assert page.status_code == 200 and f'data-lead="{dup.pk}"' in page.content.decode()
    assert client.post(f"/capture/review/{dup.pk}/merge/").status_code == 302
    dup.refresh_from_db()
    assert dup.status == LeadStatus.DISQUALIFIED
    assert f'data-lead="{dup.pk}"' not in client.get("/capture/review/").content.decode()


@pytest.mark.django_db
def test_review_page_hides_leads_out_of_scope(client):
    other = f.user()
    original = f.lead(owner=other)
    dup = f.lead(owner=other, duplicate_of=original)
    me = f.user()
    client.force_login(me)
    assert f'data-lead="{dup.pk}"' not in client.get("/capture/review/").content.decode()
    assert client.post(f"/capture/review/{dup.pk}/merge/").status_code == 404
