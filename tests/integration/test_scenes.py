"""Group scenes end to end through the production bot: three characters in one channel.

The fake Discord records every webhook execution (who each reply was posted as), the fake Venice
every prompt (what each speaker was told). Commands, buttons and the select are real interactions.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from sqlalchemy import select

from bot.characters.model import Character, Lorebook, LoreEntry
from bot.chat import scene_cast
from bot.chat.cast_prompt import GROUP_NUDGE
from bot.store import cast
from bot.store.models import Message
from bot.where import Where
from tests.integration.conftest_chat import ChatWorld, button, chat_fixture, custom_ids, text_of
from tests.places import PlaceSetup

__all__ = ["chat_fixture"]

CAST = (
    ("Alice Vance", "A sharp-tongued bartender with silver rings.", "https://cdn.example.com/alice.png"),
    ("Bruno", "A retired boxer who speaks in short sentences.", "https://cdn.example.com/bruno.png"),
    ("Celeste", "A jazz singer who answers in riddles.", "https://cdn.example.com/celeste.png"),
)

LOOKS = {"Alice Vance": "woman in her thirties, silver rings, black vest",
         "Bruno": "man in his fifties, broken nose, grey beard",
         "Celeste": "woman in her forties, sequined gown, red lipstick"}


class Scene:
    """A channel with three custom characters in its cast, in CAST order."""

    def __init__(self, chat: ChatWorld, where: PlaceSetup, refs: list[str]) -> None:
        self.chat = chat
        self.where = where
        self.refs = refs

    @property
    def services(self) -> Any:
        return self.chat.bot.services

    async def conversation_id(self) -> int:
        conv = await self.services.chat.conversations.active(int(self.where.channel_id))
        assert conv is not None
        return int(conv.id)

    async def view(self) -> cast.CastView:
        found = await cast.load(self.services.sessions, await self.conversation_id())
        assert found is not None
        return found

    async def mode(self, mode: str) -> None:
        handle = await self.chat.slash(self.where, "scene mode", {"mode": mode})
        assert any(mode.replace("_", " ") in t for t in texts_of(handle)), texts_of(handle)

    def webhook_posts(self, since: int = 0) -> list[dict[str, Any]]:
        """The bodies of every webhook execution (a reply's first message) since `since`."""
        return [r.json for r in self.chat.discord.requests[since:]
                if r.method == "POST" and "/webhooks/" in r.path and "/interactions/" not in r.path
                and isinstance(r.json, dict) and "username" in r.json]

    def speakers_since(self, since: int) -> list[str]:
        return [b["username"] for b in self.webhook_posts(since)]


def texts_of(handle: Any) -> list[str]:
    out = []
    for r in handle.requests:
        body = r.json if isinstance(r.json, dict) else {}
        data = body.get("data", body) if "type" in body else body
        if isinstance(data, dict):
            out += [data.get("content") or ""] + [e.get("description") or "" for e in data.get("embeds") or []]
    return out


async def make_scene(chat: ChatWorld, *, mode: str | None = None,
                     books: dict[str, Lorebook] | None = None) -> Scene:
    where = chat.place()
    services: Any = chat.bot.services
    maker = Where(int(where.user["id"]), int(where.guild_id) if where.guild_id else None, int(where.channel_id),
                  "test")
    refs = []
    for name, description, avatar in CAST:
        made = await services.characters.create(Character(name=name, description=description,
                                                          appearance=LOOKS[name],
                                                          lorebook=(books or {}).get(name)), where=maker,
                                                shared=False, avatar_url=avatar)
        refs.append(f"custom:{made.id}")
    await chat.slash(where, "character set", {"character": refs[0]})
    for ref in refs[1:]:
        handle = await chat.slash(where, "scene add", {"character": ref})
        assert any("joined the scene" in t for t in texts_of(handle)), texts_of(handle)
    scene = Scene(chat, where, refs)
    assert [m.ref for m in (await scene.view()).members] == refs
    if mode is not None:
        await scene.mode(mode)
    return scene


def system_text(prompt: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in prompt if m["role"] == "system")


def scene_button(message: dict[str, Any], action: str) -> str:
    found = [c for c in custom_ids(message) if c.startswith(f"scene:{action}:")]
    assert found, f"no scene {action} control on {custom_ids(message)}"
    return found[0]


async def latest_reply(scene: Scene) -> dict[str, Any]:
    return scene.chat.latest_with(scene.where, "regen")


async def stored_reply(scene: Scene, message: dict[str, Any]) -> Any:
    row = await scene.services.chat.conversations.by_discord_id(int(message["id"]))
    assert row is not None
    return row


# ---------------------------------------------------------------------------------------------


async def test_everyone_mode_each_character_answers_under_its_own_name_with_its_own_prompt(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="everyone")
    chat.venice.replies.extend(["Alice pours.", "Bruno: Bruno nods.", "Celeste hums."])
    since_discord, since_prompts = len(chat.discord.requests), len(chat.prompts())
    await chat.say(scene.where, "Good evening, all of you")

    posts = scene.webhook_posts(since_discord)
    assert [b["username"] for b in posts] == [name for name, _, _ in CAST]
    assert [b.get("avatar_url") for b in posts] == [avatar for _, _, avatar in CAST]
    assert all(b.get("allowed_mentions", {}).get("parse") == [] for b in posts)

    prompts = chat.prompts()[since_prompts:]
    assert len(prompts) == 3
    for i, prompt in enumerate(prompts):
        system = system_text(prompt)
        name, description, _ = CAST[i]
        assert description in system  # its own card
        others = [c for j, c in enumerate(CAST) if j != i]
        assert all(f"{o[0]}: {o[1]}" in system for o in others)  # the others, briefly
        assert GROUP_NUDGE.replace("{{char}}", name) in system
    # The shared history says who said what: the second speaker reads the first one's line.
    history = chat.history(prompts[2])
    assert history[-3:] == ["alice: Good evening, all of you", "Alice Vance: Alice pours.", "Bruno: Bruno nods."]
    requests = [r.json for r in chat.venice.requests_to("/chat/completions", "POST") if r.json.get("stream")]
    assert "\nBruno:" in requests[-3]["stop"] and "\nAlice Vance:" not in requests[-3]["stop"]

    # "Bruno: Bruno nods." was stored and shown without the speaker's own name in front.
    replies = chat.replies_in(scene.where)[-3:]
    assert [text_of(m) for m in replies] == ["Alice pours.", "Bruno nods.", "Celeste hums."]
    rows = [await stored_reply(scene, m) for m in replies]
    assert [r.content for r in rows] == ["Alice pours.", "Bruno nods.", "Celeste hums."]
    assert len({r.reply_to for r in rows}) == 1  # all three answer the same words
    # The latest reply carries "⏭ Next" and "who answers" (one choice per member); the others don't
    # any more, but keep their own controls.
    assert scene_button(replies[-1], "next") and scene_button(replies[-1], "pick")
    for earlier in replies[:2]:
        ids = custom_ids(chat.discord.world.messages[earlier["id"]])
        assert not [c for c in ids if c.startswith("scene:")] and [c for c in ids if c.startswith("chat:regen:")]
    [select_row] = [row for row in replies[-1]["components"] if row["components"][0]["type"] == 3]
    assert [o["label"] for o in select_row["components"][0]["options"]] == [n for n, _, _ in CAST]

    # Each reply is a chat turn for the person's quota.
    async with scene.services.sessions() as s:
        from bot.store.models import Usage
        booked = (await s.scalars(select(Usage).where(Usage.kind == "chat",
                                                      Usage.user_id == int(scene.where.user["id"])))).all()
    assert len(booked) >= 3


async def test_a_named_character_answers_and_natural_order_shares_the_stage(chat: ChatWorld) -> None:
    scene = await make_scene(chat)
    scene.services.chat.rng = random.Random(7)
    chat.venice.reply_text = "A line."
    since = len(chat.discord.requests)
    await chat.say(scene.where, "Bruno, what are you drinking?")
    assert scene.speakers_since(since) == ["Bruno"]

    spoken: list[str] = []
    for i in range(10):
        since = len(chat.discord.requests)
        await chat.say(scene.where, f"The night goes on ({i}).")
        who = scene.speakers_since(since)
        assert len(who) == 1, who
        spoken += who
    assert set(spoken) == {name for name, _, _ in CAST}  # nobody silent throughout
    assert all(a != b for a, b in zip(["Bruno", *spoken], spoken, strict=False))  # nobody twice in a row


async def test_round_robin_and_replying_to_a_character(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="round_robin")
    chat.venice.reply_text = "Mm."
    order = []
    for i in range(4):
        since = len(chat.discord.requests)
        await chat.say(scene.where, f"And then? {i}")
        order += scene.speakers_since(since)
    names = [n for n, _, _ in CAST]
    assert order == [names[0], names[1], names[2], names[0]]
    # A Discord reply to Celeste's message (nobody named): Celeste answers.
    celeste = [m for m in chat.replies_in(scene.where) if m["author"]["username"] == "Celeste"][-1]
    since = len(chat.discord.requests)
    await chat.say(scene.where, "What do you mean by that?", reply_to=celeste)
    assert scene.speakers_since(since) == ["Celeste"]


async def test_next_button_and_select_within_the_cap(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="round_robin")
    chat.venice.reply_text = "Words."
    await chat.say(scene.where, "Hello")
    cap = scene.services.chat.chain_limit
    for _ in range(cap):
        reply = chat.replies_in(scene.where)[-1]
        since = len(chat.discord.requests)
        handle = await chat.click(scene.where, reply, scene_button(reply, "next"))
        assert (await handle.response()).json["type"] == 6
        assert len(scene.speakers_since(since)) == 1
    assert (await scene.view()).chained == cap
    reply = chat.replies_in(scene.where)[-1]
    prompts = len(chat.prompts())
    handle = await chat.click(scene.where, reply, scene_button(reply, "next"))
    assert chat.ephemeral_texts(handle) == [scene_cast.CHAIN_CAPPED]
    assert len(chat.prompts()) == prompts  # Venice was not asked

    # Words from the person reset the count; the select picks who speaks.
    await chat.say(scene.where, "Go on")
    reply = chat.replies_in(scene.where)[-1]
    stale_next = scene_button(reply, "next")
    since = len(chat.discord.requests)
    payload = chat.discord.click_payload(scene.where.user, scene.where, reply["id"], scene_button(reply, "pick"))
    payload["data"]["component_type"] = 3
    payload["data"]["values"] = [scene.refs[2]]
    from tests.harness import invoke
    await invoke(chat.bot, payload, timeout=30)
    assert scene.speakers_since(since) == ["Celeste"]
    # The controls moved to Celeste's reply; an old Next (a message not refreshed yet) is refused.
    old = chat.discord.world.messages[reply["id"]]
    assert not [c for c in custom_ids(old) if c.startswith("scene:")]
    handle = await chat.click(scene.where, old, stale_next)
    assert chat.ephemeral_texts(handle) == [scene_cast.NOT_NEWEST]


async def test_swipe_on_the_middle_reply_and_delete_keeps_the_shared_words(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="everyone")
    chat.venice.replies.extend(["A one.", "B one.", "C one."])
    await chat.say(scene.where, "Cheers")
    middle = chat.replies_in(scene.where)[-2]

    chat.venice.replies.append("B two.")
    since = len(chat.discord.requests)
    await chat.click(scene.where, middle, button(middle, "regen"))
    prompt = chat.last_prompt()
    assert GROUP_NUDGE.replace("{{char}}", "Bruno") in system_text(prompt)  # Bruno's prompt, Bruno's card
    assert chat.history(prompt)[-2:] == ["alice: Cheers", "Alice Vance: A one."]  # up to the middle reply
    shown = chat.discord.world.messages[middle["id"]]
    assert text_of(shown) == "B two."
    assert all(b["username"] == "Bruno" for b in scene.webhook_posts(since))
    await chat.click(scene.where, shown, button(shown, "prev"))
    assert text_of(chat.discord.world.messages[middle["id"]]) == "B one."
    row = await stored_reply(scene, middle)
    assert row.swipes == ["B one.", "B two."] and row.author_name == "Bruno"

    # Deleting the middle reply keeps the words the others still answer.
    await chat.click(scene.where, shown, button(shown, "del"))
    chat.venice.replies.extend(["A two.", "B three.", "C two."])
    await chat.say(scene.where, "Again")
    history = chat.history(chat.prompts()[-3])
    assert "alice: Cheers" in history and "Bruno: B one." not in history and "Celeste: C one." in history
    # Deleting every reply to some words takes the words too.
    for message in chat.replies_in(scene.where)[-3:]:
        await chat.click(scene.where, message, button(message, "del"))
    async with scene.services.sessions() as s:
        words = (await s.scalars(select(Message).where(Message.content == "Again"))).one()
    assert words.status == "deleted"


async def test_manual_mode_waits_for_a_pick(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="round_robin")
    chat.venice.reply_text = "Hm."
    await chat.say(scene.where, "Hi")
    await scene.mode("manual")
    since = len(chat.discord.requests)
    prompts = len(chat.prompts())
    await chat.say(scene.where, "I sit down at the bar.")
    assert scene.speakers_since(since) == [] and len(chat.prompts()) == prompts
    reply = chat.replies_in(scene.where)[-1]
    payload = chat.discord.click_payload(scene.where.user, scene.where, reply["id"], scene_button(reply, "pick"))
    payload["data"]["component_type"] = 3
    payload["data"]["values"] = [scene.refs[1]]
    from tests.harness import invoke
    await invoke(chat.bot, payload, timeout=30)
    assert scene.speakers_since(since) == ["Bruno"]
    assert chat.history()[-1] == "alice: I sit down at the bar."
    assert (await scene.view()).chained == 0  # it answered the words: not a chained reply
    # Naming still works in manual mode.
    since = len(chat.discord.requests)
    await chat.say(scene.where, "Celeste, sing something.")
    assert scene.speakers_since(since) == ["Celeste"]


async def test_restart_keeps_the_cast_and_the_buttons_work(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="round_robin")
    chat.venice.reply_text = "Yes."
    await chat.say(scene.where, "One")
    before = await scene.view()
    await chat.restart()
    assert await scene.view() == before
    reply = chat.replies_in(scene.where)[-1]
    since = len(chat.discord.requests)
    await chat.click(scene.where, reply, scene_button(reply, "next"))
    assert scene.speakers_since(since) == [CAST[1][0]]
    since = len(chat.discord.requests)
    await chat.say(scene.where, "Two")
    assert scene.speakers_since(since) == [CAST[2][0]]


async def test_scene_commands_list_remove_and_refusals(chat: ChatWorld) -> None:
    scene = await make_scene(chat)
    handle = await chat.slash(scene.where, "scene list")
    listing = " ".join(texts_of(handle))
    assert all(name in listing for name, _, _ in CAST) and "natural" in listing
    # A duplicate is refused; a removed member no longer answers, even when named.
    handle = await chat.slash(scene.where, "scene add", {"character": scene.refs[1]})
    assert any("already in this scene" in t for t in texts_of(handle))
    await chat.slash(scene.where, "scene remove", {"character": scene.refs[1]})
    assert [m.ref for m in (await scene.view()).members] == [scene.refs[0], scene.refs[2]]
    chat.venice.reply_text = "Fine."
    since = len(chat.discord.requests)
    await chat.say(scene.where, "Bruno? Where did Bruno go?")
    assert scene.speakers_since(since) and "Bruno" not in scene.speakers_since(since)


async def test_export_writes_a_group_chat(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="everyone")
    chat.venice.replies.extend(["A.", "B.", "C."])
    await chat.say(scene.where, "Hello")
    handle = await chat.slash(scene.where, "conversation export")
    files = [r for r in handle.requests if r.files]
    assert files, "no export file was sent"
    jsonl = next(data for r in files for _, name, data in r.files if name.endswith(".jsonl")).decode()
    lines = [json.loads(line) for line in jsonl.splitlines()]
    assert lines[0]["character_name"] == "unused"
    assert lines[0]["chat_metadata"]["lustify_group"]["members"] == [f"{n}.png" for n, _, _ in CAST]
    said = [(line["name"], line["mes"]) for line in lines[1:]]
    assert said[-4:] == [("alice", "Hello"), ("Alice Vance", "A."), ("Bruno", "B."), ("Celeste", "C.")]


async def test_reset_keeps_the_cast_and_every_member_greets(chat: ChatWorld) -> None:
    where = chat.place()
    services: Any = chat.bot.services
    maker = Where(int(where.user["id"]), int(where.guild_id) if where.guild_id else None, int(where.channel_id),
                  "test")
    refs = []
    for name, greeting, group in (("Dora", "Dora waves.", None), ("Emil", "Emil bows.", ["Emil bows to you all."])):
        character = Character(name=name, description=f"{name} is here.", first_mes=greeting)
        if group:
            character.card_extra["group_only_greetings"] = group
        refs.append(f"custom:{(await services.characters.create(character, where=maker, shared=False)).id}")
    await chat.slash(where, "character set", {"character": refs[0]})
    await chat.slash(where, "scene add", {"character": refs[1]})
    await chat.slash(where, "scene mode", {"mode": "round_robin"})
    old = await services.chat.conversations.active(int(where.channel_id))

    since = len(chat.discord.requests)
    await chat.slash(where, "reset")
    new = await services.chat.conversations.active(int(where.channel_id))
    assert new.id != old.id
    view = await cast.load(services.sessions, new.id)
    assert view is not None and [m.ref for m in view.members] == refs and view.mode == "round_robin"
    posts = [r.json for r in chat.discord.requests[since:]
             if r.method == "POST" and "/webhooks/" in r.path and isinstance(r.json, dict) and "username" in r.json]
    assert [(b["username"], b["content"]) for b in posts] == [("Dora", "Dora waves."),
                                                              ("Emil", "Emil bows to you all.")]
    # The next speaker in round robin follows the last greeter.
    chat.venice.reply_text = "Hello."
    since = len(chat.discord.requests)
    await chat.say(where, "Hi both")
    assert [r.json["username"] for r in chat.discord.requests[since:]
            if r.method == "POST" and "/webhooks/" in r.path and isinstance(r.json, dict) and "username" in r.json
            ] == ["Dora"]


async def test_a_deleted_character_leaves_the_scene(chat: ChatWorld) -> None:
    scene = await make_scene(chat)
    await scene.services.characters.delete(int(scene.refs[1].split(":")[1]))
    assert [m.ref for m in (await scene.view()).members] == [scene.refs[0], scene.refs[2]]


async def test_picture_this_draws_every_member_and_selfie_names_one(chat: ChatWorld) -> None:
    from bot.images.seeds import character_seed, scene_seed

    scene = await make_scene(chat, mode="round_robin")
    chat.venice.replies.append("Alice slides a glass across the bar.")
    await chat.say(scene.where, "A drink, please")
    reply = chat.replies_in(scene.where)[-1]
    chat.venice.replies.append("three adults at a bar, warm light")
    await chat.click(scene.where, reply, button(reply, "pic"))
    [generated] = [r.json for r in chat.venice.requests_to("/image/generate")]
    assert all(look.split(",")[1].strip() in generated["prompt"] for look in LOOKS.values())
    assert "Bruno" not in generated["prompt"]  # names never go into image prompts
    assert generated["seed"] == scene_seed([character_seed(ref) for ref in scene.refs])

    await chat.slash(scene.where, "selfie", {"character": scene.refs[1]})
    selfie = [r.json for r in chat.venice.requests_to("/image/generate")][-1]
    assert "broken nose" in selfie["prompt"] and selfie["seed"] == character_seed(scene.refs[1])
    await chat.slash(scene.where, "selfie")  # default: who spoke last (Alice)
    selfie = [r.json for r in chat.venice.requests_to("/image/generate")][-1]
    assert "silver rings" in selfie["prompt"] and selfie["seed"] == character_seed(scene.refs[0])


async def test_a_reply_of_a_character_who_left_is_still_regenerated_as_that_character(chat: ChatWorld) -> None:
    scene = await make_scene(chat, mode="round_robin")
    chat.venice.reply_text = "Hm."
    await chat.say(scene.where, "One")
    await chat.say(scene.where, "Two")  # Bruno answers
    reply = chat.replies_in(scene.where)[-1]
    assert reply["author"]["username"] == "Bruno"
    await chat.slash(scene.where, "scene remove", {"character": scene.refs[1]})
    chat.venice.replies.append("Bruno again.")
    since = len(chat.discord.requests)
    await chat.click(scene.where, reply, button(reply, "regen"))
    assert GROUP_NUDGE.replace("{{char}}", "Bruno") in system_text(chat.last_prompt())
    assert all(b["username"] == "Bruno" for b in scene.webhook_posts(since))
    assert (await stored_reply(scene, reply)).author_name == "Bruno"


async def test_each_reply_of_a_scene_is_screened_on_its_own(chat: ChatWorld) -> None:
    from bot.chat.service import WITHHELD

    scene = await make_scene(chat, mode="everyone")
    bad = "She undresses and says she is only 14 years old and blushes."
    chat.venice.replies.extend(["A fine line.", bad, "C fine line."])
    await chat.say(scene.where, "Tell me about yourselves")
    shown = [text_of(m) for m in chat.replies_in(scene.where)[-3:]]
    assert shown == ["A fine line.", WITHHELD, "C fine line."]
    bodies = json.dumps(chat.all_bodies())
    assert "14 years old" not in bodies  # never shown, not even for a moment
    history = chat.history(chat.prompts()[-1])
    assert all("14 years" not in line for line in history)


async def test_refused_words_do_not_move_the_speaking_order(chat: ChatWorld) -> None:
    from bot.errors import Refused

    scene = await make_scene(chat, mode="round_robin")
    chat.venice.reply_text = "Mm."
    await chat.say(scene.where, "Hello")  # Alice
    before = await scene.view()
    service = scene.services.chat
    real = service.screen

    class JudgeSaysNo:  # the second stage refuses after the generation has begun
        def refuses_at_once(self, text: str) -> bool:
            return False

        async def check_input(self, text: str, where: Where) -> None:
            async with asyncio.timeout(10):
                while chat.venice.count("/chat/completions") <= asked:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            raise Refused("The judge refused this.", "judge")

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    asked = chat.venice.count("/chat/completions")
    service.screen = JudgeSaysNo()
    await chat.say(scene.where, "Something the judge refuses")
    service.screen = real
    assert await scene.view() == before
    since = len(chat.discord.requests)
    await chat.say(scene.where, "So, who's next?")
    assert scene.speakers_since(since) == ["Bruno"]


async def test_a_members_own_lorebook_fires_on_its_own_turn_only(chat: ChatWorld) -> None:
    """Each speaker's turn reads that speaker's character lore (SillyTavern's group chat reads the
    speaking character's world): a book attached to Bruno joins Bruno's prompt, not the others'."""
    from pathlib import Path

    scene = await make_scene(chat, mode="everyone")
    eldoria = (Path(__file__).parents[1] / "data" / "Eldoria.json").read_bytes()
    await chat.slash(scene.where, "lorebook import", {"file": ("Eldoria.json", eldoria)})
    owner = int(scene.where.user["id"])
    guild = int(scene.where.guild_id) if scene.where.guild_id else None
    _book, added = await scene.services.lorebooks.attach(owner, "Eldoria", "character", scene.refs[1], guild_id=guild)
    assert added
    chat.venice.replies.extend(["Alice pours.", "Bruno growls.", "Celeste hums."])
    since = len(chat.prompts())
    await chat.say(scene.where, "Did anyone see a shadowfang out there?")
    prompts = chat.prompts()[since:]
    assert len(prompts) == 3
    assert ["Shadowfang" in system_text(p) for p in prompts] == [False, True, False]


async def test_a_scene_turn_never_compiles_the_merged_lorebook_on_the_event_loop(chat: ChatWorld) -> None:
    """The cast's merged lorebook (every member's card book) is what each speaker's prompt scans;
    the chat service compiles exactly those tiers ahead in a worker thread, so no speaker's turn
    compiles it on the loop thread (it used to prepare only the speaker's own card book)."""
    import threading

    from bot.characters import lore_match

    def book(name: str, word: str, first: int) -> Lorebook:
        return Lorebook(name=name, entries=[LoreEntry(keys=[f"{word}{i}"], content=f"{word} lore {i}", id=first + i)
                                            for i in range(40)] + [
            LoreEntry(keys=[word], content=f"The {word} is real.", id=first + 99)])

    scene = await make_scene(chat, mode="everyone", books={"Alice Vance": book("Alice's", "lantern", 0),
                                                           "Bruno": book("Bruno's", "shadowfang", 1000)})
    real = lore_match.compile_books
    threads: list[str] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    lore_match.compile_books = watched  # type: ignore[assignment]
    try:
        loop_thread = threading.current_thread().name
        chat.venice.replies.extend(["Alice pours.", "Bruno growls.", "Celeste hums."])
        since = len(chat.prompts())
        await chat.say(scene.where, "A lantern and a shadowfang walk into the bar.")
    finally:
        lore_match.compile_books = real  # type: ignore[assignment]
    prompts = chat.prompts()[since:]
    assert len(prompts) == 3
    # the user's words are in the scan depth of the first two speakers: both books fire for them
    assert all("The shadowfang is real." in system_text(p) and "The lantern is real." in system_text(p)
               for p in prompts[:2])
    assert threads, "the books were compiled somewhere"
    assert loop_thread not in threads, threads


async def test_a_character_filter_keeps_an_entry_to_the_named_speaker(chat: ChatWorld) -> None:
    """`characterFilter` (names, isExclude): in a scene the merged book is scanned for each speaker,
    and an entry for Bruno only (or for everyone but Bruno) follows who speaks."""
    book = Lorebook(name="Bar", entries=[
        LoreEntry(keys=["whisky"], content="BRUNO ONLY", id=0,
                  extensions={"characterFilter": {"names": ["Bruno"], "tags": [], "isExclude": False}}),
        LoreEntry(keys=["whisky"], content="NOT BRUNO", id=1,
                  extensions={"characterFilter": {"names": ["Bruno"], "tags": [], "isExclude": True}})])
    scene = await make_scene(chat, mode="everyone", books={"Alice Vance": book})
    chat.venice.replies.extend(["Alice pours.", "Bruno growls.", "Celeste hums."])
    since = len(chat.prompts())
    await chat.say(scene.where, "Whisky for everyone.")
    first, second = chat.prompts()[since:][:2]
    assert "NOT BRUNO" in system_text(first) and "BRUNO ONLY" not in system_text(first)
    assert "BRUNO ONLY" in system_text(second) and "NOT BRUNO" not in system_text(second)
