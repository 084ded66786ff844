"""Pictures people send are checked, shrunk and re-encoded before a vision model sees them."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from bot.vision import (
    ImageLimits,
    ImageRefused,
    check_declared,
    image_limit,
    prepare_image,
    vision_user_message,
)
from tests.fakes.openapi_validate import VENICE_SWAGGER, OpenAPIValidator


def _picture(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB", **save: object) -> bytes:
    img = Image.new(mode, size, (200, 40, 90) if mode == "RGB" else (200, 40, 90, 128))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims `width` x `height`: decoding it would need gigabytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _opened(url: str) -> Image.Image:
    header, _, data = url.partition(",")
    assert header.startswith("data:image/") and header.endswith(";base64")
    return Image.open(io.BytesIO(base64.b64decode(data)))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_each_accepted_format_becomes_a_data_url(fmt: str) -> None:
    prepared = prepare_image(_picture((300, 200), fmt))
    assert (prepared.width, prepared.height) == (300, 200)
    with _opened(prepared.data_url) as img:
        assert img.size == (300, 200)
        assert img.format == "JPEG"


def test_large_pictures_are_downscaled_to_the_longest_side() -> None:
    prepared = prepare_image(_picture((4000, 3000), "JPEG"), limits=ImageLimits(max_side=1024))
    assert (prepared.width, prepared.height) == (1024, 768)
    assert (prepared.original_width, prepared.original_height) == (4000, 3000)


def test_transparency_is_kept_as_png() -> None:
    prepared = prepare_image(_picture((128, 128), "PNG", mode="RGBA"))
    assert prepared.content_type == "image/png"
    with _opened(prepared.data_url) as img:
        assert img.mode == "RGBA"


def test_an_animation_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (100, 100), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    with _opened(prepare_image(buf.getvalue()).data_url) as img:
        red, _, blue = img.convert("RGB").getpixel((50, 50))
        assert red > 200 and blue < 60


def test_camera_orientation_is_applied_and_metadata_dropped() -> None:
    img = Image.new("RGB", (200, 100), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    exif[0x010F] = "SecretCam"  # camera make: metadata that must not travel
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    prepared = prepare_image(buf.getvalue())
    assert (prepared.width, prepared.height) == (100, 200)
    assert b"SecretCam" not in prepared.data
    with _opened(prepared.data_url) as out:
        assert not out.getexif()


@pytest.mark.parametrize("size", [(9_000, 5_000), (50_000, 50_000)])  # under and over Pillow's own guard
def test_a_decompression_bomb_is_refused_before_decoding(size: tuple[int, int]) -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare_image(_png_header_only(*size))
    assert refused.value.reason == "too_many_pixels"


@pytest.mark.parametrize(
    ("size", "reason"),
    [((63, 500), "too_small"), ((500, 40), "too_small"), ((70, 3000), "too_narrow")],
)
def test_pictures_a_model_cannot_use_are_refused(size: tuple[int, int], reason: str) -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare_image(_picture(size))
    assert refused.value.reason == reason


def test_the_real_format_is_read_from_the_bytes_not_the_name() -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare_image(_picture((100, 100), "BMP"))
    assert refused.value.reason == "unsupported_type"


def test_something_that_is_not_a_picture_is_unreadable() -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare_image(b"\x89PNG\r\n\x1a\n" + b"broken" * 50)
    assert refused.value.reason == "unreadable"


def test_bytes_over_the_limit_are_refused() -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare_image(_picture((100, 100)), limits=ImageLimits(max_bytes=100))
    assert refused.value.reason == "too_large"


@pytest.mark.parametrize(
    ("size", "content_type", "reason"),
    [
        (1_000, "image/bmp", "unsupported_type"),
        (1_000, None, "unsupported_type"),
        (11 * 2**20, "image/png", "too_large"),
    ],
)
def test_metadata_alone_refuses_the_obvious(size: int, content_type: str | None, reason: str) -> None:
    with pytest.raises(ImageRefused) as refused:
        check_declared(size=size, content_type=content_type)
    assert refused.value.reason == reason


def test_metadata_of_an_ordinary_photo_passes() -> None:
    check_declared(size=2_000_000, content_type="image/jpeg")


def test_the_message_has_a_text_part_then_one_part_per_picture() -> None:
    pics = [prepare_image(_picture((100, 100))), prepare_image(_picture((120, 100)))]
    message = vision_user_message("What is she wearing?", pics)
    assert message["role"] == "user"
    assert message["content"][0] == {"type": "text", "text": "What is she wearing?"}
    assert [p["type"] for p in message["content"][1:]] == ["image_url", "image_url"]
    assert message["content"][2]["image_url"]["url"] == pics[1].data_url


def test_a_picture_without_words_has_no_empty_text_part() -> None:
    message = vision_user_message("  ", [prepare_image(_picture((100, 100)))])
    assert [p["type"] for p in message["content"]] == ["image_url"]


def test_a_model_that_takes_one_picture_gets_the_last() -> None:
    pics = [prepare_image(_picture((100, 100))), prepare_image(_picture((130, 100)))]
    message = vision_user_message("look", pics, limit=1)
    assert [p["image_url"]["url"] for p in message["content"][1:]] == [pics[1].data_url]


@pytest.mark.parametrize(
    ("vision", "multiple", "max_images", "limit"),
    [(False, True, 10, 0), (True, False, 10, 1), (True, True, 10, 10), (True, True, None, 1)],
)
def test_how_many_pictures_a_model_takes(vision: bool, multiple: bool, max_images: int | None, limit: int) -> None:
    assert image_limit(supports_vision=vision, supports_multiple=multiple, max_images=max_images) == limit


@pytest.mark.skipif(not VENICE_SWAGGER.exists(), reason=f"{VENICE_SWAGGER} missing (../shared)")
def test_the_message_is_what_venice_chat_completions_accepts() -> None:
    message = vision_user_message("Describe this.", [prepare_image(_picture((100, 100)))])
    body = {"model": "venice-uncensored-1-2", "messages": [{"role": "system", "content": "Be brief."}, message]}
    assert OpenAPIValidator.from_file(VENICE_SWAGGER).validate_request("POST", "/chat/completions", body) == []
