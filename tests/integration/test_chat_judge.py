"""The judge (stage 2 of the content screen) in a chat turn, on the production bot and the fakes.

What reaches the judge and with which context (the character, the persona, earlier turns); that it
fails closed (an error, a timeout or garbage refuses, audited as judge_unavailable, no strike);
that its cache spares a second call; that it runs beside the generation and nothing of a reply
shows before it clears; and that model output it refuses never reaches a Discord body. The fake
judge's rules: `tests/fakes/venice_judge.py` (a sexual word plus an age under 18 in the text or
its context is a minor; birth years against the date in the judge's prompt).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot import safety
from bot.chat.generation import UNCHECKED
from bot.chat.pictures import SCENE_UNCHECKED
from bot.chat.service import WITHHELD
from bot.judge.prompt import KINDS
from bot.policy import UNAVAILABLE
from bot.store.models import AuditEvent, Message, UserFlag
from tests.fakes.venice import Fault
from tests.integration.conftest_chat import ChatWorld, TimedList, button, chat_fixture, text_of
from tests.integration.test_chat_screening import model_text

__all__ = ["chat_fixture"]

# Stage 1 hands these to the judge (a school setting or a birth year next to sexual words) without
# refusing them; the fake judge clears them unless an age under 18 is in the text or its context.
JUDGED = "She moans as I undress her, her old school uniform on the floor."
MINOR_YEAR = datetime.now(UTC).year - 14
BORN_MINOR = f"She was born in {MINOR_YEAR}, and tonight she moans softly as you undress her."
HARMLESS = "The tavern is warm and loud, and the rain taps on the windows. "


def stage1_judges(text: str, context: str = "chat") -> bool:
    verdict = safety.screen(text, context=context)
    return verdict.allowed and verdict.judge


def bodies(chat: ChatWorld) -> list[str]:
    return [json.dumps(body, ensure_ascii=False) for body in chat.all_bodies()]


def notices(chat: ChatWorld, where: Any) -> list[str]:
    """The bot's plain answers to a person's message (refusals), not the character's replies."""
    return [m["content"] for m in chat.messages_in(where)
            if m.get("message_reference") and m["author"]["id"] == chat.discord.world.bot["id"]]


async def rows(chat: ChatWorld, model: Any) -> list[Any]:
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        return list((await session.scalars(select(model))).all())


async def strikes(chat: ChatWorld) -> int:
    return sum(f.strikes for f in await rows(chat, UserFlag))


async def until(predicate: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the fakes signal nothing we could await here
            await asyncio.sleep(0.01)


def test_the_texts_here_are_the_ones_stage_1_hands_to_the_judge() -> None:
    assert stage1_judges(JUDGED) and stage1_judges(BORN_MINOR) and stage1_judges(BORN_MINOR, "output")
    assert not safety.screen("Who are you?").judge and not safety.screen(HARMLESS * 10, context="output").judge


# ------------------------------------------------------------------ what reaches the judge


async def test_plain_chat_never_reaches_the_judge(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.reply_text = "Welcome in, stranger. " * 30
    await chat.say(where, "Who are you?")
    assert chat.venice.judge.calls == []
    assert text_of(chat.replies_in(where)[0]).startswith("Welcome in, stranger.")


async def test_the_judge_reads_the_words_with_the_character_the_persona_and_earlier_turns(chat: ChatWorld) -> None:
    where = chat.place()
    user_id = int(where.user["id"])
    await chat.bot.services.chat.set_persona(user_id, "Tom", "a 34-year-old sailor")  # type: ignore[union-attr]
    chat.venice.replies.append("Lily smiles and says she is 15 years old.")
    await chat.say(where, "Tell me about Lily.")
    await chat.say(where, "Now I undress her slowly, she is in Year 9.")

    [call] = [c for c in chat.venice.judge.calls if "Year 9" in c.text]
    assert call.document_kind == KINDS["chat"]
    assert call.context is not None
    assert "Name: Scarlett" in call.context["character"]  # the channel's character, summarised
    assert call.context["persona"] == "Tom: a 34-year-old sailor"
    assert any("15 years old" in turn for turn in call.context["recent_turns"])  # the age, said earlier
    assert "Tom: Tell me about Lily." in call.context["recent_turns"]
    # The fake judge finds the age in the context: refused, with a strike (high confidence).
    assert len(chat.replies_in(where)) == 1  # nothing answered the refused words
    assert "under 18" in notices(chat, where)[-1]
    assert [(e.kind, e.rule) for e in await rows(chat, AuditEvent)][-1] == ("refusal", "judge_minor")
    assert await strikes(chat) == 1
    kept = [m.content for m in await rows(chat, Message)]
    assert not any("Year 9" in text for text in kept)  # the refused turn did not become history


async def test_the_same_words_in_the_same_context_are_judged_once(chat: ChatWorld) -> None:
    first, second = chat.place(), chat.place()  # two new channels, same character, no history
    await chat.say(first, JUDGED)
    await chat.say(second, JUDGED)
    assert [c.text for c in chat.venice.judge.calls if c.document_kind == KINDS["chat"]] == [JUDGED]
    assert len(chat.replies_in(first)) == len(chat.replies_in(second)) == 1


async def test_a_streamed_reply_is_judged_at_the_edit_cadence_each_text_once(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.chunk_delay = 0.005
    chat.venice.reply_text = JUDGED + " " + "She laughs and pours more wine. " * 30
    await chat.say(where, "Hello")
    texts = [c.text for c in chat.venice.judge.calls if c.document_kind == KINDS["output"]]
    assert texts and len(texts) == len(set(texts))  # never the same text twice
    [reply] = chat.replies_in(where)
    writes = [r for r in chat.discord.requests if (r.method in ("POST", "PATCH") and reply["id"] in r.path)
              or (r.method == "POST" and isinstance(r.json, dict) and JUDGED[:20] in str(r.json.get("content")))]
    # Per write (what arrived, and what shows of it: all but the last word), not per token.
    assert len(texts) <= 2 * len(writes) + 1 < len(chat.venice.reply_text.split())
    assert text_of(chat.replies_in(where)[0]) == chat.venice.reply_text.strip()


# ------------------------------------------------------------------ fail closed


@pytest.mark.parametrize("fault", [Fault.http(500, times=50), None, Fault.of("garbage"), Fault.of("ill_typed")],
                         ids=["500", "timeout", "garbage", "ill-typed"])
async def test_a_judge_that_cannot_answer_refuses_the_words_without_a_strike(chat: ChatWorld,
                                                                             fault: Fault | None) -> None:
    chat.bot.services.policy.judge.timeout = 0.5  # type: ignore[union-attr]
    where = chat.place()
    if fault is None:
        chat.venice.judge.hold = asyncio.Event()  # never answers: slower than the judge's timeout
    else:
        chat.venice.judge.inject(fault)
    chat.venice.reply_text = "This reply must never be shown."
    await chat.say(where, JUDGED)

    assert chat.replies_in(where) == []
    assert not [b for b in bodies(chat) if "never be shown" in b]
    assert notices(chat, where) == [UNAVAILABLE]
    events = await rows(chat, AuditEvent)
    assert [e.kind for e in events] == ["judge_unavailable"]
    assert await strikes(chat) == 0
    assert await rows(chat, Message) == []  # the turn is not kept: the person can simply say it again


async def test_output_the_judge_cannot_check_is_withheld_with_regenerate_to_try_again(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.judge.inject(Fault.http(500, times=50))
    chat.venice.reply_text = JUDGED + " And then she smiles."
    await chat.say(where, "Hello")
    [reply] = chat.replies_in(where)
    assert text_of(reply) == UNCHECKED and button(reply, "regen")
    assert not [b for b in bodies(chat) if "school uniform" in b]
    assert [e.kind for e in await rows(chat, AuditEvent)] == ["judge_unavailable"]
    assert await strikes(chat) == 0


# ------------------------------------------------------------------ beside the generation


async def test_a_slow_judge_runs_beside_venice_and_nothing_shows_before_it_clears(chat: ChatWorld) -> None:
    where = chat.place()
    chat.discord.requests = TimedList()
    chat.venice.judge.hold = asyncio.Event()
    chat.venice.reply_text = "Welcome in, stranger."
    talking = asyncio.create_task(chat.say(where, JUDGED))
    await asyncio.wait_for(chat.venice.judge.received.wait(), 10)
    await until(lambda: chat.venice.count("/chat/completions") == 2)  # the reply was asked for meanwhile
    streamed = [r for r in chat.venice.requests_to("/chat/completions") if r.json.get("stream")]
    assert len(streamed) == 1
    await asyncio.sleep(0.2)  # Venice has answered by now; the reply waits for the judge
    assert chat.replies_in(where) == [] and not talking.done()
    assert not [b for b in bodies(chat) if "Welcome" in b]
    cleared_at = len(chat.discord.requests)
    chat.venice.judge.hold.set()
    await talking
    assert text_of(chat.replies_in(where)[0]) == "Welcome in, stranger."
    assert not [r for r in chat.discord.requests[:cleared_at] if "Welcome" in json.dumps(r.json)]


async def test_a_judge_refusal_stops_the_generation_and_shows_nothing(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.judge.hold = asyncio.Event()
    chat.venice.chunk_delay = 0.05
    chat.venice.reply_text = "word " * 5_000  # minutes of streaming, unless the refusal stops it
    talking = asyncio.create_task(chat.say(where, BORN_MINOR))
    await asyncio.wait_for(chat.venice.judge.received.wait(), 10)
    await until(lambda: any(r.json.get("stream") for r in chat.venice.requests_to("/chat/completions")))
    chat.venice.judge.hold.set()
    await talking
    assert chat.replies_in(where) == []
    assert not [b for b in bodies(chat) if "word word" in b]
    assert "under 18" in notices(chat, where)[0]
    assert await rows(chat, Message) == []


# ------------------------------------------------------------------ output


@pytest.mark.parametrize("pace", [0.0, 0.01], ids=["at-once", "streamed"])
@pytest.mark.parametrize("before", [0, 600], ids=["at-the-start", "after-600-harmless-characters"])
async def test_output_the_judge_refuses_never_reaches_a_discord_body(chat: ChatWorld, pace: float,
                                                                     before: int) -> None:
    where = chat.place()
    harmless = (HARMLESS * 20)[:before].rstrip()
    chat.venice.chunk_delay = pace
    chat.venice.reply_text = (harmless + " " if harmless else "") + BORN_MINOR + " " + "She smiles. " * 40
    await chat.say(where, "Who are you?")

    [reply] = chat.replies_in(where)
    assert text_of(reply) == WITHHELD
    refused = BORN_MINOR.split(",")[0] + ", and tonight she moans"  # where the sentence becomes refusable
    assert not [b for b in bodies(chat) if refused in b]
    # Stronger: every body's model text passes both stages, as the judge would read it now.
    policy = chat.bot.services.policy  # type: ignore[union-attr]
    for body in bodies(chat):
        shown = json.loads(body).get("content") or ""
        assert (await policy.assess(model_text(shown), context="output")).allowed, shown
    assert any(refused in c.text for c in chat.venice.judge.calls)  # the judge decided, not stage 1
    events = [(e.kind, e.rule) for e in await rows(chat, AuditEvent)]
    assert events == [("output_refusal", "judge_minor")]  # audited once, never a strike
    assert await strikes(chat) == 0
    assert not any(str(MINOR_YEAR) in m.content for m in await rows(chat, Message))  # not stored either
    if before and pace:
        assert any(harmless[:40] in b for b in bodies(chat))  # the harmless start was streamed


async def test_regenerate_and_continue_are_judged_like_a_new_reply(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.replies.append("She pours you a drink.")
    await chat.say(where, "Hello")
    reply = chat.latest_with(where, "regen")
    chat.venice.replies.append(" " + BORN_MINOR)
    await chat.click(where, reply, button(reply, "cont"))
    assert text_of(chat.latest_with(where, "regen")) == WITHHELD
    reply = chat.latest_with(where, "regen")
    chat.venice.replies.append(BORN_MINOR)
    await chat.click(where, reply, button(reply, "regen"))
    assert text_of(chat.latest_with(where, "regen")) == WITHHELD
    assert not [b for b in bodies(chat) if "tonight she moans" in b]
    assert [(e.kind, e.rule) for e in await rows(chat, AuditEvent)] == [("output_refusal", "judge_minor")] * 2
    assert await strikes(chat) == 0


# ------------------------------------------------------------------ other chat texts


async def test_an_edited_message_is_judged_with_the_turns_before_it(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.replies.append("Lily says she is 15 years old.")
    await chat.say(where, "Who is Lily?")
    message = await chat.say(where, "I order a gin")
    await chat.edit_message(message, f"<@{chat.discord.world.bot['id']}> {JUDGED}")
    [call] = [c for c in chat.venice.judge.calls if c.text == JUDGED]
    assert call.context is not None and any("15 years old" in t for t in call.context["recent_turns"])
    assert "under 18" in notices(chat, where)[-1]
    await chat.say(where, "Again")
    assert "alice: I order a gin" in chat.history()


async def test_picture_this_judges_the_scene_venice_wrote_as_an_image_prompt(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.replies.append("She leans on the bar in her black vest.")
    await chat.slash(where, "chat", {"message": "Pour me a drink"})
    reply = chat.latest_with(where, "regen")
    chat.venice.replies.append("adult woman, black vest, leaning on a bar, warm light")
    await chat.click(where, reply, button(reply, "pic"))
    # The scene is judged with the story around it (the image service judges the composed prompt too).
    calls = [c for c in chat.venice.judge.calls
             if c.document_kind == KINDS["image"] and "black vest" in c.text and c.context is not None]
    assert calls
    call = calls[0]
    assert "Scarlett" in call.context["character"]
    assert any("black vest" in t for t in call.context["recent_turns"])
    assert chat.venice.count("/image/generate") == 1

    chat.venice.judge.inject(Fault.http(500, times=50))
    chat.venice.replies.append("adult woman, red dress, dancing, candle light")
    handle = await chat.click(where, reply, button(reply, "pic"))
    assert chat.ephemeral_texts(handle) == [SCENE_UNCHECKED]
    assert chat.venice.count("/image/generate") == 1
    assert await strikes(chat) == 0
