from __future__ import annotations
import asyncio, time
from tests.harness import connected_bot, invoke
from tests.conftest import DISCORD_TOKEN
from bot.client import make_bot

async def test_proto(settings, fake_discord, fake_venice):
    fake = fake_discord
    t0 = time.monotonic()
    setups = {k: fake.add_place(k) for k in ("nsfw_text", "sfw_text", "thread_parent_uncached", "bot_dm")}
    async with connected_bot(lambda: make_bot(settings), fake, token=DISCORD_TOKEN) as bot:
        print("connected", time.monotonic() - t0)
        await bot.tree.sync()
        print("synced", time.monotonic() - t0, len(fake_venice.requests))
        for key, s in setups.items():
            payload = fake.slash_payload(None, s, "chat", {"message": "hello there"})
            await invoke(bot, payload, timeout=20)
            h = fake.handle(payload)
            print(key, time.monotonic() - t0, [ (r.method, r.path, r.status) for r in h.requests][:5])
            print("  venice", [(r.method, r.path) for r in fake_venice.requests])
            print("  msgs", [ (m["channel_id"], m["content"][:50], len(m["components"])) for m in fake.world.messages.values()][-3:])
        print(fake.violations)
