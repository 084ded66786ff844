"""Several lorebooks in one scan (SillyTavern's chat, character and global lore), why entries
fired, the compiled-book cache, the Author's Note, and regex scripts on what Discord shows."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from bot.characters.lore_match import LoreCompiler, compile_books
from bot.characters.lore_settings import LoreSettings, Role, Strategy, strategy_of
from bot.characters.lore_state import LoreState
from bot.characters.lorebook import ScanText, select_lore
from bot.characters.lorebooks import room_for, screen_fields
from bot.characters.model import Character, Lorebook, LoreEntry
from bot.characters.regex_scripts import held_from, scripts_of, shown_text
from bot.characters.worlds import parse_lorebook
from bot.chat.macros import MacroContext
from bot.chat.prompt import PromptInput, Turn, build_prompt
from bot.chat.prompt_lore import AuthorNote, LoreBooks, NotePosition, note_of, note_settings, plan_lore
from bot.errors import LimitReached, UserError
from bot.policy import batches
from bot.settings import REGISTRY, parse_value
from bot.store.lorebooks import Storage

ELDORIA = Path(__file__).parents[1] / "data" / "Eldoria.json"


def book(name: str, *entries: tuple[list[str], str, int]) -> Lorebook:
    return Lorebook(name=name, entries=[
        LoreEntry(keys=keys, content=content, insertion_order=order, id=i, comment=content[:20])
        for i, (keys, content, order) in enumerate(entries)
    ])


def scan(*messages: str) -> ScanText:
    return ScanText(messages=list(messages))


def test_chat_lore_comes_first_then_character_then_global_each_sorted_by_order() -> None:
    chat = book("chat", (["x"], "chat low", 1), (["x"], "chat high", 50))
    char = book("card", (["x"], "card", 10))
    linked = book("linked", (["x"], "linked", 90))
    server = book("global", (["x"], "global", 1000))
    compiled = compile_books([[chat], [char, linked], [server]], LoreSettings())
    assert [e.content for e in compiled.entries] == ["chat high", "chat low", "linked", "card", "global"]
    assert [e.book for e in compiled.entries] == [0, 0, 2, 1, 3]


def test_books_share_one_budget_and_the_first_misfit_ends_the_scan() -> None:
    chat = book("chat", (["dragon"], "A" * 400, 10))
    server = book("global", (["dragon"], "global dragon lore", 10))
    result = select_lore([[chat], [], [server]], scan("a dragon!"), state=LoreState(), budget_tokens=60,
                         rng=random.Random(1))
    assert result.names == [] and [e.content for e in result.left_out] == ["A" * 400, "global dragon lore"]
    result = select_lore([[chat], [], [server]], scan("a dragon!"), state=LoreState(), budget_tokens=2_000,
                         rng=random.Random(1))
    assert [e.content for e in result.activated] == ["A" * 400, "global dragon lore"]


def test_same_uids_in_two_books_are_two_entries_with_their_own_timed_effects() -> None:
    a = book("a", (["x"], "from a", 10))
    b = book("b", (["x"], "from b", 10))
    a.entries[0].extensions = {"sticky": 2}
    result = select_lore([[a, b]], scan("x"), state=LoreState(chat_length=1), budget_tokens=500)
    assert sorted(e.content for e in result.activated) == ["from a", "from b"]
    assert list(result.state.sticky) == ["a.0"]


def test_why_each_entry_fired() -> None:
    lore = Lorebook(name="w", entries=[
        LoreEntry(keys=["dragon", "wyrm"], content="Dragons breathe fire. The king fears them.", id=0,
                  comment="Dragons"),
        LoreEntry(keys=["king"], content="The king is old.", id=1, comment="King"),
        LoreEntry(keys=[], content="It is winter.", constant=True, id=2, comment="Season"),
        LoreEntry(keys=["queen"], secondary_keys=["ball"], selective=True, content="The queen dances.", id=3,
                  comment="Queen", extensions={"selectiveLogic": 0}),
    ])
    result = select_lore(lore, scan("A wyrm flies to the ball with the queen."), state=LoreState(),
                         budget_tokens=1_000)
    why = {item["name"]: item["why"] for item in result.why()}
    assert why["Season"] == "constant (always on)"
    assert why["Dragons"] == "key “wyrm”"
    assert why["King"].startswith("key “king”") and "other entries" in why["King"]
    assert why["Queen"] == "key “queen”, secondary keys AND ANY"
    assert {item["book"] for item in result.why()} == {"w"}


def test_sticky_reason_on_the_next_turn() -> None:
    lore = Lorebook(name="w", entries=[LoreEntry(keys=["ring"], content="The ring glows.", id=0, comment="Ring",
                                                 extensions={"sticky": 3})])
    first = select_lore(lore, scan("the ring"), state=LoreState(chat_length=1), budget_tokens=500)
    state = first.state
    state.chat_length = 3
    second = select_lore(lore, scan("nothing here"), state=state, budget_tokens=500)
    assert second.why() == [{"name": "Ring", "book": "w", "why": "sticky (still on from an earlier turn)"}]


def test_compiler_keeps_compiled_books_bounded_and_compiles_off_the_caller() -> None:
    compiler = LoreCompiler(max_books=2)
    books = [book(f"b{i}", (["k"], f"c{i}", 1)) for i in range(3)]
    settings = LoreSettings()
    first = compiler.get([[books[0]]], settings)
    assert compiler.get([[books[0]]], settings) is first and compiler.compiles == 1
    compiler.get([[books[1]]], settings)
    compiler.get([[books[2]]], settings)
    assert compiler.compiles == 3
    compiler.get([[books[0]]], settings)  # pushed out by the bound: compiled again
    assert compiler.compiles == 4

    ran: list[Any] = []

    async def run(fn: Any, *args: Any) -> Any:
        ran.append(fn)
        return fn(*args)

    fresh = LoreCompiler()
    asyncio.run(fresh.prepare([[books[1]]], settings, ("Ann", "Bo"), run))
    assert ran and fresh.compiles == 1
    fresh.get([[books[1]]], settings)
    assert fresh.compiles == 1  # found what prepare compiled
    asyncio.run(fresh.prepare([[books[1]]], settings, ("Ann", "Bo"), run))
    assert len(ran) == 1


def test_select_lore_uses_the_compiler() -> None:
    compiler = LoreCompiler()
    lore = book("w", (["x"], "lore", 1))
    for _ in range(3):
        select_lore(lore, scan("x"), state=LoreState(), budget_tokens=100, compiler=compiler)
    assert compiler.compiles == 1


def test_attached_books_reach_the_prompt_beside_the_card_book() -> None:
    card = Character(name="Seraphina", description="A guardian.", lorebook=book("card", (["glade"], "CARD LORE", 1)))
    eldoria = parse_lorebook(ELDORIA.read_bytes(), "Eldoria.json")
    prompt = build_prompt(PromptInput(
        character=card, user_name="Ann", turns=[Turn("user", "Tell me of the glade and the shadowfang.", "Ann")],
        context_tokens=8_000, reply_tokens=300, lore_books=LoreBooks(chat=(eldoria,)),
    ))
    system = prompt.messages[0]["content"]
    assert "CARD LORE" in system and "Shadowfang" in system
    fired = {item["name"]: item for item in prompt.lore_state.fired}
    assert fired["CARD LORE"]["book"] == "card"
    assert any(item["book"] == "Eldoria" and item["why"].startswith("key") for item in prompt.lore_state.fired)


def test_a_book_attached_twice_counts_once_in_the_wider_tier() -> None:
    shared = book("shared", (["x"], "once", 1))
    assert LoreBooks(chat=(shared,), server=(shared,)).tiers(None) == [[], [], [], [shared]]
    # getCharacterLore skips the chat world; getPersonaLore skips the chat world and global worlds.
    assert LoreBooks(chat=(shared,), character=(shared,)).tiers(None) == [[shared], [], [], []]
    assert LoreBooks(chat=(shared,), persona=(shared,)).tiers(None) == [[shared], [], [], []]
    assert LoreBooks(persona=(shared,), server=(shared,)).tiers(None) == [[], [], [], [shared]]
    assert LoreBooks(persona=(shared,), character=(shared,)).tiers(None) == [[], [shared], [], []]


def _strategy_books(strategy: Strategy) -> LoreBooks:
    return LoreBooks(
        chat=(book("chat", (["x"], "chat", 1)),),
        persona=(book("persona", (["x"], "persona", 2)),),
        character=(book("linked", (["x"], "character 50", 50), (["x"], "character tie", 20)),),
        server=(book("global", (["x"], "global 100", 100), (["x"], "global tie", 20), (["x"], "global 5", 5)),),
        strategy=strategy,
    )


def test_insertion_strategies_order_character_and_global_lore_as_sillytavern() -> None:
    """`getSortedEntries`: chat lore, then persona lore, then character/global by the strategy."""
    def order(strategy: Strategy) -> list[str]:
        tiers = _strategy_books(strategy).tiers(book("card", (["x"], "card 30", 30)))
        return [e.content for e in compile_books(tiers, LoreSettings()).entries]

    assert order(Strategy.CHARACTER_FIRST) == ["chat", "persona", "character 50", "card 30", "character tie",
                                               "global 100", "global tie", "global 5"]
    assert order(Strategy.GLOBAL_FIRST) == ["chat", "persona", "global 100", "global tie", "global 5",
                                            "character 50", "card 30", "character tie"]
    # Evenly: one sort of [...global, ...character]; on equal order the global entry stays first.
    assert order(Strategy.EVENLY) == ["chat", "persona", "global 100", "character 50", "card 30", "global tie",
                                      "character tie", "global 5"]


def test_the_strategy_decides_what_fits_a_tight_budget() -> None:
    """The first entry that does not fit ends the scan, so the order picks the survivors."""
    card = Character(name="Bo")

    def fired(strategy: Strategy) -> list[str]:
        books = LoreBooks(character=(book("mine", (["x"], "C" * 200, 10)),),
                          server=(book("theirs", (["x"], "G" * 200, 90)),), strategy=strategy)
        plan = plan_lore(card, scan("x"), state=LoreState(), settings=LoreSettings(), budget=80,
                         ctx=MacroContext(char="Bo", user="Ann"), rng=random.Random(1), estimate=lambda t: len(t) // 4,
                         scripts=[], books=books)
        return [e.content[0] for e in plan.lore]

    assert fired(Strategy.CHARACTER_FIRST) == ["C"]
    assert fired(Strategy.GLOBAL_FIRST) == ["G"]
    assert fired(Strategy.EVENLY) == ["G"]  # higher order wins when both are sorted together


def test_lore_strategy_setting_values() -> None:
    spec = REGISTRY["lore_strategy"]
    assert spec.default_for(None) == "character_first"  # type: ignore[arg-type]
    assert parse_value(spec, "Global first") == "global_first"
    assert parse_value(spec, "evenly") == "evenly"
    with pytest.raises(UserError, match="evenly, character_first, global_first"):
        parse_value(spec, "random")
    assert [strategy_of(v) for v in ("evenly", "character_first", "global_first", "??")] == [
        Strategy.EVENLY, Strategy.CHARACTER_FIRST, Strategy.GLOBAL_FIRST, Strategy.CHARACTER_FIRST]


def test_author_note_depth_and_frequency() -> None:
    assert [AuthorNote("n", every=3).due(n) for n in range(1, 7)] == [False, False, True, False, False, True]
    assert not AuthorNote("n", every=0).due(3)
    assert AuthorNote("n").due(1)
    assert note_of({"text": "Be terse.", "depth": 2, "every": 2}) == AuthorNote("Be terse.", 2, 2)
    assert note_of(None) == AuthorNote() and note_of({"text": 5}) == AuthorNote()

    turns = [Turn("user" if i % 2 == 0 else "assistant", f"message {i}", "Ann", id=i + 1) for i in range(8)]
    card = Character(name="Bo")

    def messages(note: AuthorNote, state: LoreState | None = None) -> list[dict[str, str]]:
        return build_prompt(PromptInput(character=card, user_name="Ann", turns=turns, context_tokens=8_000,
                                        reply_tokens=200, author_note=note, lore_state=state)).messages

    placed = messages(AuthorNote("KEEP IT TENSE", depth=2))
    at = next(i for i, m in enumerate(placed) if m["content"] == "KEEP IT TENSE")
    assert placed[at]["role"] == "system"
    assert [m["content"] for m in placed[at + 1:at + 3]] == ["message 6", "message 7"]
    # Every second user message: the state counts them, this turn's included.
    assert any(m["content"] == "NOTE" for m in messages(AuthorNote("NOTE", every=2), LoreState(user_messages=1)))
    assert not any(m["content"] == "NOTE" for m in messages(AuthorNote("NOTE", every=2), LoreState(user_messages=2)))
    # A regenerate (the same user message as before) does not count again.
    again = LoreState(user_messages=2, last_user_turn=7)
    assert any(m["content"] == "NOTE" for m in messages(AuthorNote("NOTE", every=2), again))


def test_author_note_role_and_position() -> None:
    """`note_role` and `note_position` (`extension_prompt_types`): in the chat at depth, before or
    after the main prompt (openai.js `getPromptPosition`: start / end of "main"), or not sent; the
    lore entries for the note's top and bottom go with it."""
    turns = [Turn("user" if i % 2 == 0 else "assistant", f"message {i}", "Ann", id=i + 1) for i in range(4)]
    lore = Lorebook(name="w", entries=[LoreEntry(keys=["message"], content="AN TOP LORE", id=0, comment="t",
                                                 extensions={"position": 2})])
    card = Character(name="Bo", description="Bo is a bard.", lorebook=lore)

    def messages(note: AuthorNote) -> list[dict[str, str]]:
        return build_prompt(PromptInput(character=card, user_name="Ann", turns=turns, context_tokens=8_000,
                                        reply_tokens=200, author_note=note)).messages

    in_chat = messages(AuthorNote("NOTE", depth=1, role=Role.USER))
    at = next(i for i, m in enumerate(in_chat) if "NOTE" in m["content"])
    assert in_chat[at] == {"role": "user", "content": "AN TOP LORE\nNOTE"}
    assert [m["content"] for m in in_chat[at + 1:]] == ["message 3"]

    before = messages(AuthorNote("NOTE", role=Role.ASSISTANT, position=NotePosition.BEFORE_PROMPT))
    assert before[0] == {"role": "assistant", "content": "AN TOP LORE\nNOTE"}
    assert before[1]["role"] == "system" and "Bo is a bard." in before[1]["content"]
    assert sum("NOTE" in m["content"] for m in before) == 1

    after = messages(AuthorNote("NOTE", position=NotePosition.IN_PROMPT))
    assert after[0]["role"] == "system" and "Bo is a bard." not in after[0]["content"]
    assert "fictional adult roleplay" in after[0]["content"]  # the main prompt
    assert after[1] == {"role": "system", "content": "AN TOP LORE\nNOTE"}
    assert after[2]["role"] == "system" and after[2]["content"].startswith("Bo's description:")
    assert [m["content"] for m in after[3:]] == [f"message {i}" for i in range(4)]

    nowhere = messages(AuthorNote("NOTE", position=NotePosition.NONE))
    assert not any("NOTE" in m["content"] or "AN TOP LORE" in m["content"] for m in nowhere)

    note = AuthorNote("x", 2, 3, Role.USER, NotePosition.BEFORE_PROMPT)
    assert note.stored() == {"text": "x", "depth": 2, "every": 3, "role": "user", "position": "before_prompt"}
    assert note_of(note.stored()) == note
    assert note_of({"text": "x", "role": "boss", "position": 7}) == AuthorNote("x")  # unknown: the defaults
    assert note_settings(note) == "before the main prompt, every 3 messages of yours, as a user message"
    assert note_settings(AuthorNote("x", depth=2)) == "depth 2, every message, as a system message"


HIDE_THINKING = {"regex_scripts": [{
    "scriptName": "Hide thinking", "findRegex": "/<thinking>[\\s\\S]*?<\\/thinking>\\s*/g", "replaceString": "",
    "placement": [2], "markdownOnly": True,
}, {
    "scriptName": "Status to italics", "findRegex": "/\\[STATUS: ([^\\]]*)\\]/", "replaceString": "*($1)*",
    "placement": [2],
}]}


def test_display_hides_a_block_and_never_shows_it_half_written() -> None:
    scripts = scripts_of(HIDE_THINKING)
    reply = "Hi. <thinking>she is plotting</thinking> She smiles. [STATUS: calm]"
    shown_while = [shown_text(reply[:n], scripts, final=False) for n in range(len(reply) + 1)]
    assert not any("thinking" in s or "plotting" in s or "<" in s for s in shown_while)
    assert not any("[STATUS" in s for s in shown_while)
    assert shown_text(reply, scripts) == "Hi. She smiles. *(calm)*"
    assert held_from("Hi <thinking>abc", scripts) == 3
    assert held_from("no blocks here", scripts) == len("no blocks here")


def test_stored_text_keeps_a_display_only_block_for_the_model() -> None:
    from bot.characters.regex_scripts import prompt_text, stored_text

    scripts = scripts_of(HIDE_THINKING)
    stored = stored_text("A <thinking>x</thinking> B [STATUS: ok]", scripts)
    assert stored == "A <thinking>x</thinking> B *(ok)*"  # markdown-only scripts do not change what is stored
    assert prompt_text(stored, scripts, depth=0) == stored


def test_screen_fields_and_batches_cover_every_entry() -> None:
    eldoria = parse_lorebook(ELDORIA.read_bytes(), "Eldoria.json")
    fields = screen_fields(eldoria)
    assert sum(1 for label, _ in fields if label.endswith("content")) == len(eldoria.entries)
    long = [("a", "x" * 250_000), ("b", "y" * 250_000), ("c", "z")]
    groups = list(batches(long, size=300_000))
    assert all(sum(map(len, g.values())) <= 300_000 for g in groups)
    assert sum(len(v) for g in groups for v in g.values()) == 500_001


def test_storage_caps() -> None:
    room_for(Storage(3, 1_000), adding=1_000, replacing=-1)
    try:
        room_for(Storage(50, 0), adding=1, replacing=-1)
    except LimitReached as exc:
        assert "50 lorebooks" in str(exc)
    else:
        raise AssertionError("the 51st book should be refused")
    room_for(Storage(50, 1_000), adding=1_000, replacing=900)  # replacing a book of the same name


def test_pictures_go_to_the_persons_message_not_a_user_role_note_after_it() -> None:
    import io

    from PIL import Image

    from bot.chat.service import _show_pictures
    from bot.vision.input import prepare_image

    turns = [Turn("user", "hi", "Ann", id=1), Turn("assistant", "hello", id=2),
             Turn("user", "look at this", "Ann", id=3)]
    prompt = build_prompt(PromptInput(character=Character(name="Bo"), user_name="Ann", turns=turns,
                                      context_tokens=8_000, reply_tokens=200,
                                      author_note=AuthorNote("[NOTE]", depth=0, role=Role.USER)))
    assert prompt.messages[-1] == {"role": "user", "content": "[NOTE]"}
    assert prompt.user_at is not None and prompt.messages[prompt.user_at]["content"] == "look at this"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 90)).save(buf, format="PNG")
    _show_pictures(prompt, [prepare_image(buf.getvalue())])
    assert prompt.messages[-1] == {"role": "user", "content": "[NOTE]"}
    assert isinstance(prompt.messages[prompt.user_at]["content"], list)  # text and image parts
