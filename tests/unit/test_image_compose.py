"""Image prompt composition: order, trimming order, the user's words last to go, minor negatives."""

from __future__ import annotations

import pytest

from bot.characters.model import DEFAULT_CHARACTER
from bot.images.compose import (
    MINOR_NEGATIVE_TERMS,
    NEGATIVE_BASE,
    QUALITY_NEGATIVE,
    QUALITY_TAGS,
    clean,
    compose_prompt,
    selfie_prompt,
    split_clauses,
    states_adult,
)

LOOK = "long auburn hair, green eyes, freckles, black vest over a white shirt"


def kinds(result) -> list[str]:
    return [kind for kind, _ in result.parts]


def test_order_is_user_then_anchor_and_appearance_then_scene_style_quality() -> None:
    result = compose_prompt("leaning on the bar", appearance=LOOK, scene="dim light", style_hint="film grain")
    assert kinds(result) == ["user", "adult", "appearance", "scene", "style", "quality"]
    assert result.prompt == f"leaning on the bar, adult, {LOOK}, dim light, film grain, {QUALITY_TAGS}"
    assert not result.trimmed and result.dropped == [] and result.shortened == []


def test_prompt_without_a_character_is_user_words_then_quality() -> None:
    result = compose_prompt("a neon city at night")
    assert result.prompt == f"a neon city at night, {QUALITY_TAGS}"
    assert kinds(result) == ["user", "quality"]


def test_appearance_that_states_an_adult_age_is_its_own_anchor() -> None:
    result = compose_prompt("smiling", appearance=DEFAULT_CHARACTER.appearance)
    assert dict(result.parts)["adult"] == "29-year-old woman"
    assert ", adult," not in result.prompt
    assert result.prompt.startswith(f"smiling, {DEFAULT_CHARACTER.appearance}, ")


def test_adult_anchor_can_be_turned_off() -> None:
    result = compose_prompt("smiling", appearance=LOOK, adult_anchor=False)
    assert "adult" not in kinds(result)


@pytest.mark.parametrize(
    ("text", "adult"),
    [
        ("29-year-old woman", True),
        ("25 years old", True),
        ("18yo", True),
        ("aged 40", True),
        ("age: 33", True),
        ("in her 30s", True),
        ("adult man", True),
        ("mature woman", True),
        ("17-year-old", False),
        ("12 years old", False),
        ("long hair", False),
        ("", False),
    ],
)
def test_states_adult(text: str, adult: bool) -> None:
    assert states_adult(text) is adult


def test_minor_age_in_appearance_still_gets_the_anchor() -> None:
    # Screening refuses this earlier; composition must still never lose the anchor.
    result = compose_prompt("portrait", appearance="17-year-old, short hair")
    assert dict(result.parts)["adult"] == "adult"


def test_whitespace_and_duplicate_commas_are_cleaned() -> None:
    result = compose_prompt("  a  cat ,, on a\n sofa , ", quality="")
    assert result.prompt == "a cat, on a sofa"


def test_quality_tags_the_user_already_typed_are_not_repeated() -> None:
    result = compose_prompt("masterpiece, a fox")
    assert result.prompt.count("masterpiece") == 1


def test_split_clauses_keeps_weighting_groups_whole() -> None:
    assert split_clauses("a, (red dress, lace:1.2), b") == ["a", "(red dress, lace:1.2)", "b"]
    assert clean(" ,a ,, b, ") == "a, b"


@pytest.mark.parametrize("blank", ["", "   ", " , ,, ", "\n\t"])
def test_empty_prompt_is_refused(blank: str) -> None:
    with pytest.raises(ValueError, match="empty prompt"):
        compose_prompt(blank)


def test_limit_below_minimum_is_refused() -> None:
    with pytest.raises(ValueError):
        compose_prompt("a fox", limit=50)


def long_appearance(clauses: int = 40) -> str:
    return ", ".join(f"detail number {i}" for i in range(clauses))


def test_quality_tags_are_dropped_first() -> None:
    user = "x " * 600  # 1199 characters after cleaning
    result = compose_prompt(user, appearance="red hair, green eyes", scene="a bar", style_hint="noir", limit=1250)
    assert "quality" in result.dropped
    assert "style" in kinds(result) and "scene" in kinds(result) and "appearance" in kinds(result)
    assert len(result.prompt) <= 1250


def test_parts_give_way_in_order_quality_style_scene_appearance_then_user() -> None:
    user = " ".join(f"word{i}" for i in range(53))  # about 320 characters
    args = {"appearance": long_appearance(10), "scene": "a dim bar, rain outside", "style_hint": "noir, grain"}
    full = compose_prompt(user, **args)
    first_cut: list[str] = []
    for limit in range(len(full.prompt), 299, -1):
        result = compose_prompt(user, limit=limit, **args)
        assert len(result.prompt) <= limit
        for kind in result.shortened + result.dropped:
            if kind not in first_cut:
                first_cut.append(kind)
    assert first_cut == ["quality", "style", "scene", "appearance", "user"]


def test_a_part_is_only_dropped_after_the_parts_before_it_are_gone() -> None:
    user = "word " * 280  # 1399 characters
    result = compose_prompt(user, appearance="red hair, green eyes", scene="a dim bar", style_hint="noir photo")
    assert "quality" in result.shortened
    assert kinds(result) == ["user", "adult", "appearance", "scene", "style", "quality"]
    assert len(result.prompt) <= 1500


def test_appearance_is_trimmed_from_its_tail_at_commas() -> None:
    look = long_appearance()
    result = compose_prompt("a portrait", appearance=look, limit=300)
    kept = dict(result.parts)["appearance"]
    assert look.startswith(kept)
    assert kept.endswith(tuple(str(i) for i in range(10)))  # cut at a comma, not mid-clause
    assert "appearance" in result.shortened
    assert result.trimmed
    assert result.prompt.startswith("a portrait, adult, detail number 0")


def test_user_words_are_kept_longest_and_cut_at_a_word_boundary() -> None:
    user = " ".join(f"w{i}" for i in range(600))
    result = compose_prompt(user, appearance=long_appearance(), scene="s", style_hint="t", limit=1500)
    assert set(result.dropped) >= {"quality", "style", "scene", "appearance"}
    assert "user" in result.shortened
    kept = dict(result.parts)["user"]
    assert user.startswith(kept)
    assert user[len(kept)] == " "  # the next character was a space: no word was split
    assert dict(result.parts)["adult"] == "adult"  # the anchor outlasts the user's words
    assert len(result.prompt) <= 1500


def test_age_clause_gives_way_to_the_plain_anchor_before_the_users_words() -> None:
    user = " ".join(f"w{i}" for i in range(330))  # about 1.5k characters
    result = compose_prompt(user, appearance="29-year-old woman, red hair", limit=1500)
    assert dict(result.parts)["adult"] == "adult"
    assert "appearance" in result.dropped
    assert len(result.prompt) <= 1500


def test_a_single_giant_word_is_cut_hard() -> None:
    result = compose_prompt("a" * 3000, limit=1500)
    assert len(result.prompt) <= 1500
    assert result.prompt.startswith("a" * 1000)


@pytest.mark.parametrize("limit", [300, 301, 517, 1000, 1499, 1500, 7500])
@pytest.mark.parametrize("size", [10, 299, 300, 1499, 1500, 1501, 9000])
def test_limit_is_respected_exactly(limit: int, size: int) -> None:
    user = ("lorem ipsum dolor sit amet " * 400)[:size].strip() or "x"
    extras = {"appearance": long_appearance(), "scene": "x, y", "style_hint": "z", "user_negative": "n " * 500}
    result = compose_prompt(user, limit=limit, **extras)
    untrimmed = compose_prompt(user, limit=100_000, **extras)
    assert len(result.prompt) <= limit
    assert len(result.negative) <= limit
    assert result.negative.startswith(MINOR_NEGATIVE_TERMS)
    assert result.trimmed == (len(untrimmed.prompt) > limit)  # trimmed exactly when it had to be


def test_fits_exactly_at_the_limit_without_trimming() -> None:
    user = "a fox in the snow " * 20
    base = compose_prompt(user, appearance=LOOK)
    exact = compose_prompt(user, appearance=LOOK, limit=len(base.prompt))
    assert exact.prompt == base.prompt and not exact.trimmed
    one_less = compose_prompt(user, appearance=LOOK, limit=len(base.prompt) - 1)
    assert one_less.trimmed and one_less.shortened == ["quality"]


def test_minor_negatives_are_always_present_and_first() -> None:
    for negative in ["", "blurry", "extra arms, " * 300, "z" * 5000]:
        result = compose_prompt("a portrait", user_negative=negative, limit=300)
        assert result.negative.startswith(MINOR_NEGATIVE_TERMS)
        assert len(result.negative) <= 300


def test_negative_is_minor_terms_then_user_then_quality() -> None:
    result = compose_prompt("a portrait", user_negative="hats, , sunglasses")
    assert result.negative == f"{MINOR_NEGATIVE_TERMS}, hats, sunglasses, {QUALITY_NEGATIVE}"
    assert not result.negative_trimmed


def test_negative_base_holds_the_minor_terms() -> None:
    assert NEGATIVE_BASE.startswith(MINOR_NEGATIVE_TERMS)
    assert compose_prompt("x").negative == NEGATIVE_BASE


def test_negative_drops_quality_negatives_before_the_users_terms() -> None:
    user_negative = ", ".join(f"avoid{i}" for i in range(20))
    limit = len(MINOR_NEGATIVE_TERMS) + len(user_negative) + 2 + 10
    result = compose_prompt("a fox", user_negative=user_negative, limit=max(limit, 300))
    assert user_negative in result.negative
    assert result.negative_trimmed


def test_user_negative_repeating_minor_terms_is_not_doubled() -> None:
    result = compose_prompt("a fox", user_negative="child, hats")
    assert result.negative.count("child,") == 1
    assert "hats" in result.negative


def test_selfie_prompt_uses_appearance_not_the_name() -> None:
    text = selfie_prompt("Taylor Swift", "blonde hair, red lips", "on a balcony at night")
    assert "Taylor" not in text
    assert text == "portrait selfie of adult, blonde hair, red lips, on a balcony at night"


def test_selfie_prompt_keeps_an_appearance_that_states_age() -> None:
    text = selfie_prompt("Scarlett", DEFAULT_CHARACTER.appearance, "")
    assert text == f"portrait selfie of {DEFAULT_CHARACTER.appearance}, looking at the camera"


def test_selfie_prompt_without_appearance_is_still_an_adult() -> None:
    assert selfie_prompt("X", "", "in a garden") == "portrait selfie of an adult, in a garden"


def test_selfie_prompt_composes_cleanly() -> None:
    result = compose_prompt(selfie_prompt("Scarlett", DEFAULT_CHARACTER.appearance, "at the bar"))
    assert result.prompt.startswith("portrait selfie of 29-year-old woman")
    assert result.negative.startswith(MINOR_NEGATIVE_TERMS)
