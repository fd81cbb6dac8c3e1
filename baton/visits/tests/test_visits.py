import io
import math
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageStat

from baton.activities.models import Activity
from baton.core import clock
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.visits import checks, imaging
from baton.visits.models import Visit, VisitPhoto
from baton.visits.tests.imagegen import jpeg, scene, tweaked

pytestmark = pytest.mark.django_db

PW = "pass12345"
ACC = (31.230416, 121.473701)  # the account's location (Shanghai)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))
KINDS = ("storefront", "meeting_table", "signature_page")


def north(meters: float) -> tuple[float, float]:
    """The point `meters` due north of the account, on the same sphere the check uses."""
    return ACC[0] + math.degrees(meters / checks.EARTH_RADIUS_M), ACC[1]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def rep():
    return f.user("rep1", roles=("rep",), password=PW, display_name="王小明")


@pytest.fixture
def account(rep):
    return f.account(owner=rep, lat=ACC[0], lng=ACC[1], name="上海示例公司")


@pytest.fixture
def api(rep):
    return ApiClient(rep, password=PW)


def start(api, account, *, at=T0, where=ACC, **extra):
    body = {"account": account.pk, "lat": where[0], "lng": where[1], "accuracy": 12.5,
            "started_at": at.isoformat(), "device_id": "phone-A1", **extra}
    with clock.frozen(at + timedelta(seconds=5)):
        return api.post("/api/visits", body)


def photo(api, visit_id, kind, data, *, now=T0 + timedelta(minutes=10), **fields):
    upload = SimpleUploadedFile(f"{kind}.jpg", data, content_type="image/jpeg")
    with clock.frozen(now):
        return api.client.post(f"/api/visits/{visit_id}/photos", {"image": upload, "kind": kind, **fields},
                               headers=api._headers(None))


def end(api, visit_id, *, at=T0 + timedelta(minutes=30), where=ACC, now=None):
    with clock.frozen(now or at + timedelta(seconds=5)):
        return api.post(f"/api/visits/{visit_id}/end", {"lat": where[0], "lng": where[1], "accuracy": 8,
                                                        "ended_at": at.isoformat()})


def full_visit(api, account, *, seed=1, at=T0, minutes=30, photos=None, where=ACC):
    r = start(api, account, at=at, where=where)
    assert r.status_code == 201, r.json()
    vid = r.json()["id"]
    for i, kind in enumerate(KINDS):
        data = photos[i] if photos else jpeg(scene(seed * 10 + i), taken=at + timedelta(minutes=5 + i))
        r = photo(api, vid, kind, data, now=at + timedelta(minutes=6 + i))
        assert r.status_code == 201, r.json()
    return end(api, vid, at=at + timedelta(minutes=minutes), where=where)


# --- the whole flow -------------------------------------------------------------------------------------


def test_valid_visit_is_logged_and_photos_are_watermarked(api, account, rep, media):
    original = jpeg(scene(1), taken=T0 + timedelta(minutes=5), lat=ACC[0], lng=ACC[1])
    r = start(api, account)
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "open" and body["valid"] is False and body["invalid_reasons"] == []
    vid = body["id"]
    r = photo(api, vid, "storefront", original)
    assert r.status_code == 201, r.json()
    for i, kind in enumerate(KINDS[1:]):
        assert photo(api, vid, kind, jpeg(scene(2 + i), taken=T0 + timedelta(minutes=7))).status_code == 201

    r = end(api, vid)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["valid"] is True and body["invalid_reasons"] == [] and body["verdict"] == "valid"
    assert body["duration_minutes"] == 30.0

    activity = Activity.objects.get(pk=body["activity"])
    assert activity.kind == Activity.Kind.VISIT and activity.account == account and activity.duration_minutes == 30

    stored = VisitPhoto.objects.get(visit_id=vid, kind="storefront")
    import hashlib

    assert stored.original_sha256 == hashlib.sha256(original).hexdigest()
    assert stored.exif_taken_at == T0 + timedelta(minutes=5) == stored.taken_at
    assert stored.exif_lat == pytest.approx(ACC[0], abs=1e-5) and stored.exif_lng == pytest.approx(ACC[1], abs=1e-5)
    with stored.image.open("rb") as fh:
        marked_bytes = fh.read()
    assert hashlib.sha256(marked_bytes).hexdigest() != stored.original_sha256
    marked = Image.open(io.BytesIO(marked_bytes)).convert("L")
    src = Image.open(io.BytesIO(original)).convert("L")
    assert marked.size == src.size == (1024, 768)
    # The band: the bottom strip is darker than the original's, the top is untouched; the text adds white.
    band = (0, 700, 1024, 768)
    top = (0, 0, 1024, 60)
    mean = lambda im, box: ImageStat.Stat(im.crop(box)).mean[0]  # noqa: E731
    assert mean(marked, band) < mean(src, band) * 0.75
    assert abs(mean(marked, top) - mean(src, top)) < 3
    assert ImageStat.Stat(marked.crop(band)).extrema[0][1] > 240
    # Its URL is served to the signed-in rep.
    assert body["photos"][0]["url"].startswith("/media/visits/")


def test_visit_is_scoped_to_the_rep_and_team(api, account, rep):
    vid = full_visit(api, account).json()["id"]
    other = f.user("rep2", roles=("rep",), password=PW)
    assert ApiClient(other, password=PW).get(f"/api/visits/{vid}").status_code == 404
    manager = f.user("mgr", roles=("manager",), password=PW)
    rep.manager = manager
    rep.save()
    listing = ApiClient(manager, password=PW).get("/api/visits", {"rep": rep.pk, "valid": "true"}).json()
    assert [v["id"] for v in listing["items"]] == [vid]


# --- geofence ------------------------------------------------------------------------------------------


def test_haversine_boundary_exactly_at_radius_counts_as_inside():
    lat, lng = north(500)
    d = checks.haversine_m(ACC[0], ACC[1], lat, lng)
    assert d == pytest.approx(500, abs=1e-6)
    assert checks.within(d, 500)
    assert not checks.within(checks.haversine_m(ACC[0], ACC[1], *north(500.01)), 500)
    # A known distance: one degree of latitude is ~111.2 km.
    assert checks.haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)


def test_visit_exactly_500m_away_is_valid_and_501m_is_too_far(api, account):
    assert full_visit(api, account, where=north(500)).json()["invalid_reasons"] == []
    body = full_visit(api, account, seed=2, at=T0 + timedelta(hours=2), where=north(501)).json()
    assert body["invalid_reasons"] == ["too_far"] and body["valid"] is False
    assert body["verdict"] == "invalid"
    assert body["details"]["too_far"]["far"] == {"start": 501, "end": 501}
    assert "501" in body["reasons"][0]["message"]


def test_end_position_alone_too_far(api, account):
    r = start(api, account)
    vid = r.json()["id"]
    for i, kind in enumerate(KINDS):
        photo(api, vid, kind, jpeg(scene(40 + i), taken=T0 + timedelta(minutes=3)))
    body = end(api, vid, where=north(2000)).json()
    assert body["invalid_reasons"] == ["too_far"]
    assert body["details"]["too_far"]["far"] == {"end": 2000}


def test_account_without_location_cannot_be_valid(api, rep):
    acc = f.account(owner=rep)
    body = full_visit(api, acc).json()
    assert body["valid"] is False and body["invalid_reasons"] == ["no_account_location"]


# --- duration, photos present, photo time ---------------------------------------------------------------


def test_too_short_and_missing_photos(api, account):
    r = start(api, account)
    vid = r.json()["id"]
    photo(api, vid, "storefront", jpeg(scene(5), taken=T0 + timedelta(minutes=2)))
    body = end(api, vid, at=T0 + timedelta(minutes=24, seconds=59)).json()
    assert body["invalid_reasons"] == ["too_short", "missing_photos"]
    assert body["details"]["missing_photos"]["kinds"] == ["meeting_table", "signature_page"]
    # The rep's language is Chinese: each reason reads in Chinese.
    assert [r["message"] for r in body["reasons"]] == ["拜访仅持续 24.9 分钟，至少需要 25 分钟。", "缺少照片：会谈桌, 签字页。"]
    assert not Activity.objects.filter(kind=Activity.Kind.VISIT).exists()


def test_exactly_min_minutes_is_long_enough(api, account):
    assert full_visit(api, account, minutes=25).json()["invalid_reasons"] == []


@pytest.mark.parametrize(("offset_s", "ok"), [(-119, True), (-121, False), (30 * 60 + 119, True),
                                              (30 * 60 + 121, False)])
def test_photo_time_with_two_minutes_clock_skew(api, account, offset_s, ok):
    r = start(api, account)
    vid = r.json()["id"]
    for i, kind in enumerate(KINDS):
        taken = T0 + timedelta(seconds=offset_s) if kind == "storefront" else T0 + timedelta(minutes=3 + i)
        assert photo(api, vid, kind, jpeg(scene(50 + i), taken=taken)).status_code == 201
    body = end(api, vid).json()
    assert body["invalid_reasons"] == ([] if ok else ["photo_time_outside"])
    if not ok:
        assert body["verdict"] == "suspicious"


def test_missing_exif_uses_upload_time(api, account):
    r = start(api, account)
    vid = r.json()["id"]
    plain = io.BytesIO()
    scene(60).save(plain, "PNG")
    r = photo(api, vid, "storefront", plain.getvalue(), now=T0 + timedelta(minutes=12))
    assert r.status_code == 201
    p = r.json()["photos"][0]
    assert p["exif_taken_at"] is None and p["exif_lat"] is None
    assert datetime.fromisoformat(p["taken_at"]) == T0 + timedelta(minutes=12)
    # Without EXIF GPS the watermark and the row use the visit's start position.
    assert (p["lat"], p["lng"]) == ACC
    for i, kind in enumerate(KINDS[1:]):
        photo(api, vid, kind, jpeg(scene(61 + i)), now=T0 + timedelta(minutes=13))
    assert end(api, vid).json()["valid"] is True


def test_exif_time_with_offset_is_honoured():
    from PIL import ExifTags

    exif = Image.Exif()
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = "2026:03:02 02:05:00"
    ifd[ExifTags.Base.OffsetTimeOriginal] = "+00:00"
    out = io.BytesIO()
    scene(3, (64, 48)).save(out, "JPEG", exif=exif)
    assert imaging.decode(out.getvalue()).exif_taken_at == T0 + timedelta(minutes=5)


# --- re-used photos ------------------------------------------------------------------------------------


def test_same_photo_in_a_later_visit_is_reused(api, account):
    shots = [jpeg(scene(70 + i), taken=T0 + timedelta(minutes=5)) for i in range(3)]
    first = full_visit(api, account, photos=shots).json()
    assert first["valid"] is True
    day2 = T0 + timedelta(days=1)
    again = [shots[0]] + [jpeg(scene(80 + i), taken=day2 + timedelta(minutes=5)) for i in range(2)]
    body = full_visit(api, account, at=day2, photos=again).json()
    # The re-used photo's own EXIF time is yesterday: both checks fail, and the visit is suspicious.
    assert body["invalid_reasons"] == ["photo_time_outside", "photo_reused"]
    assert body["verdict"] == "suspicious"
    assert list(body["details"]["photo_reused"]["photos"].values()) == [first["id"]]
    # The earlier visit is not flagged by the later copy.
    assert Visit.objects.get(pk=first["id"]).valid is True


def test_slightly_changed_copy_is_caught_by_perceptual_hash(api, account):
    img = scene(90)
    shots = [jpeg(img, taken=T0 + timedelta(minutes=5))] + [jpeg(scene(91 + i)) for i in range(2)]
    with clock.frozen(T0 + timedelta(minutes=6)):
        full_visit(api, account, photos=shots)
    day2 = T0 + timedelta(days=2)
    copy = jpeg(tweaked(img), taken=day2 + timedelta(minutes=4), quality=60)
    fresh = [jpeg(scene(95 + i), taken=day2 + timedelta(minutes=5)) for i in range(2)]
    body = full_visit(api, account, at=day2, photos=[copy, *fresh]).json()
    assert body["invalid_reasons"] == ["photo_reused"]
    copied = VisitPhoto.objects.get(visit_id=body["id"], kind="storefront")
    original = VisitPhoto.objects.exclude(visit_id=body["id"]).get(kind="storefront")
    assert copied.original_sha256 != original.original_sha256
    assert imaging.hamming(copied.phash, original.phash) <= 6


def test_unrelated_photos_are_far_apart_in_hash():
    hashes = [imaging.dhash(scene(seed)) for seed in range(100, 130)]
    distances = [imaging.hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1:]]
    assert min(distances) > 6


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"lat": 90.5}, "lat"), ({"lat": -91}, "lat"), ({"lng": 180.01}, "lng"), ({"lng": -181}, "lng"),
    ({"accuracy": -1}, "accuracy"), ({"lat": None}, "lat"), ({"device_id": ""}, "device_id"),
])
def test_absurd_or_missing_coordinates_are_refused(api, account, change, field):
    r = start(api, account, **change)
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]]
    assert not Visit.objects.exists()


def test_missing_coordinate_field_is_refused(api, account):
    with clock.frozen(T0):
        r = api.post("/api/visits", {"account": account.pk, "lat": 31.2, "device_id": "x"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["lng"]


def test_start_in_the_future_or_on_an_unseen_account_is_refused(api, account):
    with clock.frozen(T0):
        r = api.post("/api/visits", {"account": account.pk, "lat": ACC[0], "lng": ACC[1], "device_id": "x",
                                     "started_at": (T0 + timedelta(minutes=10)).isoformat()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "started_at"
    hidden = f.account(owner=f.user("someone", roles=("rep",)), lat=1, lng=1)
    r = start(api, hidden)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "account"


def _no_files(media):
    return not any(p.is_file() for p in media.rglob("*")) if media.exists() else True


@pytest.mark.parametrize("payload", [b"%PDF-1.4 not an image", b"\xff\xd8\xff\xe0 truncated jpeg", b""])
def test_not_an_image_is_refused_and_nothing_is_saved(api, account, media, payload):
    vid = start(api, account).json()["id"]
    r = photo(api, vid, "storefront", payload)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "image"
    assert not VisitPhoto.objects.exists() and _no_files(media)


def test_unknown_kind_is_refused(api, account):
    vid = start(api, account).json()["id"]
    r = photo(api, vid, "selfie", jpeg(scene(1, (64, 48))))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"


def test_oversized_image_is_refused_before_decoding(api, account, media, settings):
    settings.BATON_VISIT_MAX_PIXELS = 1_000_000
    vid = start(api, account).json()["id"]
    big = io.BytesIO()
    Image.new("1", (1500, 1000)).save(big, "PNG")  # 1.5 MP, a few hundred bytes
    r = photo(api, vid, "storefront", big.getvalue())
    assert r.status_code == 422 and r.json()["errors"][0] == {"field": "image", "message": "图片过大（超过 1 百万像素）。"}
    assert not VisitPhoto.objects.exists() and _no_files(media)


def test_decompression_bomb_warning_is_an_error(monkeypatch):
    # Pillow only warns between MAX_IMAGE_PIXELS and twice that; uploads make the warning an error.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500_000)
    bomb = io.BytesIO()
    Image.new("1", (800, 800)).save(bomb, "PNG")  # 640 000 px: in the warning band
    with pytest.raises(imaging.ValidationFailed) as exc:
        imaging.decode(bomb.getvalue())
    assert exc.value.errors[0][0] == "image"


def test_file_over_the_byte_limit_is_refused(api, account, settings):
    settings.BATON_MAX_UPLOAD_BYTES = 10_000
    vid = start(api, account).json()["id"]
    r = photo(api, vid, "storefront", jpeg(scene(3), quality=95))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "image"


def test_end_before_start_end_twice_and_photo_after_end(api, account, media):
    vid = start(api, account).json()["id"]
    r = end(api, vid, at=T0 - timedelta(minutes=1), now=T0 + timedelta(minutes=1))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ended_at"
    assert Visit.objects.get(pk=vid).status == "open"

    assert end(api, vid).status_code == 200
    again = end(api, vid, at=T0 + timedelta(minutes=40))
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "visit"
    assert Visit.objects.get(pk=vid).ended_at == T0 + timedelta(minutes=30)

    late = photo(api, vid, "storefront", jpeg(scene(4)), now=T0 + timedelta(minutes=45))
    assert late.status_code == 409
    assert not VisitPhoto.objects.exists() and _no_files(media)


def test_end_with_absurd_coordinates(api, account):
    vid = start(api, account).json()["id"]
    with clock.frozen(T0 + timedelta(minutes=31)):
        r = api.post(f"/api/visits/{vid}/end", {"lat": 200, "lng": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lat"
    with clock.frozen(T0 + timedelta(minutes=31)):
        r = api.post(f"/api/visits/{vid}/end", {"lat": 31.2})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lng"


def test_client_id_repeat_returns_the_first_visit(api, account):
    first = start(api, account, client_id="c-123")
    second = start(api, account, client_id="c-123", at=T0 + timedelta(minutes=1))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and Visit.objects.count() == 1
    other = ApiClient(f.user("rep3", roles=("rep",), password=PW), password=PW)
    acc = f.account(owner=other.client and None, lat=1, lng=1)
    acc.owner = type(account.owner).objects.get(username="rep3")
    acc.save()
    assert start(other, acc, client_id="c-123").status_code == 409


# --- manager counts --------------------------------------------------------------------------------------


def test_counts_per_rep(api, account, rep):
    from baton.visits.selectors import visit_counts_by_rep

    full_visit(api, account)  # valid
    full_visit(api, account, seed=3, at=T0 + timedelta(hours=3), minutes=10)  # too short: invalid
    shots = [jpeg(scene(10), taken=T0 + timedelta(hours=6, minutes=5))] + [
        jpeg(scene(200 + i), taken=T0 + timedelta(hours=6, minutes=5)) for i in range(2)]
    full_visit(api, account, at=T0 + timedelta(hours=6), photos=shots)  # first visit's photo: suspicious
    start(api, account, at=T0 + timedelta(hours=9))  # still open
    manager = f.user("boss", roles=("manager",), password=PW)
    rep.manager = manager
    rep.save()
    counts = visit_counts_by_rep(user=manager)
    assert counts == [{"rep": rep.pk, "rep_name": "王小明", "total": 4, "open": 1, "valid": 1, "invalid": 1,
                       "suspicious": 1}]
    assert ApiClient(manager, password=PW).get("/api/visits/counts").json() == counts
    outsider = f.user("outsider", roles=("manager",), password=PW)
    assert visit_counts_by_rep(user=outsider) == []
