"""🪄 Edit picture: Venice's /image/edit on an image the bot generated, after a restart too.

The instruction is screened like an image prompt (stage 1 and the judge) before anything reaches
Venice; the edited picture is a new record whose parent is the edited one, posted with the image
buttons (a further edit, upscale, delete); the edit counts as an image in the quotas.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from bot.store import images as store
from tests import payloads as p
from tests.fakes.venice import Fault
from tests.harness import invoke
from tests.integration.conftest_images import (  # noqa: F401 - fixtures
    ImageWorld,
    custom_ids,
    ephemeral_texts,
    image_message,
    world_fixture,
)

PROMPT = "a woman in a silk robe by a window"
CHANGE = "make the robe deep red"


async def posted(world: ImageWorld) -> tuple[p.PlaceSetup, dict[str, Any], int]:
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    message = image_message(handle)
    record_id = (await world.records())[-1].id
    await world.restart()
    return place, message, record_id


async def submit(world: ImageWorld, place: p.PlaceSetup, record_id: int, text: str,
                 message: dict[str, Any]) -> Any:
    """The form, submitted from the image message whose button opened it (Discord sends it along)."""
    payload = world.discord.modal_payload(place.user, place, f"imgalter:{record_id}", {"instruction": text},
                                          message_id=message["id"])
    await invoke(world.bot, payload, timeout=30)
    return world.discord.handle(payload)


def edits(world: ImageWorld) -> list[Any]:
    return world.venice.requests_to("/image/edit", "POST")


async def test_edit_picture_sends_the_posted_file_and_keeps_the_lineage(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    assert f"img:alter:{record_id}" in custom_ids(message)
    opened = await world.click(place, message, f"img:alter:{record_id}")
    modal = (await opened.response()).json
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"imgalter:{record_id}"
    handle = await submit(world, place, record_id, CHANGE, message)
    new = image_message(handle)
    [sent] = edits(world)
    assert sent.json["prompt"] == CHANGE and sent.json["model"] == "qwen-edit-uncensored"
    assert sent.json.get("safe_mode") is False
    source = world.discord.world.attachments[message["attachments"][0]["id"]][1]
    with Image.open(io.BytesIO(base64.b64decode(sent.json["image"]))) as sent_picture, \
            Image.open(io.BytesIO(source)) as posted_picture:
        assert sent_picture.size == posted_picture.size  # the posted file itself was edited
    child = (await world.records())[-1]
    assert (child.kind, child.parent_id, child.user_prompt, child.status) == ("alter", record_id, CHANGE, "done")
    assert custom_ids(new) == [f"img:alter:{child.id}", f"img:upscale:{child.id}", f"img:delete:{child.id}"]
    assert f"from #{record_id}" in new["embeds"][0]["footer"]["text"]
    assert world.venice.violations == [] and world.discord.violations == []


async def test_an_edit_instruction_is_screened_before_venice(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    handle = await submit(world, place, record_id, "make her look 12 years old", message)
    assert edits(world) == []
    assert any("18" in t for t in ephemeral_texts(handle)), ephemeral_texts(handle)
    assert [r.kind for r in await world.records()] == ["imagine"]


async def test_an_edit_venice_refuses_is_said_and_nothing_is_posted(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    world.venice.inject("/image/edit", Fault.http(500, times=10))
    handle = await submit(world, place, record_id, CHANGE, message)
    assert ephemeral_texts(handle) or handle.original is not None
    child = (await world.records())[-1]
    assert (child.kind, child.status) == ("alter", "failed")


async def test_an_edit_of_a_deleted_image_is_refused(world: ImageWorld) -> None:
    place, message, record_id = await posted(world)
    await store.mark_deleted(world.sessions, record_id)
    opened = await world.click(place, message, f"img:alter:{record_id}")
    assert (await opened.response()).json["type"] == 4
    assert edits(world) == []
