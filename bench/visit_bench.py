"""Visit benchmark: the time to verify one visit with 3 photos, through the real API.

    .venv/bin/python bench/visit_bench.py [--visits 10] [--size 4032x3024]

In a temporary SQLite database and media folder: one rep and one account, then per visit
POST /api/visits, 3 × POST /api/visits/<id>/photos (phone-sized JPEGs with EXIF time + GPS: decode,
EXIF, SHA-256, difference hash, watermark, JPEG encode, store) and POST /api/visits/<id>/end (all checks,
including the re-use check against every earlier visit's photos, and the visit activity).
Prints per-step medians and the total per visit, plus where the photo time goes (decode / hash / watermark).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--visits", type=int, default=10)
    p.add_argument("--size", default="4032x3024", help="photo size in pixels (a 12 MP phone photo by default)")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

    tmp = tempfile.mkdtemp(prefix="visit_bench_")
    os.environ["BATON_VAR_DIR"] = tmp
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baton.config.settings")
    os.environ["BATON_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from baton.core import clock
    from baton.core.testing import factories as f
    from baton.org.services import api_token_issue
    from baton.visits import imaging
    from baton.visits.tests.imagegen import jpeg, scene

    call_command("migrate", verbosity=0)
    rep = f.user("bench_rep", roles=("rep",), password="pass12345", display_name="基准测试员")
    acc = f.account(owner=rep, lat=31.230416, lng=121.473701, name="基准客户")
    _, token = api_token_issue(username=rep.username, password="pass12345")
    client = Client(headers={"Authorization": f"Bearer {token}"})

    t0 = timezone.now().replace(microsecond=0) - timedelta(days=args.visits + 1)
    kinds = ("storefront", "meeting_table", "signature_page")
    print(f"generating {args.visits * 3} photos of {w}x{h} ...", flush=True)
    shots = {}
    for v in range(args.visits):
        at = t0 + timedelta(days=v)
        shots[v] = [jpeg(scene(v * 3 + i, (w, h)), taken=timezone.localtime(at + timedelta(minutes=5 + i)),
                         lat=31.2305, lng=121.4738, quality=92) for i in range(3)]
    sizes = [len(b) for s in shots.values() for b in s]
    print(f"photo size: median {statistics.median(sizes) / 1e6:.2f} MB")

    t_start, t_photo, t_end, t_total = [], [], [], []
    for v in range(args.visits):
        at = t0 + timedelta(days=v)
        begin = time.perf_counter()
        with clock.frozen(at + timedelta(seconds=2)):
            s = time.perf_counter()
            r = client.post("/api/visits", {"account": acc.pk, "lat": 31.2305, "lng": 121.4738, "accuracy": 10,
                                            "device_id": "bench-phone", "started_at": at.isoformat()},
                            content_type="application/json")
            t_start.append(time.perf_counter() - s)
        assert r.status_code == 201, r.content
        vid = r.json()["id"]
        for i, kind in enumerate(kinds):
            with clock.frozen(at + timedelta(minutes=6 + i)):
                s = time.perf_counter()
                r = client.post(f"/api/visits/{vid}/photos",
                                {"image": SimpleUploadedFile(f"{kind}.jpg", shots[v][i], "image/jpeg"),
                                 "kind": kind})
                t_photo.append(time.perf_counter() - s)
            assert r.status_code == 201, r.content
        with clock.frozen(at + timedelta(minutes=31)):
            s = time.perf_counter()
            r = client.post(f"/api/visits/{vid}/end", {"lat": 31.2305, "lng": 121.4738,
                                                       "ended_at": (at + timedelta(minutes=30)).isoformat()},
                            content_type="application/json")
            t_end.append(time.perf_counter() - s)
        assert r.status_code == 200 and r.json()["valid"], r.content
        t_total.append(time.perf_counter() - begin)

    # Where one photo's time goes (same work as the upload, without HTTP and the database).
    data = shots[0][0]
    parts = {"decode + EXIF + SHA-256": [], "difference hash": [], "watermark": [], "JPEG encode": []}
    for _ in range(5):
        s = time.perf_counter()
        decoded = imaging.decode(data)
        parts["decode + EXIF + SHA-256"].append(time.perf_counter() - s)
        s = time.perf_counter()
        imaging.dhash(decoded.image)
        parts["difference hash"].append(time.perf_counter() - s)
        s = time.perf_counter()
        marked = imaging.watermark(decoded.image, ["2026-03-02 10:05:00 +0800", "N 31.230500°, E 121.473800°",
                                                   "设备: bench-phone", "销售: 基准测试员"])
        parts["watermark"].append(time.perf_counter() - s)
        s = time.perf_counter()
        imaging.to_jpeg(marked)
        parts["JPEG encode"].append(time.perf_counter() - s)

    ms = lambda xs: f"{statistics.median(xs) * 1000:8.1f} ms"  # noqa: E731
    print(f"\nvisits: {args.visits}, photos {w}x{h}, SQLite, font {'CJK' if imaging.CJK_FONT.exists() else 'default'}")
    print(f"  start visit          {ms(t_start)}")
    print(f"  one photo (upload)   {ms(t_photo)}   (max {max(t_photo) * 1000:.1f} ms)")
    print(f"  end + all checks     {ms(t_end)}")
    print(f"  one visit, 3 photos  {ms(t_total)}   (min {min(t_total) * 1000:.1f}, max {max(t_total) * 1000:.1f})")
    print("one photo, by step:")
    for name, xs in parts.items():
        print(f"  {name:24} {ms(xs)}")


if __name__ == "__main__":
    main()
