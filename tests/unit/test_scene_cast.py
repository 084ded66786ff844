"""The plain rules of `/scene`: who may join, what a pick must name, what `/scene list` says."""

from __future__ import annotations

import random

import pytest

from bot.characters.model import Character
from bot.chat import scene_cast, speakers
from bot.errors import UserError
from bot.store.cast import CastView, Member

FOUNDER = ("builtin:scarlett", "Scarlett")


def view(*members: tuple[str, str], mode: str = "natural", last: str | None = None, chained: int = 0) -> CastView:
    return CastView(1, mode, tuple(Member(ref, name, i, 0, 7) for i, (ref, name) in enumerate(members)),
                    last, None, 0, chained)


def staged(*members: tuple[str, str], **kwargs: object) -> scene_cast.Staged:
    v = view(*members, **kwargs)  # type: ignore[arg-type]
    chars = {ref: Character(name=name) for ref, name in members}
    return scene_cast.Staged(v, chars, speakers.cast_speakers(v, chars))


def test_the_conversation_character_counts_as_a_member_of_an_empty_cast() -> None:
    assert scene_cast.join_problem(None, founder=FOUNDER, ref="custom:2", name="Bruno") is None
    assert scene_cast.join_problem(None, founder=FOUNDER, ref=FOUNDER[0], name="Scarlett") is None
    problem = scene_cast.join_problem(None, founder=FOUNDER, ref="custom:3", name="scarlett")
    assert problem is not None and "already a **scarlett**" in problem


def test_a_full_cast_a_duplicate_and_a_long_reference_are_refused() -> None:
    full = view(*[(f"custom:{i}", f"N{i}") for i in range(5)])
    assert "already has 5" in (scene_cast.join_problem(full, founder=FOUNDER, ref="custom:9", name="X") or "")
    two = view(FOUNDER, ("custom:2", "Bruno"))
    assert "already in this scene" in (scene_cast.join_problem(two, founder=FOUNDER, ref="custom:2", name="Bruno")
                                        or "")
    assert "too long" in (scene_cast.join_problem(two, founder=FOUNDER, ref="venice:" + "x" * 120, name="Y") or "")


def test_a_pick_must_name_someone_still_in_the_scene() -> None:
    with pytest.raises(UserError, match="no scene"):
        scene_cast.check_pick(None, None)
    cast = staged(FOUNDER, ("custom:2", "Bruno"))
    scene_cast.check_pick(cast, "custom:2")
    scene_cast.check_pick(cast, None)
    with pytest.raises(UserError, match="has left the scene"):
        scene_cast.check_pick(cast, "custom:3")


def test_a_member_whose_character_is_gone_is_not_on_stage() -> None:
    v = view(FOUNDER, ("custom:2", "Bruno"))
    chars = {FOUNDER[0]: Character(name="Scarlett")}
    stage = scene_cast.Staged(v, chars, speakers.cast_speakers(v, chars))
    assert stage.options() == ((FOUNDER[0], "Scarlett"),)
    with pytest.raises(UserError, match="Bruno"):
        scene_cast.check_pick(stage, "custom:2")


def test_list_says_the_order_the_mode_and_the_replies_left() -> None:
    text = scene_cast.describe(view(FOUNDER, ("custom:2", "Bruno"), mode="round_robin", last="custom:2",
                                    chained=2), limit=3)
    assert text.index("Scarlett") < text.index("Bruno") and "Bruno**" in text and "spoke last" in text
    assert "round robin" in text and "**1** more time " in text
    assert scene_cast.describe(None) == scene_cast.NO_CAST


def test_manual_mode_answers_only_who_is_named() -> None:
    cast = staged(FOUNDER, ("custom:2", "Bruno")).members
    order = speakers.Order()
    rng = random.Random(1)
    assert speakers.answer_user("I sit down.", cast, "manual", order, rng) == []
    assert speakers.answer_user("Bruno, a beer.", cast, "manual", order, rng) == ["custom:2"]
    assert speakers.answer_user("Hm.", cast, "manual", order, rng, replied_to=FOUNDER[0]) == [FOUNDER[0]]
