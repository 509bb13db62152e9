"""Image attachments: checked by content, metadata stripped, upright, thumbnails, refusals."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin, features

from fengqiao.core.errors import InvalidInput
from fengqiao.core.images import ImageInfo, inspect_image, strip_metadata, thumbnail

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="30,15.5N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
needs_webp = pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")


def two_colour(width=40, height=20, mode="RGB"):
    """Left half red, right half blue: orientation can be read back from the pixels."""
    image = Image.new(mode, (width, height), (200, 0, 0) if mode == "RGB" else (200, 0, 0, 255))
    image.paste((0, 0, 200) if mode == "RGB" else (0, 0, 200, 128), (width // 2, 0, width, height))
    return image


def exif_with_gps(orientation=None):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    exif[ExifTags.Base.DateTime] = "2025:05:01 10:00:00"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 15.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (120.0, 5.0, 0.0)
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg(image=None, *, orientation=None, **options) -> bytes:
    out = io.BytesIO()
    (image or two_colour()).save(
        out,
        "JPEG",
        quality=95,
        exif=exif_with_gps(orientation),
        xmp=XMP,
        comment=b"taken at home",
        icc_profile=srgb_profile(),
        **options,
    )
    return out.getvalue()


def png_with_metadata() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at home")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    two_colour(mode="RGBA").save(out, "PNG", pnginfo=info, exif=exif_with_gps(), icc_profile=srgb_profile())
    return out.getvalue()


def crafted_png(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of any size, built row by row so no big image is ever in memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_no_metadata(data: bytes) -> None:
    image = reopen(data)
    assert not image.getexif()
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "Comment", "icc_profile"):
        assert key not in image.info, key
    assert b"Exif\x00\x00" not in data
    assert b"PhoneMaker" not in data
    assert b"ns.adobe.com" not in data
    assert b"taken at home" not in data


def refusal(excinfo) -> tuple[str, ...]:
    return tuple(error.code for error in excinfo.value.errors)


def dominant(pixel) -> str:
    red, _green, blue = pixel[:3]
    return "red" if red > blue else "blue"


# --- the fixtures really carry what must be removed -----------------------------------------------


def test_the_sample_jpeg_carries_exif_gps_xmp_icc_and_a_comment():
    image = reopen(jpeg(orientation=6))
    exif = image.getexif()
    assert exif[ExifTags.Base.Orientation] == 6
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert {"exif", "xmp", "comment", "icc_profile"} <= set(image.info)


# --- inspect_image -----------------------------------------------------------------------------


def test_inspect_a_jpeg():
    data = jpeg()
    assert inspect_image(data) == ImageInfo(
        format="JPEG", mime_type="image/jpeg", extension="jpg", width=40, height=20, size_bytes=len(data)
    )


def test_inspect_reports_upright_dimensions():
    info = inspect_image(jpeg(orientation=6))
    assert (info.width, info.height) == (20, 40)


def test_inspect_png_and_webp():
    assert inspect_image(png_with_metadata()).format == "PNG"
    if features.check("webp"):
        out = io.BytesIO()
        two_colour().save(out, "WEBP")
        info = inspect_image(out.getvalue())
        assert (info.format, info.mime_type, info.extension) == ("WEBP", "image/webp", "webp")


def test_limits_come_from_settings(settings):
    data = jpeg()
    settings.ATTACHMENT_MAX_BYTES = len(data) - 1
    with pytest.raises(InvalidInput) as excinfo:
        inspect_image(data)
    assert refusal(excinfo) == ("too_large",)
    settings.ATTACHMENT_MAX_BYTES = len(data)
    settings.ATTACHMENT_MAX_PIXELS = 799
    with pytest.raises(InvalidInput) as excinfo:
        inspect_image(data)
    assert refusal(excinfo) == ("too_many_pixels",)
    settings.ATTACHMENT_MAX_PIXELS = 800
    assert inspect_image(data).width == 40


# --- refusals ----------------------------------------------------------------------------------


def truncated_jpeg() -> bytes:
    image = Image.effect_noise((400, 300), 80).convert("RGB")
    data = jpeg(image)
    return data[: len(data) // 2]


def forged_png() -> bytes:
    data = bytearray(png_with_metadata())
    data[-30:-20] = b"\x00" * 10  # breaks a chunk checksum
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"hello, this is a text file named photo.jpg\n", id="text"),
        pytest.param(b"<!DOCTYPE html><html><script>alert(1)</script></html>", id="html"),
        pytest.param(b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>", id="jpeg-magic-then-html"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, id="png-magic-then-zeros"),
        pytest.param(truncated_jpeg(), id="truncated-jpeg"),
        pytest.param(forged_png(), id="corrupt-png"),
        pytest.param(
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
            b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
            id="gif-not-accepted",
        ),
        pytest.param(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", id="pdf"),
    ],
)
def test_not_an_image(data):
    for operation in (inspect_image, strip_metadata, thumbnail):
        with pytest.raises(InvalidInput) as excinfo:
            operation(data)
        assert refusal(excinfo) == ("not_an_image",)
        assert excinfo.value.status == 422


def test_too_large_is_refused_before_parsing():
    with pytest.raises(InvalidInput) as excinfo:
        inspect_image(b"x" * 101, max_bytes=100, field="attachment")
    assert refusal(excinfo) == ("too_large",)
    error = excinfo.value.errors[0]
    assert error.field == "attachment"
    assert error.params == {"limit": 100, "size": 101}
    assert "100" in str(error.message)


def test_too_large_default_is_ten_mebibytes():
    with pytest.raises(InvalidInput) as excinfo:
        inspect_image(b"\xff" * (10 * 1024 * 1024 + 1))
    assert refusal(excinfo) == ("too_large",)


def test_a_pixel_bomb_is_refused_from_its_header():
    bomb = crafted_png(20_000, 20_000)  # 400 million pixels in a file of ~50 kB
    assert len(bomb) < 200_000
    for operation in (inspect_image, strip_metadata, thumbnail):
        with pytest.raises(InvalidInput) as excinfo:
            operation(bomb)
        assert refusal(excinfo) == ("too_many_pixels",)


def test_the_pixel_limit_is_ours_not_only_pillows():
    data = crafted_png(3000, 2000)  # 6 Mpx, well under Pillow's own limit
    assert inspect_image(data).width == 3000
    with pytest.raises(InvalidInput) as excinfo:
        inspect_image(data, max_pixels=5_000_000)
    assert refusal(excinfo) == ("too_many_pixels",)
    assert excinfo.value.errors[0].params == {"limit": 5_000_000}


def test_messages_are_english_source_strings_through_gettext():
    from django.utils import translation

    with translation.override("en"), pytest.raises(InvalidInput) as excinfo:
        inspect_image(b"text")
    assert str(excinfo.value.errors[0].message) == "The file is not a readable JPEG, PNG or WebP image."


# --- strip_metadata ----------------------------------------------------------------------------


def test_stripped_jpeg_has_no_metadata_and_stays_a_jpeg():
    stripped = strip_metadata(jpeg())
    assert_no_metadata(stripped)
    image = reopen(stripped)
    assert (image.format, image.size) == ("JPEG", (40, 20))
    assert dominant(image.getpixel((5, 10))) == "red"
    assert dominant(image.getpixel((35, 10))) == "blue"


@pytest.mark.parametrize(
    ("orientation", "size", "top", "bottom"),
    [
        (1, (40, 20), None, None),
        (3, (40, 20), None, None),
        (6, (20, 40), "red", "blue"),
        (8, (20, 40), "blue", "red"),
    ],
)
def test_orientation_is_applied_before_stripping(orientation, size, top, bottom):
    image = reopen(strip_metadata(jpeg(orientation=orientation)))
    assert image.size == size
    assert not image.getexif()
    if top:
        # orientation 6: the camera was turned right, so the stored left edge is the top
        assert dominant(image.getpixel((10, 5))) == top
        assert dominant(image.getpixel((10, 35))) == bottom
    elif orientation == 3:
        assert dominant(image.getpixel((5, 10))) == "blue"


def test_stripped_png_keeps_transparency_and_loses_text_chunks():
    stripped = strip_metadata(png_with_metadata())
    assert_no_metadata(stripped)
    image = reopen(stripped)
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (40, 20))
    assert image.getpixel((35, 10))[3] == 128
    assert b"tEXt" not in stripped and b"iTXt" not in stripped and b"eXIf" not in stripped


@needs_webp
def test_stripped_webp_has_no_metadata():
    out = io.BytesIO()
    two_colour().save(out, "WEBP", exif=exif_with_gps(6), xmp=XMP, icc_profile=srgb_profile())
    original = reopen(out.getvalue())
    assert "exif" in original.info and "xmp" in original.info
    stripped = strip_metadata(out.getvalue())
    assert_no_metadata(stripped)
    image = reopen(stripped)
    assert (image.format, image.size) == ("WEBP", (20, 40))


def test_trailing_data_after_the_image_is_dropped():
    data = jpeg() + b"<script>alert(1)</script>"
    stripped = strip_metadata(data)
    assert b"<script>" not in stripped


def test_other_modes_are_re_encoded():
    for mode, fmt in [
        ("P", "PNG"),
        ("L", "PNG"),
        ("I;16", "PNG"),
        ("CMYK", "JPEG"),
        ("L", "JPEG"),
        ("1", "PNG"),
    ]:
        out = io.BytesIO()
        Image.new(mode, (8, 6)).save(out, fmt)
        image = reopen(strip_metadata(out.getvalue()))
        assert (image.format, image.size) == (fmt, (8, 6))
        assert image.mode in ("L", "RGB", "RGBA")


# --- thumbnail ---------------------------------------------------------------------------------


def test_thumbnail_fits_and_is_clean():
    big = jpeg(Image.new("RGB", (2000, 1500), (10, 120, 30)))
    small = thumbnail(big)
    assert_no_metadata(small)
    image = reopen(small)
    assert (image.format, image.size) == ("JPEG", (320, 240))


def test_thumbnail_is_upright():
    image = reopen(thumbnail(jpeg(two_colour(400, 200), orientation=6), (100, 100)))
    assert image.size == (50, 100)
    assert dominant(image.getpixel((25, 10))) == "red"
    assert dominant(image.getpixel((25, 90))) == "blue"


def test_thumbnail_never_enlarges():
    assert reopen(thumbnail(jpeg())).size == (40, 20)


def test_thumbnail_of_a_transparent_png_as_jpeg_is_flattened():
    image = reopen(thumbnail(png_with_metadata(), (20, 20)))
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert image.size == (20, 10)


@needs_webp
def test_thumbnail_as_webp():
    small = thumbnail(png_with_metadata(), (20, 20), format="webp")
    assert_no_metadata(small)
    image = reopen(small)
    assert (image.format, image.size, image.mode) == ("WEBP", (20, 10), "RGBA")


def test_thumbnail_format_is_checked():
    with pytest.raises(ValueError, match="format"):
        thumbnail(jpeg(), format="PNG")


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL.TiffImagePlugin")  # Pillow's notes on corrupt EXIF
def test_damaged_files_are_refused_or_cleaned_never_an_unexpected_error():
    import random

    rng = random.Random(20250501)
    samples = [jpeg(Image.effect_noise((64, 48), 60).convert("RGB"), orientation=6), png_with_metadata()]
    for sample in samples:
        for _ in range(150):
            data = bytearray(sample)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(1, len(data))]
            for operation in (inspect_image, strip_metadata, thumbnail):
                try:
                    result = operation(bytes(data))
                except InvalidInput as exc:
                    assert len(exc.errors) == 1
                    assert exc.code in {"not_an_image", "too_many_pixels"}
                else:
                    if operation is not inspect_image:
                        assert_no_metadata(result)
