"""A channel answers in the order things were said, even when the first one has more to check."""

from __future__ import annotations

import asyncio

from bot.chat.queue import ChannelQueue


async def test_a_place_in_line_is_taken_when_said_not_when_the_checks_are_done() -> None:
    queue, order = ChannelQueue(), []
    first_checked = asyncio.Event()

    async def say(name: str, checks: asyncio.Event | None) -> None:
        spot = queue.line_up(500)
        if checks is not None:
            await checks.wait()  # the first message is still being checked
        async with spot:
            order.append(name)
            await asyncio.sleep(0)

    first = asyncio.create_task(say("first", first_checked))
    second = asyncio.create_task(say("second", None))
    await asyncio.sleep(0.01)
    assert order == []  # the second waits for the first, which is not through its checks yet
    first_checked.set()
    await asyncio.gather(first, second)
    assert order == ["first", "second"] and queue.waiting(500) == 0


async def test_a_place_given_up_lets_the_line_move_on() -> None:
    queue, order = ChannelQueue(), []
    refused = queue.line_up(500)
    later = queue.line_up(500)
    refused.leave()  # refused before its turn came

    async with later:
        order.append("later")
    assert order == ["later"] and queue.waiting(500) == 0


async def test_channels_do_not_wait_for_each_other() -> None:
    queue = ChannelQueue()
    async with queue.turn(500):
        async with asyncio.timeout(1):
            async with queue.turn(501):
                pass
