"""Fitting real images under Discord's upload limit, and probing untrusted bytes."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from bot.images.encode import fit_to_limit, probe


def noisy_image(width: int, height: int, mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Random pixels: the worst case for every codec, so sizes are large and predictable."""
    rng = random.Random(seed)
    channels = len(mode)
    return Image.frombytes(mode, (width, height), rng.randbytes(width * height * channels))


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    image.close()
    return buffer.getvalue()


def test_within_the_limit_is_returned_untouched() -> None:
    data = encoded(noisy_image(64, 64), "WEBP")
    out, content_type, extension = fit_to_limit(data, "image/webp", len(data))
    assert out is data
    assert (content_type, extension) == ("image/webp", "webp")


@pytest.mark.parametrize(
    ("fmt", "given", "expected"),
    [
        ("PNG", "", ("image/png", "png")),
        ("JPEG", "application/octet-stream", ("image/jpeg", "jpg")),
        ("WEBP", "image/webp; charset=binary", ("image/webp", "webp")),
        ("PNG", "IMAGE/PNG", ("image/png", "png")),
    ],
)
def test_type_and_extension_are_known_for_small_images(fmt: str, given: str, expected: tuple[str, str]) -> None:
    data = encoded(noisy_image(32, 32), fmt)
    _, content_type, extension = fit_to_limit(data, given, 10_000_000)
    assert (content_type, extension) == expected


def test_an_oversized_png_is_reencoded_below_the_limit() -> None:
    data = encoded(noisy_image(512, 512), "PNG")
    limit = len(data) // 3
    out, content_type, extension = fit_to_limit(data, "image/png", limit)
    assert len(out) <= limit
    assert (content_type, extension) == ("image/webp", "webp")
    with Image.open(io.BytesIO(out)) as image:
        assert image.format == "WEBP"
        assert image.size == (512, 512)  # quality alone was enough


def test_a_far_too_large_image_is_downscaled_to_fit() -> None:
    data = encoded(noisy_image(768, 512), "PNG")
    limit = 40_000
    out, _, _ = fit_to_limit(data, "image/png", limit)
    assert len(out) <= limit
    with Image.open(io.BytesIO(out)) as image:
        width, height = image.size
    assert width < 768
    assert width / height == pytest.approx(1.5, rel=0.02)


def test_jpeg_output_when_preferred_flattens_transparency() -> None:
    data = encoded(noisy_image(256, 256, "RGBA"), "PNG")
    out, content_type, extension = fit_to_limit(data, "image/png", len(data) // 2, prefer="jpeg")
    assert (content_type, extension) == ("image/jpeg", "jpg")
    assert len(out) <= len(data) // 2
    with Image.open(io.BytesIO(out)) as image:
        assert image.mode == "RGB"


def test_webp_output_keeps_transparency() -> None:
    data = encoded(noisy_image(256, 256, "RGBA"), "PNG")
    out, _, _ = fit_to_limit(data, "image/png", len(data) // 2)
    with Image.open(io.BytesIO(out)) as image:
        assert image.mode == "RGBA"


def test_palette_images_are_reencoded() -> None:
    data = encoded(noisy_image(256, 256).convert("P"), "PNG")
    out, _, _ = fit_to_limit(data, "image/png", len(data) // 2)
    assert len(out) <= len(data) // 2


def test_metadata_is_not_carried_over() -> None:
    image = noisy_image(256, 256)
    exif = Image.Exif()
    exif[0x010E] = "secret prompt text"  # ImageDescription
    data = encoded(image, "JPEG", quality=100, exif=exif.tobytes())
    out, _, _ = fit_to_limit(data, "image/jpeg", len(data) // 2)
    assert b"secret prompt text" not in out


def test_an_impossible_limit_raises() -> None:
    data = encoded(noisy_image(256, 256), "PNG")
    with pytest.raises(ValueError, match="cannot be made small enough"):
        fit_to_limit(data, "image/png", 100)


@pytest.mark.parametrize("garbage", [b"", b"hello world" * 10, b"\x89PNG\r\n\x1a\n" + b"\x00" * 50])
def test_garbage_over_the_limit_raises(garbage: bytes) -> None:
    with pytest.raises(ValueError, match="not an image"):
        fit_to_limit(garbage, "image/png", max(len(garbage) - 1, 1))


def test_unknown_small_data_raises_rather_than_being_posted_blind() -> None:
    with pytest.raises(ValueError, match="not an image"):
        fit_to_limit(b"plain text", "", 1000)


def test_truncated_image_over_the_limit_raises() -> None:
    data = encoded(noisy_image(256, 256), "PNG")
    with pytest.raises(ValueError, match="not an image"):
        fit_to_limit(data[: len(data) // 2], "image/png", len(data) // 4)


def test_bad_arguments_raise() -> None:
    data = encoded(noisy_image(16, 16), "PNG")
    with pytest.raises(ValueError):
        fit_to_limit(data, "image/png", 0)
    with pytest.raises(ValueError):
        fit_to_limit(data, "image/png", 10, prefer="bmp")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_probe_reads_size_and_format(fmt: str) -> None:
    data = encoded(noisy_image(120, 80), fmt)
    assert probe(data) == (120, 80, fmt)


@pytest.mark.parametrize("garbage", [b"", b"GIF89a", b"not an image at all", bytes(range(256))])
def test_probe_rejects_garbage(garbage: bytes) -> None:
    with pytest.raises(ValueError, match="not an image"):
        probe(garbage)


def test_decompression_bomb_guard_stays_on(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(Image.new("RGB", (200, 200)), "PNG")
    # Lower the guard rather than build a real bomb; both the warning band and the hard error
    # must be refused.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)  # 40,000 px: the warning band
    with pytest.raises(ValueError, match="too many pixels"):
        probe(data)
    with pytest.raises(ValueError, match="too many pixels"):
        fit_to_limit(data, "image/png", 10)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # over twice: Pillow's hard error
    with pytest.raises(ValueError, match="too many pixels"):
        probe(data)
