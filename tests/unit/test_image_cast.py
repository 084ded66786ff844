"""Picturing a group scene (`bot.images.cast`, `compose.cast_appearance`, `seeds.scene_seed`)."""

from __future__ import annotations

import pytest

from bot.images.cast import CastLook, picture_cast
from bot.images.compose import compose_prompt, split_clauses
from bot.images.seeds import SEED_MAX, character_seed, scene_seed

ANN = CastLook("custom:1", "woman, long auburn hair, green eyes")
BEA = CastLook("venice:bea", "32-year-old woman, black bob, red lipstick")
CAL = CastLook("builtin:cal", "man, short grey beard, leather jacket")


def test_every_member_is_pictured_each_as_one_adult() -> None:
    picture = picture_cast([ANN, BEA, CAL])

    assert split_clauses(picture.appearance) == [
        "3 adults",
        "(adult, woman, long auburn hair, green eyes)",
        "(32-year-old woman, black bob, red lipstick)",
        "(adult, man, short grey beard, leather jacket)",
    ]


def test_the_composed_prompt_keeps_every_member_after_the_scene() -> None:
    picture = picture_cast([ANN, BEA, CAL])

    composed = compose_prompt("three people at a bar, night, neon", appearance=picture.appearance)

    for look in ("long auburn hair", "black bob", "grey beard"):
        assert look in composed.prompt
    assert composed.prompt.startswith("three people at a bar")
    assert not composed.dropped


def test_names_never_reach_the_picture() -> None:
    picture = picture_cast([CastLook("custom:1", ""), CastLook("custom:2", "")])

    assert picture.appearance == "2 adults, (adult), (adult)"


def test_a_scene_of_one_is_drawn_like_that_characters_own_pictures() -> None:
    picture = picture_cast([ANN])

    assert picture.appearance == ANN.appearance
    assert picture.seed == character_seed(ANN.ref)


def test_each_member_keeps_its_own_stable_seed() -> None:
    picture = picture_cast([ANN, BEA, CastLook("builtin:cal", "man", locked_seed=1234)])

    assert picture.seeds == {ANN.ref: character_seed(ANN.ref), BEA.ref: character_seed(BEA.ref), CAL.ref: 1234}


def test_the_same_cast_gives_the_same_seed_in_any_order() -> None:
    assert picture_cast([ANN, BEA, CAL]).seed == picture_cast([CAL, ANN, BEA]).seed


def test_another_cast_gives_another_seed() -> None:
    assert picture_cast([ANN, BEA]).seed != picture_cast([ANN, CAL]).seed


def test_a_scene_seed_is_a_valid_venice_seed() -> None:
    for n in range(50):
        assert 1 <= scene_seed([n, n + 1, 7 * n]) <= SEED_MAX


def test_a_scene_seed_needs_a_member() -> None:
    with pytest.raises(ValueError):
        scene_seed([])


def test_brackets_that_do_not_pair_cannot_merge_two_people() -> None:
    picture = picture_cast([CastLook("c:1", "woman, (red hair, freckles"), BEA])

    assert split_clauses(picture.appearance)[1:] == [
        "(adult, woman, red hair, freckles)", "(32-year-old woman, black bob, red lipstick)",
    ]


def test_weighting_brackets_that_pair_are_kept() -> None:
    picture = picture_cast([CastLook("c:1", "woman, (red hair:1.2)"), BEA])

    assert "(adult, woman, (red hair:1.2))" in picture.appearance
