"""Aspect → size within model constraints; constraints from /models; steps; upscale limits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.images.sizes import (
    ASPECTS,
    ImageConstraints,
    aspect_choices,
    clamp_steps,
    fit_upscale,
    resolve_aspect,
    size_for,
)

CASES = [(key, divisor) for key in ASPECTS for divisor in (8, 16)]


@pytest.mark.parametrize(("aspect", "divisor"), CASES)
def test_sizes_are_multiples_of_the_divisor(aspect: str, divisor: int) -> None:
    width, height = size_for(aspect, divisor=divisor)
    assert width % divisor == 0
    assert height % divisor == 0


@pytest.mark.parametrize(("aspect", "divisor"), CASES)
def test_sizes_stay_within_venice_bounds(aspect: str, divisor: int) -> None:
    width, height = size_for(aspect, divisor=divisor)
    assert 256 <= width <= 1280
    assert 256 <= height <= 1280


@pytest.mark.parametrize(("aspect", "divisor"), CASES)
def test_sizes_keep_the_ratio(aspect: str, divisor: int) -> None:
    width, height = size_for(aspect, divisor=divisor)
    assert width / height == pytest.approx(ASPECTS[aspect].ratio, rel=0.02)


@pytest.mark.parametrize(("aspect", "divisor"), CASES)
def test_sizes_are_about_one_megapixel_unless_capped(aspect: str, divisor: int) -> None:
    width, height = size_for(aspect, divisor=divisor)
    # The 1280 cap costs the widest ratios some area; nothing goes over.
    assert 0.85 * 1024 * 1024 <= width * height <= 1.03 * 1024 * 1024


@pytest.mark.parametrize(
    ("aspect", "expected"),
    [("1:1", (1024, 1024)), ("16:9", (1280, 720)), ("9:16", (720, 1280)), ("2:3", (840, 1256))],
)
def test_known_sizes_for_lustify(aspect: str, expected: tuple[int, int]) -> None:
    assert size_for(aspect) == expected


def test_portrait_and_landscape_mirror_each_other() -> None:
    for portrait, landscape in [("2:3", "3:2"), ("3:4", "4:3"), ("9:16", "16:9")]:
        assert size_for(portrait) == tuple(reversed(size_for(landscape)))


def test_constraints_override_divisor_and_max_side() -> None:
    constraints = ImageConstraints(divisor=16, max_side=1024)
    width, height = size_for("16:9", constraints)
    assert width == 1024
    assert width % 16 == 0 and height % 16 == 0


def test_max_side_never_exceeds_venice_limit() -> None:
    assert max(size_for("16:9", max_side=4096, base_pixels=4096 * 4096)) == 1280


def test_smaller_base_area_gives_smaller_images() -> None:
    width, height = size_for("1:1", base_pixels=512 * 512)
    assert (width, height) == (512, 512)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("16x9", "16:9"),
        (" 16 : 9 ", "16:9"),
        ("Portrait", "3:4"),
        ("landscape", "4:3"),
        ("square", "1:1"),
        ("", "1:1"),
        (None, "1:1"),
    ],
)
def test_resolve_aspect_understands_loose_spellings(typed: str | None, key: str) -> None:
    assert resolve_aspect(typed).key == key


@pytest.mark.parametrize("bad", ["5:7", "huge", "1:0", "21:9"])
def test_unknown_aspect_raises_a_user_message(bad: str) -> None:
    with pytest.raises(ValueError, match="Unknown aspect") as info:
        size_for(bad)
    assert "1:1" in str(info.value)


def test_aspect_choices_fit_discord_and_name_every_aspect() -> None:
    choices = aspect_choices()
    assert len(choices) <= 25
    assert {key for _, key in choices} == set(ASPECTS)
    assert all(label for label, _ in choices)


def test_constraints_from_flat_model_info() -> None:
    info = SimpleNamespace(prompt_char_limit=7500, steps_default=25, steps_max=30, width_height_divisor=16)
    c = ImageConstraints.from_model(info)
    assert (c.prompt_char_limit, c.steps_default, c.steps_max, c.divisor) == (7500, 25, 30, 16)


def test_constraints_from_a_mapping_with_gaps_use_defaults() -> None:
    c = ImageConstraints.from_model({"prompt_char_limit": None, "steps_max": 8, "width_height_divisor": None})
    assert c.prompt_char_limit == 1500
    assert c.divisor == 8
    assert c.steps_max == 8
    assert c.steps_default == 8  # a default above the max would be a 400


def test_constraints_from_a_raw_venice_model_entry() -> None:
    entry = {
        "id": "venice-sd35",
        "model_spec": {
            "constraints": {"promptCharacterLimit": 1500, "steps": {"default": 25, "max": 30}, "widthHeightDivisor": 16}
        },
    }
    c = ImageConstraints.from_model(entry)
    assert (c.prompt_char_limit, c.steps_default, c.steps_max, c.divisor) == (1500, 25, 30, 16)


def test_constraints_from_an_aspect_ratio_model_say_it_takes_no_pixel_size() -> None:
    entry = {"model_spec": {"constraints": {"promptCharacterLimit": 7500, "aspectRatios": ["1:1", "16:9"]}}}
    c = ImageConstraints.from_model(entry)
    assert c.supports_size is False
    assert c.aspect_ratios == ("1:1", "16:9")
    assert c.prompt_char_limit == 7500


def test_constraints_from_the_venice_clients_model_info() -> None:
    from bot.venice.types import ModelInfo

    lustify = ModelInfo.from_api(
        {
            "id": "lustify-sdxl",
            "type": "image",
            "model_spec": {
                "constraints": {
                    "promptCharacterLimit": 1500,
                    "steps": {"default": 20, "max": 50},
                    "widthHeightDivisor": 8,
                }
            },
        }
    )
    flux = ModelInfo.from_api(
        {"id": "flux-2-pro", "type": "image", "model_spec": {"constraints": {"aspectRatios": ["1:1", "9:16"]}}}
    )
    assert ImageConstraints.from_model(lustify) == ImageConstraints()
    assert ImageConstraints.from_model(flux).supports_size is False
    assert ImageConstraints.from_model(flux).aspect_ratios == ("1:1", "9:16")


def test_constraints_from_nothing_are_the_defaults() -> None:
    assert ImageConstraints.from_model(None) == ImageConstraints()
    assert ImageConstraints.from_model({"steps_max": 0, "prompt_char_limit": -1}) == ImageConstraints()


def test_constraints_keep_explicit_capability_flags() -> None:
    c = ImageConstraints.from_model({"supports_size": False, "supports_negative": False})
    assert c.supports_size is False and c.supports_negative is False


@pytest.mark.parametrize(("steps", "expected"), [(None, 20), (1, 1), (30, 30), (50, 50), (51, 50), (0, 1), (-3, 1)])
def test_clamp_steps_to_the_model(steps: int | None, expected: int) -> None:
    assert clamp_steps(steps) == expected
    assert ImageConstraints().clamp_steps(steps) == expected


def test_clamp_steps_uses_the_models_maximum() -> None:
    assert clamp_steps(50, ImageConstraints(steps_default=25, steps_max=30)) == 30


@pytest.mark.parametrize(
    ("width", "height", "scale", "ok"),
    [
        (1024, 1024, 2, True),
        (1024, 1024, 4, True),
        (1280, 1280, 4, False),  # 26 MP out
        (1280, 1280, 2, True),
        (2048, 2048, 2, True),  # exactly 16,777,216 out
        (256, 256, 2, True),  # exactly 65,536 in
        (255, 256, 2, False),
        (1024, 1024, 3, False),
        (0, 1024, 2, False),
    ],
)
def test_fit_upscale_follows_venice_pixel_limits(width: int, height: int, scale: int, ok: bool) -> None:
    assert fit_upscale(width, height, scale) is ok
