"""Image records (lineage, stale requests, latest per channel) and the image embed's limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.images.jobs import Delivery
from bot.store import images as store
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import ImageRecord, utcnow
from bot.ui.image_views import clip, image_embed, image_view, seed_text

pytestmark = pytest.mark.postgres  # the store itself: run on PostgreSQL too


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def new(kind: str = "imagine", parent_id: int | None = None, channel_id: int = 5) -> store.NewImage:
    return store.NewImage(
        user_id=1, guild_id=2, channel_id=channel_id, kind=kind, user_prompt="a woman", prompt="a woman, tags",
        negative="child", model="lustify-sdxl", style=None, seed=42, width=1024, height=1024, steps=20,
        parent_id=parent_id,
    )


async def test_lineage_walks_from_an_image_back_to_its_first_ancestor(sessions: async_sessionmaker) -> None:
    first = await store.create(sessions, new())
    reroll = await store.create(sessions, new("reroll", first))
    upscale = await store.create(sessions, new("upscale", reroll))
    chain = await store.lineage(sessions, upscale)
    assert [(r.id, r.kind) for r in chain] == [(upscale, "upscale"), (reroll, "reroll"), (first, "imagine")]


async def test_deleting_a_parent_keeps_the_child_and_its_parameters(sessions: async_sessionmaker) -> None:
    first = await store.create(sessions, new())
    child = await store.create(sessions, new("reroll", first))
    await store.mark_deleted(sessions, first)
    assert (await store.get(sessions, first)).status == "deleted"  # type: ignore[union-attr]
    assert [r.id for r in await store.lineage(sessions, child)] == [child, first]


async def test_only_old_pending_requests_are_expired(sessions: async_sessionmaker) -> None:
    old = await store.create(sessions, new())
    fresh = await store.create(sessions, new())
    done = await store.create(sessions, new())
    await store.mark_done(sessions, done, message_id=9, width=1024, height=1024)
    async with sessions.begin() as session:
        await session.execute(update(ImageRecord).values(created_at=utcnow() - timedelta(hours=2))
                              .where(ImageRecord.id.in_([old, done])))
    assert await store.expire_pending(sessions, timedelta(minutes=30)) == 1
    statuses = {i: (await store.get(sessions, i)).status for i in (old, fresh, done)}  # type: ignore[union-attr]
    assert statuses == {old: "failed", fresh: "pending", done: "done"}


async def test_latest_in_channel_is_the_newest_posted_image(sessions: async_sessionmaker) -> None:
    assert await store.latest_in_channel(sessions, [5]) is None
    a = await store.create(sessions, new())
    b = await store.create(sessions, new())
    c = await store.create(sessions, new(channel_id=6))
    for image_id in (a, b, c):
        await store.mark_done(sessions, image_id, message_id=image_id, width=1, height=1)
    await store.mark_deleted(sessions, b)
    latest = await store.latest_in_channel(sessions, [5])
    assert latest is not None and latest.id == a


def delivery(**fields: object) -> Delivery:
    values: dict[str, object] = {
        "record_id": 7, "kind": "imagine", "data": b"x", "content_type": "image/webp", "filename": "lustify-7.webp",
        "width": 832, "height": 1216, "seconds": 3.14159, "user_prompt": "a woman", "prompt": "a woman, tags",
        "model": "lustify-sdxl", "model_name": "Lustify SDXL", "style": None, "seed": 123, "seed_source": "random",
    }
    values.update(fields)
    return Delivery(**values)  # type: ignore[arg-type]


def test_the_embed_stays_within_discords_limits_for_the_longest_prompts() -> None:
    embed = image_embed(delivery(user_prompt="word " * 2000, prompt="tag, " * 2000, trimmed=["quality", "user"]),
                        requester="x" * 300)
    data = embed.to_dict()
    assert len(data["description"]) <= 1000
    assert all(len(f["value"]) <= 1024 for f in data["fields"])
    assert len(data["footer"]["text"]) <= 200
    assert sum(len(str(v)) for v in (data["title"], data["description"], data["footer"]["text"])) + sum(
        len(f["name"]) + len(f["value"]) for f in data["fields"]) <= 6000
    assert "Shortened to fit" in data["fields"][-1]["value"]


def test_the_embed_shows_the_seed_copyably_and_where_it_came_from() -> None:
    fields = {f.name: f.value for f in image_embed(delivery(seed_source="channel lock"), requester="a").fields}
    assert fields["Seed"] == "`123` (channel lock)"
    assert fields["Model"] == "Lustify SDXL (lustify-sdxl)" and fields["Size"] == "832×1216"
    assert fields["Time"] == "3.1 s"
    assert seed_text(5, "random") == "`5`"


def test_clip_cuts_at_a_word_and_marks_the_cut() -> None:
    assert clip("short", 10) == "short"
    assert clip("one two three four five six", 13) == "one two…"  # not "one two thre…"


def test_an_upscale_has_no_upscale_button() -> None:
    ids = [item.custom_id for item in image_view(3, kind="upscale").children]  # type: ignore[attr-defined]
    assert ids == ["img:reroll:3", "img:edit:3", "img:alter:3", "img:lock:3", "img:delete:3"]
