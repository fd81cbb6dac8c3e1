"""Photo handling for visits, with Pillow only: safe decoding, EXIF reading, a 64-bit difference hash and
the burned-in watermark.

Safety: an upload is refused before decoding when its header announces more than
`settings.BATON_VISIT_MAX_PIXELS` pixels (default 40 MP), and Pillow's `DecompressionBombWarning` is
turned into an error while decoding, so a decompression bomb is never expanded in memory.
"""

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from baton.core.errors import ValidationFailed

log = logging.getLogger(__name__)

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
DEFAULT_MAX_PIXELS = 40_000_000
MAX_LONG_SIDE = 2048  # the stored (watermarked) photo is scaled down to this long side
DRAFT_LONG_SIDE = 1600  # big JPEGs are decoded at a reduced scale, never below this long side
JPEG_QUALITY = 85


def max_pixels() -> int:
    return int(getattr(settings, "BATON_VISIT_MAX_PIXELS", DEFAULT_MAX_PIXELS))


@dataclass
class Decoded:
    image: Image.Image  # RGB, upright (EXIF orientation applied)
    sha256: str
    exif_taken_at: datetime | None
    exif_lat: float | None
    exif_lng: float | None


def _refuse(message):
    return ValidationFailed(errors=[("image", message)])


def decode(data: bytes) -> Decoded:
    """Decode an uploaded photo; anything that is not a safe, readable image raises ValidationFailed."""
    if not data:
        raise _refuse(_("The file is empty."))
    if len(data) > settings.BATON_MAX_UPLOAD_BYTES:
        raise _refuse(_("The file is larger than %(max)s MB.") % {
            "max": settings.BATON_MAX_UPLOAD_BYTES // (1024 * 1024)})
    too_big = _("The image is too large (more than %(max)s million pixels).") % {
        "max": round(max_pixels() / 1_000_000)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > max_pixels():
                raise _refuse(too_big)
            long_side = max(img.size)
            if img.format == "JPEG" and long_side > MAX_LONG_SIDE:
                # Let the JPEG decoder scale by 1/2, 1/4 … while staying >= DRAFT_LONG_SIDE: 4× less work.
                f = DRAFT_LONG_SIDE / long_side
                img.draft("RGB", (int(img.width * f), int(img.height * f)))
            img.load()
            exif = img.getexif()
            img = ImageOps.exif_transpose(img)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _refuse(too_big) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse(_("The file is not an image (JPEG, PNG or WebP).")) from None
    if img.mode != "RGB":
        img = img.convert("RGB")
    taken_at, lat, lng = read_exif(exif)
    return Decoded(image=img, sha256=hashlib.sha256(data).hexdigest(), exif_taken_at=taken_at,
                   exif_lat=lat, exif_lng=lng)


def _ratio(value) -> float:
    return float(value[0]) / float(value[1]) if isinstance(value, tuple) else float(value)


def _dms(values, ref) -> float | None:
    try:
        deg, minutes, sec = (_ratio(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    out = deg + minutes / 60 + sec / 3600
    return -out if str(ref).upper() in ("S", "W") else out


def read_exif(exif) -> tuple[datetime | None, float | None, float | None]:
    """(DateTimeOriginal, GPS latitude, GPS longitude) from an Exif block; missing or broken parts are None.

    EXIF times carry no zone unless OffsetTimeOriginal is set: without it the time is read in the company
    time zone (settings.TIME_ZONE), which is where the phones are.
    """
    taken_at = lat = lng = None
    try:
        ifd = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001 - a broken Exif block is the same as none
        ifd = {}
    raw = ifd.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if raw:
        try:
            naive = datetime.strptime(str(raw).strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
            offset = ifd.get(ExifTags.Base.OffsetTimeOriginal)
            if offset:
                taken_at = datetime.strptime(f"{naive:%Y-%m-%d %H:%M:%S}{str(offset).strip()}",
                                             "%Y-%m-%d %H:%M:%S%z")
            else:
                taken_at = timezone.make_aware(naive, timezone.get_default_timezone())
        except (ValueError, OverflowError):
            taken_at = None
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # noqa: BLE001
        gps = {}
    if gps.get(2) and gps.get(4):
        lat, lng = _dms(gps[2], gps.get(1, "N")), _dms(gps[4], gps.get(3, "E"))
        if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
            lat = lng = None
    return taken_at, lat, lng


def dhash(img: Image.Image) -> str:
    """64-bit difference hash as 16 hex digits: 9×8 grey thumbnail, one bit per left/right comparison.

    Survives re-compression, scaling, small brightness changes and a watermark-free re-shoot of the same
    printout; two unrelated photos differ in ~32 bits on average.
    """
    small = img.convert("L").resize((9, 8), Image.Resampling.LANCZOS, reducing_gap=2.0)
    px = small.load()
    bits = 0
    for y in range(8):
        for x in range(8):
            bits = (bits << 1) | (1 if px[x, y] > px[x + 1, y] else 0)
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


_font_cache: dict[int, ImageFont.ImageFont] = {}


def _font(size: int):
    if size not in _font_cache:
        if CJK_FONT.exists():
            _font_cache[size] = ImageFont.truetype(str(CJK_FONT), size)
        else:
            log.warning("CJK font %s is missing (apt-get install fonts-wqy-microhei): watermark uses "
                        "Pillow's default font, Chinese characters may not show", CJK_FONT)
            _font_cache[size] = ImageFont.load_default(size=size)
    return _font_cache[size]


def watermark(img: Image.Image, lines: list[str]) -> Image.Image:
    """`img` scaled to MAX_LONG_SIDE with `lines` in white on a 55 % black band across the bottom."""
    img = img.copy()
    img.thumbnail((MAX_LONG_SIDE, MAX_LONG_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    w, h = img.size
    size = max(12, min(w, h) // 28)
    font = _font(size)
    pad = max(4, size // 2)
    line_h = int(size * 1.3)
    band_h = min(h, pad * 2 + line_h * len(lines))
    box = (0, h - band_h, w, h)
    band = img.crop(box).convert("RGBA")  # only the band is blended: the rest of the photo is untouched
    overlay = Image.new("RGBA", band.size, (0, 0, 0, 140))
    draw = ImageDraw.Draw(overlay)
    y = pad
    for line in lines:
        draw.text((pad, y), line, font=font, fill=(255, 255, 255, 255))
        y += line_h
    img.paste(Image.alpha_composite(band, overlay).convert("RGB"), box[:2])
    return img


def to_jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
