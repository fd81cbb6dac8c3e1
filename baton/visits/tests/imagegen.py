"""Real photos for the visit tests and the benchmark, drawn with Pillow (seeded, so repeatable)."""

import io
import math
import random
from datetime import datetime

from PIL import ExifTags, Image, ImageDraw, ImageEnhance, TiffImagePlugin


def scene(seed: int, size=(1024, 768)) -> Image.Image:
    """A 'photo': a gradient sky and random shapes; different seeds give unrelated pictures."""
    rnd = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    top, bottom = [rnd.randrange(256) for _ in range(3)], [rnd.randrange(256) for _ in range(3)]
    draw = ImageDraw.Draw(img)
    for y in range(h):
        t = y / h
        draw.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    for _ in range(25):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        x1, y1 = x0 + rnd.randrange(w // 25 + 1, w // 2 + 2), y0 + rnd.randrange(h // 25 + 1, h // 2 + 2)
        color = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=color)
    return img


def _dms(value: float):
    value = abs(value)
    deg = math.floor(value)
    minutes = math.floor((value - deg) * 60)
    sec = (value - deg - minutes / 60) * 3600
    r = TiffImagePlugin.IFDRational
    return (r(deg, 1), r(minutes, 1), r(round(sec * 10000), 10000))


def jpeg(img: Image.Image, *, taken: datetime | None = None, lat=None, lng=None, quality=90) -> bytes:
    """`img` as JPEG bytes with EXIF DateTimeOriginal (local wall time, as phones write it) and GPS."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if lat is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lng >= 0 else "W"), _dms(lng)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def tweaked(img: Image.Image) -> Image.Image:
    """A near-copy: scaled to 95 %, 4 % brighter (then re-saved at another JPEG quality by the caller)."""
    w, h = img.size
    return ImageEnhance.Brightness(img.resize((int(w * 0.95), int(h * 0.95)))).enhance(1.04)
