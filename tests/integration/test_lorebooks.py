"""/lorebook, /character lore, /conversation authorsnote and regex scripts in Discord, through the
production bot (every cog) on the fake Discord and the fake Venice, over a real database.

The lorebook is SillyTavern's own bundled `Eldoria` world (tests/data/Eldoria.json, see SOURCES.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.characters.worlds import parse_lorebook
from bot.store.models import AuditEvent, LorebookLink, LorebookRow
from tests import cardgen
from tests import payloads as p
from tests.integration.conftest_chat import ChatWorld, button, chat_fixture, text_of

__all__ = ["chat_fixture"]

ELDORIA = (Path(__file__).parents[1] / "data" / "Eldoria.json").read_bytes()
MANAGER = p.permissions("view_channel", "send_messages", "manage_guild")


async def rows(chat: ChatWorld, model: type) -> list[Any]:
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        return list((await session.scalars(select(model))).all())


def said(chat: ChatWorld, handle: Any) -> str:
    """Everything the bot answered to one interaction (contents and embeds)."""
    out = []
    for r in handle.requests:
        body = r.json if isinstance(r.json, dict) else {}
        data = body.get("data", body) if "type" in body else body
        if isinstance(data, dict):
            out.append(str(data.get("content") or ""))
            out += [json.dumps(e, ensure_ascii=False) for e in data.get("embeds") or []]
    return "\n".join(out)


async def test_import_attach_fire_explain_export_delete(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.reply_text = "The forest whispers."
    await chat.say(where, "Hello there.")  # the channel's conversation

    imported = await chat.slash(where, "lorebook import", {"file": ("Eldoria.json", ELDORIA)})
    assert "Imported **Eldoria** (4 entries)" in said(chat, imported)
    (row,) = await rows(chat, LorebookRow)
    assert (row.name, row.entries, row.owner_id) == ("Eldoria", 4, int(where.user["id"]))
    # Every entry was screened, as a definition (the judge reads definitions whatever stage 1 says).
    assert chat.venice.judge.calls

    choices = await chat.slash(where, "lorebook list")
    assert "Eldoria" in said(chat, choices)

    attached = await chat.slash(where, "lorebook attach", {"book": "Eldoria"})
    assert "now works in this channel's conversation" in said(chat, attached)
    (link,) = await rows(chat, LorebookLink)
    assert link.scope == "conversation"

    await chat.say(where, "What lurks in the woods? Is it a shadowfang?")
    system = chat.last_prompt()[0]["content"]
    assert "Shadowfang" in system  # the Eldoria entry keyed "shadowfang" fired
    why = await chat.slash(where, "character lore")
    text = said(chat, why)
    assert "Eldoria" in text and "shadowfang" in text.lower() and "key" in text
    assert int(why.requests[0].json["data"]["flags"]) & 64  # ephemeral

    exported = await chat.slash(where, "lorebook export", {"book": "Eldoria"})
    (followup,) = await exported.followups()
    files = {name: blob for _, name, blob in followup.files}
    again = parse_lorebook(files["Eldoria.json"], "Eldoria.json")
    original = parse_lorebook(ELDORIA, "Eldoria.json")
    assert [(e.keys, e.content, e.insertion_order, e.extensions) for e in again.entries] == [
        (e.keys, e.content, e.insertion_order, e.extensions) for e in original.entries]
    assert isinstance(json.loads(files["Eldoria.json"])["entries"], dict)  # SillyTavern's world shape

    # Someone else can neither delete nor detach it.
    bob = chat.user("bob")
    refused = await chat.slash(where, "lorebook delete", {"book": "Eldoria"}, user=bob)
    assert "no lorebook by that name" in said(chat, refused)
    refused = await chat.slash(where, "lorebook detach", {"book": f"#{row.id}"}, user=bob)
    assert "Only whoever attached it" in said(chat, refused)
    assert len(await rows(chat, LorebookLink)) == 1

    deleted = await chat.slash(where, "lorebook delete", {"book": "Eldoria"})
    assert "Deleted **Eldoria**" in said(chat, deleted)
    assert await rows(chat, LorebookRow) == [] and await rows(chat, LorebookLink) == []
    await chat.say(where, "And the shadowfang?")
    assert "Shadowfang" not in chat.last_prompt()[0]["content"]


async def test_a_second_real_book_oakhaven_imports_and_fires_with_recursion(chat: ChatWorld) -> None:
    """tests/data/Oakhaven.json (a V2 character_book file, see SOURCES.md) through /lorebook."""
    where = chat.place()
    chat.venice.reply_text = "The gears turn."
    await chat.say(where, "Hello.")
    oakhaven = (Path(__file__).parents[1] / "data" / "Oakhaven.json").read_bytes()
    imported = await chat.slash(where, "lorebook import", {"file": ("Oakhaven.json", oakhaven)})
    assert "Imported **Grand Archive of Oakhaven** (4 entries)" in said(chat, imported)
    await chat.slash(where, "lorebook attach", {"book": "Grand Archive of Oakhaven"})
    await chat.say(where, "The restricted section, please.")  # the selective entry needs a secondary key
    system = chat.last_prompt()[0]["content"]
    assert "Vault of Whispers" not in system and "Aether Engine" not in system
    await chat.say(where, "Show me the aether engine.")
    system = chat.last_prompt()[0]["content"]
    assert "The Central Aether Engine is" in system and "The Grand Archive of Oakhaven is" in system
    assert "Vault of Whispers" not in system


async def test_a_lorebook_with_a_minor_is_refused_and_nothing_is_stored(chat: ChatWorld) -> None:
    where = chat.place()
    entry = {"uid": 0, "key": ["lily"], "content": "Lily is a 14 year old girl who wants sex."}
    bad = json.dumps({"entries": {"0": entry}})
    handle = await chat.slash(where, "lorebook import", {"file": ("bad.json", bad.encode())})
    assert "under 18" in said(chat, handle) and "14 year" not in said(chat, handle)
    assert await rows(chat, LorebookRow) == []
    assert any(e.kind == "refusal" for e in await rows(chat, AuditEvent))


async def test_broken_files_are_refused_in_words(chat: ChatWorld) -> None:
    where = chat.place()
    handle = await chat.slash(where, "lorebook import", {"file": ("x.json", b"{not json")})
    assert "not valid JSON" in said(chat, handle)
    handle = await chat.slash(where, "lorebook import", {"file": ("x.json", b'{"entries": {}}')},
                              user=chat.user("carol"))
    assert "has no entries" in said(chat, handle)


async def test_server_books_need_manage_server_and_reach_every_conversation(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.reply_text = "Mm."
    await chat.slash(where, "lorebook import", {"file": ("Eldoria.json", ELDORIA)})
    refused = await chat.slash(where, "lorebook attach", {"book": "Eldoria", "to": "server"})
    assert "Manage Server" in said(chat, refused)
    ok = await chat.slash(where, "lorebook attach", {"book": "Eldoria", "to": "server"}, permissions=MANAGER)
    assert "now works in this server" in said(chat, ok)
    await chat.say(where, "Tell me about the glade.")
    assert "glade" in chat.last_prompt()[0]["content"].lower()


def world(*entries: tuple[str, str, int]) -> bytes:
    """A SillyTavern world JSON: (key, content, order) entries."""
    return json.dumps({"entries": {str(i): {"uid": i, "key": [key], "content": content, "order": order,
                                            "comment": content}
                                   for i, (key, content, order) in enumerate(entries)}}).encode()


async def test_lore_strategy_setting_orders_character_and_server_lore(chat: ChatWorld) -> None:
    """`/settings set lore_strategy`: which of the character's and the server's entries are scanned first
    (SillyTavern's `world_info_character_strategy`), seen in the order `/character lore` reports."""
    where = chat.place()
    chat.venice.reply_text = "Mm."
    card = cardgen.v2_card(name="Mira", description="{{char}} keeps the lighthouse.", first_mes="Hello.",
                           character_book={"entries": [{"keys": ["lamp"], "content": "CARD LAMP", "id": 0,
                                                        "comment": "CARD LAMP", "insertion_order": 10,
                                                        "enabled": True}]})
    await chat.slash(where, "character import", {"file": ("mira.json", cardgen.card_json(card))})
    from bot.store import characters as repo

    (summary,) = await repo.usable(chat.bot.services.sessions, user_id=int(where.user["id"]),  # type: ignore[union-attr]
                                   guild_id=int(where.guild_id or 0), search="Mira", limit=5)
    await chat.slash(where, "character set", {"character": summary.ref})
    await chat.slash(where, "lorebook import", {"file": ("Coast.json", world(("lamp", "SERVER LAMP", 90)))})
    await chat.slash(where, "lorebook attach", {"book": "Coast", "to": "server"}, permissions=MANAGER)

    async def order() -> list[str]:
        await chat.say(where, "Light the lamp.")
        text = said(chat, await chat.slash(where, "character lore"))
        return sorted(("CARD LAMP", "SERVER LAMP"), key=text.index)

    assert await order() == ["CARD LAMP", "SERVER LAMP"]  # character first, the default
    refused = await chat.slash(where, "settings set", {"key": "lore_strategy", "value": "sideways"},
                               permissions=MANAGER)
    assert "evenly, character_first, global_first" in said(chat, refused)
    await chat.slash(where, "settings set", {"key": "lore_strategy", "value": "global_first"}, permissions=MANAGER)
    assert await order() == ["SERVER LAMP", "CARD LAMP"]
    await chat.slash(where, "settings set", {"key": "lore_strategy", "value": "evenly"}, permissions=MANAGER)
    assert await order() == ["SERVER LAMP", "CARD LAMP"]  # order 90 before order 10
    shown = said(chat, await chat.slash(where, "settings show", permissions=MANAGER))
    assert "lore_strategy" in shown and "evenly" in shown


async def test_persona_lore_fires_on_its_owners_turns_only(chat: ChatWorld) -> None:
    """`/lorebook attach to: my persona`: SillyTavern's persona lore, read on the speaking person's turns."""
    where = chat.place()
    chat.venice.reply_text = "Mm."
    await chat.say(where, "Hello.")
    await chat.slash(where, "lorebook import", {"file": ("Eldoria.json", ELDORIA)})
    attached = await chat.slash(where, "lorebook attach", {"book": "Eldoria", "to": "persona"})
    assert "now works in your persona" in said(chat, attached)
    assert not any("attached the lorebook" in json.dumps(b) for b in chat.all_bodies())  # private
    (link,) = await rows(chat, LorebookLink)
    assert (link.scope, link.target) == ("persona", str(where.user["id"]))

    await chat.say(where, "Is that a shadowfang?")
    assert "Shadowfang" in chat.last_prompt()[0]["content"]
    why = said(chat, await chat.slash(where, "character lore"))
    assert "Eldoria" in why and "your persona" in why
    bob = chat.user("bob")
    await chat.say(where, "Is that a shadowfang?", user=bob)  # Bob's turn: not his persona's book
    assert "Shadowfang" not in chat.last_prompt()[0]["content"]

    listed = said(chat, await chat.slash(where, "lorebook list"))
    assert "Eldoria** — your persona" in listed
    assert "your persona" not in said(chat, await chat.slash(where, "lorebook list", user=bob))
    refused = await chat.slash(where, "lorebook detach", {"book": "Eldoria", "place": "persona"}, user=bob)
    assert "No lorebook by that name is attached to your persona" in said(chat, refused)
    detached = await chat.slash(where, "lorebook detach", {"book": "Eldoria", "place": "persona"})
    assert "no longer attached to your persona" in said(chat, detached)
    await chat.say(where, "And the shadowfang?")
    assert "Shadowfang" not in chat.last_prompt()[0]["content"]


async def test_a_cards_linked_world_is_found_among_its_owners_books(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.reply_text = "Welcome."
    await chat.slash(where, "lorebook import", {"file": ("Eldoria.json", ELDORIA)})
    card = cardgen.v2_card(name="Seraphina", description="{{char}} guards the forest.", first_mes="Hello.",
                           extensions={"world": "Eldoria"})
    imported = await chat.slash(where, "character import", {"file": ("seraphina.json", cardgen.card_json(card))})
    assert "Imported **Seraphina**" in said(chat, imported)
    from bot.store import characters as repo

    (summary,) = await repo.usable(chat.bot.services.sessions, user_id=int(where.user["id"]),  # type: ignore[union-attr]
                                   guild_id=int(where.guild_id or 0), search="Seraphina", limit=5)
    await chat.slash(where, "character set", {"character": summary.ref})
    await chat.say(where, "Is a shadowfang near?")
    assert "Shadowfang" in chat.last_prompt()[0]["content"]


async def test_authors_note_is_screened_stored_and_placed(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.reply_text = "Sure."
    none_yet = await chat.slash(where, "conversation authorsnote", {"text": "Keep it slow."})
    assert "no conversation" in said(chat, none_yet).lower()
    await chat.say(where, "Hi.")
    await chat.say(where, "Hi again.")
    set_ = await chat.slash(where, "conversation authorsnote", {"text": "[Keep the pace slow.]", "depth": 1})
    assert "Author's Note set: depth 1" in said(chat, set_)
    await chat.say(where, "What now?")
    prompt = chat.last_prompt()
    at = next(i for i, m in enumerate(prompt) if m["content"] == "[Keep the pace slow.]")
    assert prompt[at]["role"] == "system" and prompt[at + 1]["content"].endswith("What now?")
    shown = await chat.slash(where, "conversation authorsnote")
    assert "Keep the pace slow" in said(chat, shown)
    refused = await chat.slash(where, "conversation authorsnote", {"text": "She is 12 years old and naked."})
    assert "under 18" in said(chat, refused)
    cleared = await chat.slash(where, "conversation authorsnote", {"text": "clear"})
    assert "cleared" in said(chat, cleared)
    await chat.say(where, "And now?")
    assert not any(m["content"] == "[Keep the pace slow.]" for m in chat.last_prompt())


async def test_authors_note_role_and_position_options(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.reply_text = "Sure."
    await chat.say(where, "Hi.")
    set_ = await chat.slash(where, "conversation authorsnote", {"text": "[Stay in the tavern.]", "role": "user",
                                                                "position": "before_prompt"})
    assert "before the main prompt, every message, as a user message" in said(chat, set_)
    await chat.say(where, "Where are we?")
    prompt = chat.last_prompt()
    assert prompt[0] == {"role": "user", "content": "[Stay in the tavern.]"} and prompt[1]["role"] == "system"
    # Changing only the place keeps the text and the role.
    await chat.slash(where, "conversation authorsnote", {"position": "after_prompt"})
    await chat.say(where, "And now?")
    prompt = chat.last_prompt()
    assert prompt[0]["role"] == "system" and prompt[1] == {"role": "user", "content": "[Stay in the tavern.]"}
    shown = said(chat, await chat.slash(where, "conversation authorsnote"))
    assert "after the main prompt" in shown and "as a user message" in shown and "Stay in the tavern" in shown
    await chat.slash(where, "conversation authorsnote", {"position": "none"})
    await chat.say(where, "Still?")
    assert not any("tavern" in m["content"] for m in chat.last_prompt())
    from bot.privacy import export_user

    (note,) = (await export_user(chat.bot.services.sessions, int(where.user["id"])))["authors_notes"]  # type: ignore[union-attr]
    assert (note["role"], note["position"]) == ("user", "none")


HIDE_THINKING = [{
    "scriptName": "Hide thinking", "findRegex": "/<thinking>[\\s\\S]*?<\\/thinking>\\s*/g", "replaceString": "",
    "placement": [2], "markdownOnly": True,
}, {
    "scriptName": "Tidy status", "findRegex": "/\\[STATUS: ([^\\]]*)\\]/", "replaceString": "(status: $1)",
    "placement": [2],
}]


async def test_regex_scripts_shape_what_discord_shows_and_what_is_stored(chat: ChatWorld) -> None:
    where = chat.place()
    card = cardgen.v2_card(name="Vex", description="{{char}} is a rogue.", first_mes="Yo.",
                           extensions={"regex_scripts": HIDE_THINKING})
    await chat.slash(where, "character import", {"file": ("vex.json", cardgen.card_json(card))})
    from bot.store import characters as repo

    (summary,) = await repo.usable(chat.bot.services.sessions, user_id=int(where.user["id"]),  # type: ignore[union-attr]
                                   guild_id=int(where.guild_id or 0), search="Vex", limit=5)
    await chat.slash(where, "character set", {"character": summary.ref})
    chat.set_edit_interval(0.0)  # every piece is written: any flash of the hidden block would show
    chat.venice.chunk_delay = 0.001
    chat.venice.reply_text = ("Vex grins. <thinking>she plans to steal the ring</thinking> "
                              "\"Nice ring.\" [STATUS: sly]")
    await chat.say(where, "Hello Vex.")
    bodies = [json.dumps(b, ensure_ascii=False) for b in chat.all_bodies()]
    assert not any("thinking" in b or "steal the ring" in b for b in bodies)
    assert not any("[STATUS" in b for b in bodies)
    reply = chat.replies_in(where)[-1]
    assert "Vex grins." in text_of(reply) and "(status: sly)" in text_of(reply)
    # Stored: the AI-output script ran, the display-only one did not (the model sees its notes).
    turns = await chat.bot.services.chat.conversations.window(  # type: ignore[union-attr]
        await chat.bot.services.chat.conversations.active(int(where.channel_id)))  # type: ignore[union-attr]
    stored = [t.content for t in turns if t.role == "assistant"][-1]
    assert "<thinking>she plans to steal the ring</thinking>" in stored and "(status: sly)" in stored
    await chat.say(where, "What are you thinking?")
    assert any("<thinking>" in m["content"] for m in chat.last_prompt() if m["role"] == "assistant")


async def test_privacy_export_and_delete_take_lorebooks_and_authors_notes(chat: ChatWorld) -> None:
    from bot.privacy import delete_user, export_user

    where = chat.place()
    chat.venice.reply_text = "Mm."
    await chat.say(where, "Hello.")
    await chat.slash(where, "lorebook import", {"file": ("Eldoria.json", ELDORIA)})
    await chat.slash(where, "lorebook attach", {"book": "Eldoria"})
    await chat.slash(where, "conversation authorsnote", {"text": "Slow burn."})
    await chat.say(where, "A shadowfang!")
    sessions = chat.bot.services.sessions  # type: ignore[union-attr]
    user_id = int(where.user["id"])
    exported = await export_user(sessions, user_id)
    assert [b["name"] for b in exported["lorebooks"]] == ["Eldoria"]
    assert exported["lorebooks"][0]["attached"][0]["scope"] == "conversation"
    assert [n["text"] for n in exported["authors_notes"]] == ["Slow burn."]

    other = chat.user("dana")
    await chat.say(where, "I'm here too.", user=other)  # a shared conversation: it stays
    counts = await delete_user(sessions, user_id)
    assert counts["lorebooks"] == 1
    assert await rows(chat, LorebookRow) == [] and await rows(chat, LorebookLink) == []
    exported = await export_user(sessions, user_id)
    assert exported["lorebooks"] == [] and exported["authors_notes"] == []


async def test_generation_triggers_pick_entries_for_new_messages_continue_and_regenerate(chat: ChatWorld) -> None:
    """An entry's `triggers` (SillyTavern's generation types): a new message is "normal", ➡️ is
    "continue", 🔄 is "regenerate" (and "swipe"); entries without triggers fire for all."""
    where = chat.place()
    entries = {"0": {"uid": 0, "key": ["lamp"], "content": "LAMP NORMAL", "triggers": ["normal"]},
               "1": {"uid": 1, "key": ["lamp"], "content": "LAMP CONTINUE", "triggers": ["continue"]},
               "2": {"uid": 2, "key": ["lamp"], "content": "LAMP SWIPE", "triggers": ["swipe"]},
               "3": {"uid": 3, "key": ["lamp"], "content": "LAMP ALWAYS"}}
    await chat.slash(where, "lorebook import", {"file": ("Trig.json", json.dumps({"entries": entries}).encode())})
    await chat.slash(where, "lorebook attach", {"book": "Trig", "to": "server"}, permissions=MANAGER)

    def lore() -> list[str]:
        text = chat.last_prompt()[0]["content"]
        return [c for c in ("LAMP NORMAL", "LAMP CONTINUE", "LAMP SWIPE", "LAMP ALWAYS") if c in text]

    chat.venice.replies.append("She lights the lamp and")
    await chat.slash(where, "chat", {"message": "Light the lamp."})
    assert lore() == ["LAMP NORMAL", "LAMP ALWAYS"]
    reply = chat.latest_with(where, "regen")
    chat.venice.replies.append(" it glows.")
    await chat.click(where, reply, button(reply, "cont"))
    assert lore() == ["LAMP CONTINUE", "LAMP ALWAYS"]
    reply = chat.discord.world.messages[reply["id"]]
    chat.venice.replies.append("Another lamp.")
    await chat.click(where, reply, button(reply, "regen"))
    assert lore() == ["LAMP SWIPE", "LAMP ALWAYS"]


async def test_lore_min_activations_setting_scans_deeper_into_the_history(chat: ChatWorld) -> None:
    """`/settings set lore_min_activations`: SillyTavern's `world_info_min_activations`; with it the
    scan reads older messages until that many entries fired (0, the default, is off)."""
    where = chat.place()
    chat.venice.reply_text = "Mm."
    await chat.slash(where, "lorebook import", {"file": ("Deep.json", world(("anchor", "ANCHOR LORE", 10)))})
    await chat.slash(where, "lorebook attach", {"book": "Deep", "to": "server"}, permissions=MANAGER)
    await chat.say(where, "Drop the anchor.")
    await chat.say(where, "Quiet day.")
    await chat.say(where, "Still quiet.")
    assert "ANCHOR LORE" not in chat.last_prompt()[0]["content"]  # six messages back: past the scan depth
    await chat.slash(where, "settings set", {"key": "lore_min_activations", "value": "1"}, permissions=MANAGER)
    await chat.say(where, "Anything?")
    assert "ANCHOR LORE" in chat.last_prompt()[0]["content"]
    await chat.slash(where, "settings set", {"key": "lore_min_activations_depth_max", "value": "3"},
                     permissions=MANAGER)
    await chat.say(where, "And now?")
    assert "ANCHOR LORE" not in chat.last_prompt()[0]["content"]
