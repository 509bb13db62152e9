"""Image attachments: check by content, strip metadata, make thumbnails. Bytes in, bytes out.

* :func:`inspect_image` decides whether bytes are an acceptable image (JPEG, PNG or WebP, judged
  by content, never by name) within a byte and a pixel limit, decoding it fully so that truncated
  or forged files are refused; it raises :class:`~fengqiao.core.errors.InvalidInput`.
* :func:`strip_metadata` re-encodes the image from its pixels alone, after turning it upright by its
  EXIF orientation: no EXIF (so no GPS position, camera or time), no XMP, no comments or text
  chunks, no ICC profile (colours are converted to sRGB first), and nothing appended to the file.
  Store this copy wherever the picture can become public.
* :func:`thumbnail` makes a small upright, metadata-free JPEG or WebP.

Settings: ``ATTACHMENT_MAX_BYTES`` (default 10 MiB) and ``ATTACHMENT_MAX_PIXELS`` (default 64
million, enough for a 48-megapixel camera). Animated images keep their first frame only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, JpegImagePlugin

from fengqiao.core.errors import ErrorDetail, InvalidInput

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 64_000_000

# Pillow's plugins are only asked about these formats: the others' parsers never see the bytes.
FORMATS = ("JPEG", "PNG", "WEBP")
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}

THUMBNAIL_FORMATS = ("JPEG", "WEBP")
_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "JPEG", "PNG" or "WEBP"
    mime_type: str
    extension: str  # without the dot, for naming the stored file by its content
    width: int  # as displayed, i.e. after the EXIF orientation
    height: int
    size_bytes: int
    frames: int = 1


def max_bytes_setting() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_pixels_setting() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def _refuse(code: str, message: str, field: str | None, **params: Any) -> InvalidInput:
    return InvalidInput(
        code, message, errors=[ErrorDetail(code=code, message=message, field=field, params=params)]
    )


def _not_an_image(field: str | None) -> InvalidInput:
    return _refuse("not_an_image", _("The file is not a readable JPEG, PNG or WebP image."), field)


def _open(
    data: bytes,
    *,
    max_bytes: int | None,
    max_pixels: int | None,
    field: str | None,
    draft: tuple[int, int] | None = None,
) -> Image.Image:
    """The decoded first frame of ``data``, or the refusal :func:`inspect_image` documents."""
    max_bytes = max_bytes_setting() if max_bytes is None else max_bytes
    max_pixels = max_pixels_setting() if max_pixels is None else max_pixels
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("image data must be bytes")
    if len(data) > max_bytes:
        raise _refuse(
            "too_large",
            _("The file is larger than %(limit)s.") % {"limit": filesizeformat(max_bytes)},
            field,
            limit=max_bytes,
            size=len(data),
        )
    if not data:
        raise _not_an_image(field)
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise _too_many_pixels(field, max_pixels) from None
    except MemoryError:
        raise
    except Exception:  # UnidentifiedImageError and whatever a parser raises on a forged header
        raise _not_an_image(field) from None
    width, height = image.size
    if width < 1 or height < 1:
        raise _not_an_image(field)
    if width * height > max_pixels:
        raise _too_many_pixels(field, max_pixels)
    try:
        if draft is not None and image.format == "JPEG":
            image.draft("RGB", draft)
        image.load()  # decodes everything: a truncated or corrupt file fails here
    except Image.DecompressionBombError:
        raise _too_many_pixels(field, max_pixels) from None
    except MemoryError:
        raise
    except Exception:
        raise _not_an_image(field) from None
    return image


def _too_many_pixels(field: str | None, max_pixels: int) -> InvalidInput:
    return _refuse(
        "too_many_pixels",
        _("The image has more than %(limit)s million pixels.") % {"limit": f"{max_pixels / 1_000_000:g}"},
        field,
        limit=max_pixels,
    )


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_ORIENTATION_TAG, 1) or 1)
    except Exception:  # a malformed EXIF block must not make an otherwise good picture unusable
        return 1


def inspect_image(
    data: bytes,
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    field: str | None = None,
) -> ImageInfo:
    """What ``data`` is, or :class:`InvalidInput` with one error whose code is:

    * ``too_large``: more than ``max_bytes`` (default ``ATTACHMENT_MAX_BYTES``);
    * ``too_many_pixels``: more than ``max_pixels`` (default ``ATTACHMENT_MAX_PIXELS``), judged
      from the header before anything is decoded (decompression bombs);
    * ``not_an_image``: not a JPEG, PNG or WebP by content, or one that does not decode (truncated,
      forged, corrupt).

    ``field`` is put on the error, for forms and API answers.
    """
    with _open(data, max_bytes=max_bytes, max_pixels=max_pixels, field=field) as image:
        width, height = image.size
        if _orientation(image) in _SWAPPING_ORIENTATIONS:
            width, height = height, width
        fmt = image.format or ""
        return ImageInfo(
            format=fmt,
            mime_type=MIME_TYPES[fmt],
            extension=EXTENSIONS[fmt],
            width=width,
            height=height,
            size_bytes=len(data),
            frames=int(getattr(image, "n_frames", 1) or 1),
        )


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert colours described by an embedded ICC profile to sRGB (so it can be dropped)."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        target_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=target_mode
        )
        return converted if converted is not None else image
    except Exception:  # no littlecms, or a profile it cannot read: keep the pixels as they are
        return image


def _clean_pixels(image: Image.Image, *, keep_alpha: bool) -> Image.Image:
    """Upright pixels in L, RGB or RGBA, in a new image that carries no ``info`` at all."""
    try:
        image = ImageOps.exif_transpose(image) or image  # keeps ``info``, so the ICC profile is still there
    except Exception:  # a malformed EXIF block: keep the picture as stored rather than refuse it
        image = image.copy()
    image = _to_srgb(image)
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit grey (scans, some PNGs): scale to 8 bits instead of letting convert() clip
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha and keep_alpha:
        mode = "RGBA"
    elif image.mode in ("L", "RGB"):
        mode = image.mode
    else:
        mode = "RGB"
    if has_alpha and not keep_alpha:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != mode:
        image = image.convert(mode)
    # A fresh image from the raw pixels: no EXIF, XMP, ICC, comment, text chunk or palette trick
    # can ride along, whatever the encoder would otherwise copy from ``info``.
    return Image.frombytes(mode, image.size, image.tobytes())


def _jpeg_options(source: Image.Image) -> dict[str, Any]:
    """Re-encode a JPEG with its own quantisation tables and sampling: same quality, similar size."""
    options: dict[str, Any] = {"optimize": True}
    qtables = getattr(source, "quantization", None)
    try:
        sampling = JpegImagePlugin.get_sampling(source)
    except Exception:  # unusual component layout: fall back to a fixed quality
        sampling = -1
    if qtables and source.mode in ("RGB", "L") and sampling >= 0:
        options.update(qtables=qtables, subsampling=sampling)
    else:
        options["quality"] = 90
    return options


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def strip_metadata(data: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None) -> bytes:
    """The same picture, upright, in the same format, with no metadata; refusals as inspect_image."""
    with _open(data, max_bytes=max_bytes, max_pixels=max_pixels, field=None) as source:
        fmt = source.format or ""
        if fmt == "JPEG":
            options = _jpeg_options(source)
            if _orientation(source) != 1:
                # rotated blocks no longer line up with the original sampling grid
                options.pop("subsampling", None)
            clean = _clean_pixels(source, keep_alpha=False)
            return _encode(clean, "JPEG", **options)
        clean = _clean_pixels(source, keep_alpha=True)
        if fmt == "PNG":
            return _encode(clean, "PNG", optimize=True)
        return _encode(clean, "WEBP", quality=90, method=4)


def thumbnail(
    data: bytes,
    size: tuple[int, int] = (320, 320),
    *,
    format: str = "JPEG",
    quality: int = 82,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> bytes:
    """An upright, metadata-free JPEG (or WebP) that fits in ``size``, keeping the aspect ratio.

    Never enlarges a small picture; transparency is flattened on white for JPEG. Refusals as
    :func:`inspect_image`.
    """
    fmt = format.upper()
    if fmt not in THUMBNAIL_FORMATS:
        raise ValueError(f"thumbnail format must be one of {THUMBNAIL_FORMATS}, not {format!r}")
    if size[0] < 1 or size[1] < 1:
        raise ValueError("thumbnail size must be positive")
    with _open(
        data, max_bytes=max_bytes, max_pixels=max_pixels, field=None, draft=(max(size), max(size))
    ) as source:
        clean = _clean_pixels(source, keep_alpha=fmt == "WEBP")
        clean.thumbnail(size, Image.Resampling.LANCZOS)
        if fmt == "JPEG":
            return _encode(clean, "JPEG", quality=quality, optimize=True)
        return _encode(clean, "WEBP", quality=quality, method=4)
