"""The judge (stage 2 of the content screen) on image prompts, through the production bot.

Every image prompt is judged before generation (an image cannot be unsent), with context "image";
the verdict is cached by the composed prompt, so a reroll (and a same-seed edit that keeps the
words) costs no judge call and an upscale (no new text) none either. A refusal or a judge failure
generates nothing and stores no image record. The fake judge's rules: `tests/fakes/venice_judge.py`.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.characters.model import DEFAULT_CHARACTER
from bot.errors import CheckUnavailable, Refused
from bot.images import planning
from bot.images.jobs import ImageJob
from bot.judge import KINDS
from bot.policy import UNAVAILABLE
from bot.store.models import UserFlag
from tests import payloads as p
from tests.fakes.venice import Fault
from tests.fakes.venice_judge import MINOR_MARKER
from tests.integration.conftest_images import (  # noqa: F401 - fixtures
    GENERATE,
    ImageWorld,
    ephemeral_texts,
    image_message,
    world_fixture,
)

PROMPT = "a woman in a silk robe by a window"


def image_judgements(world: ImageWorld) -> list[Any]:
    return [c for c in world.venice.judge.calls if c.kind == "text" and c.document_kind == KINDS["image"]]


async def posted(world: ImageWorld) -> tuple[p.PlaceSetup, dict[str, Any], int]:
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    message = image_message(handle)
    return place, message, (await world.records())[-1].id


async def strikes(world: ImageWorld, user_id: int) -> int:
    async with world.bot.services.sessions() as session:
        row = await session.get(UserFlag, user_id)
    return row.strikes if row is not None else 0


async def test_imagine_judges_the_composed_prompt_before_generating(world: ImageWorld) -> None:
    await posted(world)
    [judged] = image_judgements(world)
    [generated] = world.generated()
    assert judged.text == generated["prompt"]  # exactly what was drawn was judged
    assert PROMPT in judged.text
    # The judge answered before the generate call was made.
    paths = [r.path for r in world.venice.requests if r.method == "POST"]
    assert paths.index("/chat/completions") < paths.index(GENERATE)


async def test_a_prompt_the_judge_flags_is_refused_and_nothing_is_generated_or_stored(world: ImageWorld) -> None:
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": f"{PROMPT} {MINOR_MARKER}"})
    said = "\n".join(ephemeral_texts(handle))
    assert "This image can't be made." in said and "under 18" in said
    assert MINOR_MARKER not in said
    assert len(image_judgements(world)) == 1
    assert world.venice.requests_to(GENERATE, "POST") == []
    assert await world.records() == []
    [event] = await world.audits("refusal")
    assert event.rule == "judge_minor" and event.user_id == int(place.user["id"])
    assert await strikes(world, int(place.user["id"])) == 1  # the person wrote it; high confidence


async def test_a_judge_failure_refuses_the_prompt_fail_closed_without_a_strike(world: ImageWorld) -> None:
    place = world.place()
    world.venice.judge.inject(Fault.http(500, times=10))
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    assert UNAVAILABLE in "\n".join(ephemeral_texts(handle))
    assert world.venice.requests_to(GENERATE, "POST") == []
    assert await world.records() == []
    [event] = await world.audits("judge_unavailable")
    assert event.user_id == int(place.user["id"])
    assert await world.audits("refusal") == []
    assert await strikes(world, int(place.user["id"])) == 0


async def test_an_unreadable_judge_answer_fails_closed_too(world: ImageWorld) -> None:
    place = world.place()
    world.venice.judge.inject(Fault.of("garbage"))
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    assert UNAVAILABLE in "\n".join(ephemeral_texts(handle))
    assert world.venice.requests_to(GENERATE, "POST") == []


async def test_a_reroll_reuses_the_verdict_even_on_another_process(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    await world.restart()  # a new policy: the verdict comes from the database
    handle = await world.click(place, message, f"img:reroll:{record_id}")
    image_message(handle)
    assert len(world.generated()) == 2
    assert len(image_judgements(world)) == 1


async def test_a_same_seed_edit_is_judged_once_per_new_wording(world: ImageWorld) -> None:
    place, _message, record_id = await posted(world)
    await world.submit(place, f"imgedit:{record_id}", {"prompt": PROMPT})  # the same words: cached
    assert len(image_judgements(world)) == 1
    handle = await world.submit(place, f"imgedit:{record_id}", {"prompt": f"{PROMPT}, smiling"})
    image_message(handle)
    judged = image_judgements(world)
    assert len(judged) == 2 and judged[-1].text == world.generated()[-1]["prompt"]


async def test_an_edit_the_judge_flags_generates_nothing(world: ImageWorld) -> None:
    place, _message, record_id = await posted(world)
    handle = await world.submit(place, f"imgedit:{record_id}", {"prompt": f"{PROMPT} {MINOR_MARKER}"})
    assert any("under 18" in t for t in ephemeral_texts(handle))
    assert len(world.generated()) == 1 and len(await world.records()) == 1


async def test_an_upscale_sends_no_new_text_so_no_judge_call(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    before = len(world.venice.judge.calls)
    handle = await world.click(place, message, f"img:upscale:{record_id}")
    image_message(handle)
    assert len(world.venice.judge.calls) == before


async def test_a_selfie_is_judged_with_the_characters_look_and_no_strike(world: ImageWorld) -> None:
    place = world.place()
    handle = await world.slash(place, "selfie", {"scene": f"at the beach {MINOR_MARKER}"})
    assert any("under 18" in t for t in ephemeral_texts(handle))
    [judged] = image_judgements(world)
    assert "at the beach" in judged.text and "29-year-old woman" in judged.text  # with the character's look
    assert world.venice.requests_to(GENERATE, "POST") == []
    assert await strikes(world, int(place.user["id"])) == 0


async def test_a_scene_picture_is_judged_without_blaming_the_presser(world: ImageWorld) -> None:
    """"Picture this": Venice wrote the scene, so a refusal is audited with no strike."""
    services = world.bot.services
    user = 31337
    job = await services.images.character_job(
        kind="scene", scene=f"they dance in the rain {MINOR_MARKER}", character=DEFAULT_CHARACTER,
        character_ref="builtin:scarlett",
        user_id=user, guild_id=None, channel_id=5, parent_channel_id=None)
    with pytest.raises(Refused) as refused:
        await services.images.plan(job)
    assert "under 18" in refused.value.user_message and not isinstance(refused.value, CheckUnavailable)
    [judged] = image_judgements(world)
    assert "dance in the rain" in judged.text
    assert await strikes(world, user) == 0
    assert world.venice.requests_to(GENERATE, "POST") == []


def test_who_a_judged_image_refusal_strikes() -> None:
    def job(kind: str, appearance: str = "") -> ImageJob:
        return ImageJob(kind=kind, user_id=1, guild_id=None, channel_id=2, prompt="x", appearance=appearance)

    assert planning.strikes(job("imagine")) and planning.strikes(job("edit")) and planning.strikes(job("reroll"))
    assert not planning.strikes(job("scene", "adult woman")) and not planning.strikes(job("selfie"))
