"""The image queue seen from Discord: positions, cancel, and many requests against a busy Venice."""

from __future__ import annotations

import asyncio
import re

from bot.images.shared_queue import SharedImageQueue
from tests.fakes.venice import Fault
from tests.harness import invoke
from tests.integration.conftest_images import (  # noqa: F401 - fixtures
    GENERATE,
    ImageWorld,
    busy_venice_fixture,
    busy_world_fixture,
    custom_ids,
    ephemeral_texts,
    world_fixture,
)

POSITION = re.compile(r"\*\*#(\d+)\*\*")


def positions_shown(handle) -> list[int]:  # type: ignore[no-untyped-def]
    """Queue positions the bot showed on one request's placeholder, in order."""
    shown = []
    for r in handle.requests:
        if r.method == "PATCH" and isinstance(r.json, dict):
            match = POSITION.search(r.json.get("content") or "")
            if match:
                shown.append(int(match.group(1)))
    return shown


async def test_thirty_concurrent_requests_are_each_delivered_exactly_once(busy_world: ImageWorld) -> None:
    world = busy_world
    places = [world.place() for _ in range(3)]
    payloads = []
    for i in range(30):
        place = places[i % 3]
        user = world.user(f"user{i}")
        payloads.append(world.discord.slash_payload(user, place, "imagine", {"prompt": f"a woman, portrait {i}"}))

    await asyncio.gather(*(invoke(world.bot, payload, timeout=120) for payload in payloads))
    handles = [world.discord.handle(payload) for payload in payloads]

    records = await world.records()
    assert len(records) == 30 and {r.status for r in records} == {"done"}
    assert sorted(r.user_prompt for r in records) == sorted(f"a woman, portrait {i}" for i in range(30))
    uploads = [r for r in world.discord.requests if r.files]
    assert len(uploads) == 30  # every image posted once, none twice
    for handle in handles:
        message = handle.original
        assert message is not None and len(message["attachments"]) == 1
    assert len({h.original["id"] for h in handles}) == 30
    assert {r.discord_message_id for r in records} == {int(h.original["id"]) for h in handles}

    shown = [positions_shown(h) for h in handles]
    assert sum(1 for s in shown if s) >= 20  # nearly everyone waited and saw where they stood
    assert any(len(s) >= 2 for s in shown)  # and the position moved while they waited
    assert all(s == sorted(s, reverse=True) for s in shown)  # never backwards
    waits = [r.json.get("content") for h in handles for r in h.requests if r.method == "PATCH"]
    assert any(w and "Venice is busy" in w for w in waits)  # 429s were waited out, visibly
    assert len(world.generated()) > 30  # some answers were 429s, and none of them became a failure
    assert world.venice.violations == [] and world.discord.violations == []


async def test_a_waiting_request_can_be_cancelled_by_its_requester_only(world: ImageWorld) -> None:
    services = world.bot.services
    services.images.queue = SharedImageQueue(services.sessions, owner=services.process, global_limit=1,
                                             min_update_interval=0.01, poll_interval=0.05)
    place = world.place()
    first_user, second_user = world.user("first"), world.user("second")
    world.venice.inject(GENERATE, Fault.hang(0.8))
    first = world.discord.slash_payload(first_user, place, "imagine", {"prompt": "a woman, first"})
    second = world.discord.slash_payload(second_user, place, "imagine", {"prompt": "a woman, second"})
    running = asyncio.create_task(invoke(world.bot, first, timeout=30))
    async with asyncio.timeout(5):
        # The fake Venice has no event for "a request arrived", so this polls.
        while not world.generated():  # noqa: ASYNC110 - the first request is with Venice (and hangs there)
            await asyncio.sleep(0.01)
    waiting = asyncio.create_task(invoke(world.bot, second, timeout=30))
    waiting_handle = world.discord.handle(second)
    await world.discord.wait_until(
        lambda: bool(waiting_handle.original and any("cancel" in c for c in custom_ids(waiting_handle.original))),
        timeout=5, what="a cancel button on the waiting request",
    )
    message = waiting_handle.original
    [cancel_id] = custom_ids(message)

    stranger = await world.click(place, message, cancel_id, user=world.user("stranger"))
    assert any("Only the person who asked" in t for t in ephemeral_texts(stranger))
    await world.click(place, message, cancel_id, user=second_user)
    await asyncio.wait_for(waiting, 5)
    await asyncio.wait_for(running, 10)

    assert "Cancelled" in waiting_handle.original["content"]
    assert waiting_handle.original["components"] == []
    assert [r.status for r in await world.records()] == ["done", "cancelled"]
    assert len(world.generated()) == 1


async def test_an_image_outliving_its_interaction_token_is_posted_in_the_channel(world: ImageWorld) -> None:
    place = world.place()
    world.venice.inject(GENERATE, Fault.hang(0.3))
    payload = world.discord.slash_payload(place.user, place, "imagine", {"prompt": "a woman, late"})
    task = asyncio.create_task(invoke(world.bot, payload, timeout=30))
    async with asyncio.timeout(5):
        while not world.generated():  # noqa: ASYNC110 - the fake Venice has no arrival event
            await asyncio.sleep(0.01)
    world.discord.expire_interaction(payload["token"])  # as if 15 minutes had passed
    await task

    [post] = world.discord.find("POST", rf"/channels/{place.channel_id}/messages")
    assert post.files and post.json["components"]
    [record] = await world.records()
    assert record.status == "done" and record.discord_message_id == int(post.response["id"])
