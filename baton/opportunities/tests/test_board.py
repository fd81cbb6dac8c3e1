"""The board, the path panel, moves through the UI, evidence upload and skip review through views."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from baton.core.models import Attachment
from baton.core.testing import factories as f
from baton.opportunities import services
from baton.opportunities.models import StageEvidence, StageRequirement, StageSkipReview

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def pipeline():
    p = services.pipeline_ensure_default()
    services.stage_requirements_install_defaults(p)
    return p


@pytest.fixture
def org():
    team = f.make_team()
    manager = f.make_user(roles=["manager"], team=team)
    rep = f.make_user(roles=["rep"], team=team, manager=manager)
    return type("Org", (), {"manager": manager, "rep": rep})


def test_board_shows_columns_and_only_deals_in_scope(client, pipeline, org):
    mine = f.make_opportunity(owner=org.rep, name="看板商机", stage=pipeline.stages.get(name="报价"))
    f.make_opportunity(owner=f.make_user(roles=["rep"], team=f.make_team()), name="别人的商机")
    client.force_login(org.rep)
    html = client.get(reverse("opportunities:board", args=[pipeline.pk])).content.decode()
    assert "看板商机" in html and "别人的商机" not in html
    assert all(s.name in html for s in pipeline.stages.all())
    assert f'id="deal-{mine.pk}"' in html
    assert client.get(reverse("opportunities:board_default")).status_code == 302


def test_refused_move_lists_missing_items_then_upload_lets_it_through(client, pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="报价"))
    meeting = pipeline.stages.get(name="客户内部决策会")
    client.force_login(org.rep)
    refused = client.post(reverse("opportunities:move", args=[deal.pk]), {"stage": meeting.pk}, **JSON)
    assert refused.status_code == 422
    body = refused.json()
    assert body["ok"] is False and "决策会现场照片" in body["errors"][0]["message"]
    assert 'name="file"' in body["html"] and "决策会现场照片" in body["html"]
    deal.refresh_from_db()
    assert deal.stage.name == "报价"

    req = StageRequirement.objects.get(stage=meeting, code="meeting-photo")
    photo = SimpleUploadedFile("meeting.jpg", b"\xff\xd8\xff fake jpeg", content_type="image/jpeg")
    board = reverse("opportunities:board", args=[pipeline.pk])
    uploaded = client.post(reverse("opportunities:evidence", args=[deal.pk]),
                           {"requirement": req.pk, "file": photo, "next": board})
    assert uploaded.status_code == 302 and uploaded["Location"] == board
    evidence = StageEvidence.objects.get(opportunity=deal)
    assert evidence.attachment.kind == Attachment.Kind.PHOTO and evidence.attachment.uploaded_by == org.rep

    moved = client.post(reverse("opportunities:move", args=[deal.pk]), {"stage": meeting.pk}, **JSON)
    assert moved.status_code == 200 and moved.json() == {"ok": True, "stage": meeting.name, "stage_id": meeting.pk}
    deal.refresh_from_db()
    assert deal.stage == meeting


def test_evidence_upload_outside_scope_is_404(client, pipeline, org):
    other = f.make_opportunity(owner=f.make_user(roles=["rep"], team=f.make_team()))
    client.force_login(org.rep)
    response = client.post(reverse("opportunities:evidence", args=[other.pk]),
                           {"requirement": 1, "file": SimpleUploadedFile("a.pdf", b"x")})
    assert response.status_code == 404 and not Attachment.objects.exists()


def test_detail_shows_the_path_panel_with_what_is_missing(client, pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="需求确认"))
    client.force_login(org.rep)
    html = client.get(reverse("opportunities:detail", args=[deal.pk])).content.decode()
    assert 'id="path-panel"' in html and "方案文档" in html and 'id="move-next"' in html


def test_skip_and_review_through_the_ui(client, pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="客户内部决策会"))
    legal = pipeline.stages.get(name="法务初审通过")
    client.force_login(org.rep)
    refused = client.post(reverse("opportunities:move", args=[deal.pk]), {"stage": legal.pk}, **JSON)
    assert refused.status_code == 422 and 'name="skip_reason"' in refused.json()["html"]
    skipped = client.post(reverse("opportunities:move", args=[deal.pk]), {"stage": legal.pk,
                                                                          "skip_reason": "签字件在快递途中"})
    assert skipped.status_code == 302
    review = StageSkipReview.objects.get(opportunity=deal)
    client.force_login(org.manager)
    html = client.get(reverse("opportunities:detail", args=[deal.pk])).content.decode()
    assert "签字件在快递途中" in html
    client.post(reverse("opportunities:skip_review", args=[review.pk, "reject"]), {"note": "请先补签字件"})
    review.refresh_from_db()
    deal.refresh_from_db()
    assert review.status == "rejected" and deal.stage.name == "客户内部决策会"
