"""Pictures in: an image on a message to the bot, or on /chat, is checked, judged, and given to a
model that can see — or refused, saying why, with no chat request at all.

The fake judge decides a picture by its top-left pixel (red: apparent minor, blue: a sexualised
real person); the fake Venice validates the multimodal request against the swagger.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import AuditEvent, Message
from tests import payloads as p
from tests.fakes.discord import SPEC_PATH
from tests.fakes.venice_faults import Fault
from tests.harness import dispatch_message
from tests.integration.conftest_chat import ChatWorld, chat_fixture
from tests.places import PlaceSetup

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")
__all__ = ["chat_fixture"]

GREEN = (40, 160, 90)
RED = (230, 20, 20)
BLUE = (20, 20, 230)


def png(colour: tuple[int, int, int] = GREEN, size: tuple[int, int] = (320, 240)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


async def send(chat: ChatWorld, where: PlaceSetup, content: str, files: list[tuple[str, bytes]],
               content_type: str | None = None) -> dict[str, Any]:
    author = chat.discord.world.user(where.user)
    atts = []
    for name, data in files:
        att = chat.discord.world.add_attachment(where.channel_id, name, data)
        if content_type is not None:
            att["content_type"] = content_type
        atts.append(att)
    msg = p.message_create(channel_id=where.channel_id, author=author, content=content, guild_id=where.guild_id,
                           mentions_bot=True, attachments=atts)
    chat.discord.world.messages[msg["id"]] = msg
    await dispatch_message(chat.bot, msg, timeout=30)
    return msg


def turns(chat: ChatWorld) -> list[Any]:
    return [r for r in chat.venice.requests_to("/chat/completions", "POST") if r.json.get("stream")]


def user_content(request: Any) -> Any:
    return next(m["content"] for m in reversed(request.json["messages"]) if m["role"] == "user")


def bot_texts(chat: ChatWorld, where: PlaceSetup) -> list[str]:
    return [m["content"] for m in chat.messages_in(where) if m["author"]["id"] == p.BOT_ID and m["content"]]


async def stored_user_turns(chat: ChatWorld) -> list[str]:
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        return list((await session.execute(select(Message.content).where(Message.role == "user"))).scalars())


async def test_a_picture_is_judged_then_seen_and_not_stored(chat: ChatWorld) -> None:
    where = chat.place()
    await send(chat, where, "What do you think of my new dress?", [("dress.png", png())])
    [turn] = turns(chat)
    parts = user_content(turn)
    assert parts[0]["type"] == "text" and parts[0]["text"].endswith("What do you think of my new dress?\n[picture]")
    assert parts[1]["type"] == "image_url" and parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert [c.kind for c in chat.venice.judge.calls] == ["image"]  # judged before anything else
    assert await stored_user_turns(chat) == ["What do you think of my new dress?\n[picture]"]


@pytest.mark.parametrize(("colour", "words"), [(RED, "under 18"), (BLUE, "real person")])
async def test_a_picture_the_judge_refuses_never_reaches_the_chat_model(
        chat: ChatWorld, colour: tuple[int, int, int], words: str) -> None:
    where = chat.place()
    await send(chat, where, "Look at this.", [("photo.png", png(colour))])
    assert turns(chat) == []
    assert any(words in t for t in bot_texts(chat, where)), bot_texts(chat, where)
    assert await stored_user_turns(chat) == []
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        kinds = list((await session.execute(select(AuditEvent.kind))).scalars())
    assert "refusal" in kinds


async def test_a_judge_that_cannot_answer_refuses_the_picture(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.judge.inject(Fault.http(500, times=8))
    await send(chat, where, "Look at this.", [("photo.png", png())])
    assert turns(chat) == []
    assert any("couldn't be checked" in t for t in bot_texts(chat, where))


async def test_a_model_that_cannot_see_says_so_or_the_vision_model_looks(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "text_model", "deepseek-v3.2")
    await send(chat, where, "Look at this.", [("photo.png", png())])
    assert turns(chat) == [] and chat.venice.judge.calls == []  # nothing judged or sent
    [said] = [t for t in bot_texts(chat, where) if "can't see pictures" in t]
    assert "`deepseek-v3.2`" in said and "vision_model" in said and "`" in said.split("Models that can:")[1]
    # The server names a model that can see: the turn with a picture goes to it, others don't.
    await chat.setting(where, "vision_model", "venice-uncensored-1-2")
    await send(chat, where, "And this?", [("photo.png", png())])
    [turn] = turns(chat)
    assert turn.json["model"] == "venice-uncensored-1-2"
    await chat.say(where, "Words only now.")
    assert turns(chat)[-1].json["model"] == "deepseek-v3.2"


async def test_a_model_taking_one_picture_refuses_two(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "text_model", "gemma-4-uncensored")
    await send(chat, where, "Two of them.", [("a.png", png()), ("b.png", png())])
    assert turns(chat) == []
    assert any("can look at 1 picture at a time" in t for t in bot_texts(chat, where))


async def test_pictures_refused_before_the_judge(chat: ChatWorld) -> None:
    where = chat.place()
    await send(chat, where, "Tiny.", [("tiny.png", png(size=(32, 32)))])
    await send(chat, where, "Not really a picture.", [("fake.png", b"this is not a png at all" * 20)])
    assert turns(chat) == [] and chat.venice.judge.calls == []
    assert len(bot_texts(chat, where)) == 2


async def test_chat_with_an_attachment_that_is_not_a_picture(chat: ChatWorld) -> None:
    where = chat.place()
    handle = await chat.slash(where, "chat", {"message": "Read this.", "image": ("notes.txt", b"hello")})
    assert turns(chat) == []
    assert any("only look at pictures" in t for t in chat.ephemeral_texts(handle))


async def test_chat_with_a_picture(chat: ChatWorld) -> None:
    where = chat.place()
    handle = await chat.slash(where, "chat", {"message": "My garden.", "image": ("garden.png", png())})
    await handle.response()
    [turn] = turns(chat)
    assert any(part["type"] == "image_url" for part in user_content(turn))
    assert await stored_user_turns(chat) == ["My garden.\n[picture]"]


async def test_chat_with_a_refused_picture_is_answered_privately(chat: ChatWorld) -> None:
    where = chat.place()
    handle = await chat.slash(where, "chat", {"message": "Look.", "image": ("photo.png", png(RED))})
    assert turns(chat) == []
    public = [m for m in chat.messages_in(where) if not int(m.get("flags") or 0) & 64 and m["content"]]
    assert not any("under 18" in m["content"] for m in public), public
    assert any("under 18" in t for t in chat.ephemeral_texts(handle))
