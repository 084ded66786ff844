"""The limits through the real bot: many commands at once never make more Venice calls than allowed.

The original reports: 12 simultaneous `/chat` with `daily_messages = 1` made 5–7 Venice calls, and
12 simultaneous `/imagine` with `daily_images = 1` made 7–8 images.
"""

from __future__ import annotations

import pytest

from tests.harness import invoke_together
from tests.integration.conftest_chat import ChatWorld, chat_fixture  # noqa: F401 - fixture
from tests.integration.conftest_images import ImageWorld, world_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres
AT_ONCE = 12


async def test_twelve_simultaneous_chats_with_a_quota_of_one_make_one_venice_call(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "daily_messages", 1)
    chat.venice.reply_text = "One answer."
    payloads = [chat.discord.slash_payload(where.user, where, "chat", {"message": f"Hello {i}"})
                for i in range(AT_ONCE)]

    assert await invoke_together(chat.bot, payloads) == []

    assert len(chat.prompts()) == 1
    refused = [t for payload in payloads for t in chat.ephemeral_texts(chat.discord.handle(payload))]
    assert len(refused) == AT_ONCE - 1 and all("1 chat replies for today" in t for t in refused)


async def test_twelve_simultaneous_imagines_with_a_quota_of_one_make_one_image(world: ImageWorld) -> None:
    where = world.place()
    await world.bot.services.settings.set(  # type: ignore[union-attr]
        "daily_images", 1, scope="guild", scope_id=int(where.guild_id or 0), guild_id=int(where.guild_id or 0), by=0)
    payloads = [world.discord.slash_payload(where.user, where, "imagine", {"prompt": f"a woman, portrait {i}"})
                for i in range(AT_ONCE)]

    assert await invoke_together(world.bot, payloads, timeout=60) == []

    assert len(world.generated()) == 1
    assert [r.status for r in await world.records()] == ["done"]
