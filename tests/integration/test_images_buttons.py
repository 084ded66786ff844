"""The buttons under an image, pressed on a NEW bot process over the same database (a restart)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.gate import REFUSAL
from bot.store import images as store
from bot.ui.gating import NOT_YOURS
from tests import payloads as p
from tests.fakes.venice import Fault
from tests.integration.conftest_images import (  # noqa: F401 - fixtures
    GENERATE,
    UPSCALE,
    ImageWorld,
    custom_ids,
    ephemeral_texts,
    image_message,
    world_fixture,
)

PROMPT = "a woman in a silk robe by a window"


async def posted(world: ImageWorld, **options: Any) -> tuple[p.PlaceSetup, dict[str, Any], int]:
    """An /imagine image from the first bot, then a restart: (place, message, record id)."""
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": PROMPT, **options})
    message = image_message(handle)
    record_id = (await world.records())[-1].id
    await world.restart()
    return place, message, record_id


async def test_reroll_posts_a_new_image_with_a_new_seed_and_the_same_prompt(world: ImageWorld) -> None:
    place, message, record_id = await posted(world, style="Cinematic", aspect="2:3")
    handle = await world.click(place, message, f"img:reroll:{record_id}")

    new = image_message(handle)
    assert new["id"] != message["id"]  # a new message; the original stays
    assert message["id"] in world.discord.world.messages
    first, second = world.generated()
    assert second["prompt"] == first["prompt"] and second["negative_prompt"] == first["negative_prompt"]
    assert second["seed"] != first["seed"]
    assert (second["width"], second["height"], second["style_preset"]) == (
        first["width"], first["height"], first["style_preset"])
    child = (await world.records())[-1]
    assert (child.kind, child.parent_id, child.user_prompt, child.status) == ("reroll", record_id, PROMPT, "done")
    assert custom_ids(new)[0] == f"img:reroll:{child.id}"
    assert world.venice.violations == [] and world.discord.violations == []


async def test_reroll_ignores_the_channel_lock(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    await world.slash(place, "seed set", {"seed": 5})
    await world.click(place, message, f"img:reroll:{record_id}")
    assert world.generated()[-1]["seed"] != 5


async def test_edit_opens_a_prefilled_modal_and_keeps_the_seed(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    opened = await world.click(place, message, f"img:edit:{record_id}")
    modal = (await opened.response()).json
    assert modal["type"] == 9
    text_input = modal["data"]["components"][0]["components"][0]
    assert text_input["value"] == PROMPT

    handle = await world.submit(place, f"imgedit:{record_id}", {"prompt": "a woman in a silk robe, smiling"})
    image_message(handle)
    first, second = world.generated()
    assert second["seed"] == first["seed"]
    assert second["prompt"].startswith("a woman in a silk robe, smiling")
    child = (await world.records())[-1]
    assert (child.kind, child.parent_id, child.user_prompt) == ("edit", record_id, "a woman in a silk robe, smiling")


async def test_an_edited_prompt_is_screened_like_any_other(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    await world.click(place, message, f"img:edit:{record_id}")
    before = len(world.venice.requests)
    handle = await world.submit(place, f"imgedit:{record_id}", {"prompt": "make her a 12 year old"})
    assert any("under 18" in t for t in ephemeral_texts(handle))
    assert len(world.venice.requests) == before
    assert len(await world.records()) == 1


async def test_upscale_posts_the_original_file_upscaled_as_a_new_image(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    handle = await world.click(place, message, f"img:upscale:{record_id}")

    new = image_message(handle)
    [sent] = world.venice.requests_to(UPSCALE, "POST")
    assert sent.json["scale"] == 2
    assert len(world.generated()) == 1  # the original file was upscaled, nothing regenerated
    child = (await world.records())[-1]
    assert (child.kind, child.parent_id, child.status) == ("upscale", record_id, "done")
    assert (child.width, child.height) == (2048, 2048)
    assert f"img:upscale:{child.id}" not in custom_ids(new)  # an upscale is not upscaled again
    assert new["embeds"][0]["title"].startswith("⬆️")
    assert world.venice.violations == []


async def test_upscale_of_a_deleted_image_says_so(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    await store.mark_deleted(world.sessions, record_id)
    handle = await world.click(place, message, f"img:upscale:{record_id}")
    assert any("deleted" in t for t in ephemeral_texts(handle))
    assert world.venice.requests_to(UPSCALE) == []


async def test_upscale_whose_file_is_gone_fails_plainly(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    world.discord.world.attachments.clear()
    handle = await world.click(place, message, f"img:upscale:{record_id}")
    assert "couldn't download the original" in handle.original["content"]
    assert world.venice.requests_to(UPSCALE) == []
    assert (await world.records())[-1].status == "failed"


async def test_lock_button_locks_this_images_seed_for_the_channel(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    seed = (await world.record(record_id)).seed
    other = world.user("carol")
    handle = await world.click(place, message, f"img:lock:{record_id}", user=other)
    assert f"`{seed}`" in (await handle.response()).json["data"]["content"]
    await world.slash(place, "imagine", {"prompt": "something else"})
    assert world.generated()[-1]["seed"] == seed


async def test_delete_removes_the_message_and_marks_the_record(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    await world.click(place, message, f"img:delete:{record_id}")
    assert message["id"] not in world.discord.world.messages
    assert world.discord.find("DELETE", r"/webhooks/\d+/[^/]+/messages/@original")
    assert (await world.record(record_id)).status == "deleted"


async def test_only_the_requester_or_a_moderator_may_delete(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    stranger = await world.click(place, message, f"img:delete:{record_id}", user=world.user("mallory"))
    assert NOT_YOURS in ephemeral_texts(stranger)
    assert message["id"] in world.discord.world.messages

    moderator_perms = p.permissions("view_channel", "send_messages", "manage_messages")
    await world.click(place, message, f"img:delete:{record_id}", user=world.user("mod"), permissions=moderator_perms)
    assert message["id"] not in world.discord.world.messages
    assert (await world.record(record_id)).status == "deleted"


async def test_a_button_whose_record_was_erased_answers_kindly(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    from sqlalchemy import delete

    from bot.store.models import ImageRecord

    async with world.sessions.begin() as session:  # e.g. /privacy delete
        await session.execute(delete(ImageRecord).where(ImageRecord.id == record_id))
    for action in ("reroll", "edit", "upscale", "lock"):
        handle = await world.click(place, message, f"img:{action}:{record_id}")
        assert ephemeral_texts(handle) == ["I can't find that image any more."]
    assert world.generated() == [world.generated()[0]]


# -- the gate, for components and modals ---------------------------------------------------


@pytest.mark.parametrize("action", ["reroll", "edit", "upscale", "lock", "delete"])
async def test_every_button_is_refused_once_the_channel_is_no_longer_age_restricted(
    world: ImageWorld, action: str
) -> None:
    place, message, record_id = await posted(world)
    await world.turn_off_age_restriction(place)
    counts, calls = await world.table_counts(), len(world.venice.requests)

    handle = await world.click(place, message, f"img:{action}:{record_id}")
    assert ephemeral_texts(handle) == [REFUSAL]
    assert len(world.venice.requests) == calls
    assert await world.table_counts() == counts
    assert message["id"] in world.discord.world.messages


async def test_the_edit_modal_submit_is_refused_once_the_channel_is_no_longer_age_restricted(
    world: ImageWorld,
) -> None:
    place, message, record_id = await posted(world)
    await world.click(place, message, f"img:edit:{record_id}")
    await world.turn_off_age_restriction(place)
    counts, calls = await world.table_counts(), len(world.venice.requests)

    handle = await world.submit(place, f"imgedit:{record_id}", {"prompt": "a new prompt"})
    assert ephemeral_texts(handle) == [REFUSAL]
    assert len(world.venice.requests) == calls
    assert await world.table_counts() == counts


@pytest.mark.parametrize("key", ["sfw_text", "thread_sfw_parent", "group_dm", "user_dm"])
async def test_imagine_is_refused_outside_age_restricted_places(world: ImageWorld, key: str) -> None:
    place = world.place(key)
    counts = await world.table_counts()
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    texts = ephemeral_texts(handle)
    assert len(texts) == 1 and texts[0].startswith("🔞")
    assert world.venice.requests == []
    assert await world.table_counts() == counts


async def test_imagine_works_in_the_dm_with_the_bot(world: ImageWorld) -> None:
    place = world.place("bot_dm")
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    image_message(handle)
    record = (await world.records())[0]
    assert record.guild_id is None and record.status == "done"


async def test_a_safety_flag_on_an_upscale_posts_nothing(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    world.venice.inject(UPSCALE, Fault.of("contains_minor"))
    handle = await world.click(place, message, f"img:upscale:{record_id}")
    assert handle.original["attachments"] == []
    assert [a.kind for a in await world.audits("venice_flag")] == ["venice_flag"]
    assert len(world.generated()) == 1 and GENERATE
