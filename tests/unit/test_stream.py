"""Streaming a reply into Discord messages, with a fake clock and recorded send/edit calls."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

import pytest

from bot.chat.render import Withheld
from bot.ui.split import split_message
from bot.ui.stream import DEFAULT_MARKER, EMPTY_REPLY, StreamRenderer


class FakeTime:
    """A clock that only moves when told, with sleeps that wake when it passes their deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + delay, future))
        await future

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for _ in range(10):  # let tasks start, wake the due sleepers, let them run their flush
            await asyncio.sleep(0)
            for deadline, future in list(self._sleepers):
                if deadline <= self.now + 1e-9:
                    self._sleepers.remove((deadline, future))
                    if not future.done():
                        future.set_result(None)


@dataclass
class Call:
    at: float
    op: str
    handle: int
    text: str


@dataclass
class FakeDiscord:
    """Records every send/edit; messages are numbered from 1."""

    time: FakeTime
    messages: dict[int, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    fail_edits: bool = False

    async def send(self, text: str) -> int:
        handle = len(self.messages) + 1
        self.messages[handle] = text
        self.calls.append(Call(self.time.now, "send", handle, text))
        return handle

    async def edit(self, handle: int, text: str) -> None:
        if self.fail_edits:
            raise RuntimeError("Discord said no")
        assert handle in self.messages or handle == 0, "edit of a message that was never sent"
        self.messages[handle] = text
        self.calls.append(Call(self.time.now, "edit", handle, text))


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def discord(fake_time: FakeTime) -> FakeDiscord:
    return FakeDiscord(fake_time)


def _renderer(discord: FakeDiscord, fake_time: FakeTime, **kwargs: object) -> StreamRenderer:
    return StreamRenderer(discord.send, discord.edit, clock=fake_time.clock, sleep=fake_time.sleep, **kwargs)


async def _stream(renderer: StreamRenderer, fake_time: FakeTime, text: str, size: int, step: float) -> None:
    for i in range(0, len(text), size):
        await renderer.feed(text[i : i + size])
        await fake_time.advance(step)


async def test_first_delta_shows_immediately(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("Hello")
    assert discord.calls == [Call(0.0, "send", 1, "Hello" + DEFAULT_MARKER)]
    assert renderer.calls == 1


async def test_whitespace_alone_does_not_open_a_message(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("\n")
    await renderer.feed("")
    assert discord.calls == []
    await renderer.feed("Hi")
    assert discord.calls[0].text == "Hi" + DEFAULT_MARKER


async def test_initial_handle_is_edited_instead_of_sending(discord: FakeDiscord, fake_time: FakeTime) -> None:
    discord.messages[0] = "thinking…"  # the deferred interaction response
    renderer = _renderer(discord, fake_time, initial=0)
    await renderer.feed("Hi there")
    assert [(c.op, c.handle) for c in discord.calls] == [("edit", 0)]
    assert await renderer.finish() == [0]
    assert discord.messages[0] == "Hi there"


async def test_edits_are_throttled_to_one_per_interval(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await _stream(renderer, fake_time, "word " * 100, size=5, step=0.1)  # 10 s of deltas
    edits = [c.at for c in discord.calls if c.op == "edit"]
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(edits))
    assert 8 <= renderer.calls <= 12  # about one a second, not one per delta (100)


async def test_quiet_producer_still_gets_its_text_shown(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("a")
    await fake_time.advance(0.3)
    await renderer.feed("b")  # inside the window: deferred, not shown yet
    assert discord.messages[1] == "a" + DEFAULT_MARKER
    await fake_time.advance(0.7)  # the window ends with no further delta
    assert discord.messages[1] == "ab" + DEFAULT_MARKER
    assert [c.at for c in discord.calls] == [0.0, 1.0]


async def test_feed_never_waits_for_the_throttle(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("a")
    for _ in range(50):
        await asyncio.wait_for(renderer.feed("b"), timeout=1)  # would hang on a fake sleep
    assert renderer.calls == 1


async def test_finish_removes_the_marker_and_adds_the_footer(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await _stream(renderer, fake_time, "The whole reply.", size=4, step=0.3)
    handles = await renderer.finish("-# venice-uncensored")
    assert handles == [1]
    assert discord.messages[1] == "The whole reply.\n-# venice-uncensored"
    assert all(DEFAULT_MARKER not in text for text in discord.messages.values())


async def test_finish_is_immediate_even_inside_the_window(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("Hello")
    await renderer.feed(" world")
    await renderer.finish()
    assert discord.calls[-1] == Call(0.0, "edit", 1, "Hello world")
    await fake_time.advance(5)  # the cancelled background flush must not bring the marker back
    assert discord.messages[1] == "Hello world"


async def test_6000_char_stream_ends_in_3_messages(discord: FakeDiscord, fake_time: FakeTime) -> None:
    paragraphs = [(f"Paragraph {n}. " + "lorem ipsum " * 90)[:995] for n in range(6)]
    text = "\n\n".join(paragraphs)
    renderer = _renderer(discord, fake_time)
    await _stream(renderer, fake_time, text, size=37, step=0.05)
    handles = await renderer.finish()
    assert handles == [1, 2, 3]
    assert [discord.messages[h] for h in handles] == split_message(text)
    assert all(len(t) <= 2000 for c in discord.calls for t in [c.text])
    assert all(DEFAULT_MARKER not in discord.messages[h] for h in handles)


async def test_marker_is_kept_while_a_message_is_nearly_full(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time, limit=100)
    await _stream(renderer, fake_time, "word " * 19 + "ab", size=1, step=1.0)
    last = discord.calls[-1].text
    assert last.endswith(DEFAULT_MARKER)
    assert len(last) <= 100


async def test_code_block_is_closed_before_the_marker(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("```py\nprint(1)")
    assert discord.messages[1] == "```py\nprint(1)\n```" + DEFAULT_MARKER


async def test_fail_keeps_the_text_and_says_why(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await _stream(renderer, fake_time, "She opened the door and", size=5, step=0.4)
    handles = await renderer.fail("Venice stopped answering")
    assert handles == [1]
    assert discord.messages[1] == "She opened the door and\n*(cut off: Venice stopped answering)*"


async def test_fail_before_any_text_shows_only_the_note(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    assert await renderer.fail("Venice is busy") == [1]
    assert discord.messages[1] == "*(Venice is busy)*"


async def test_empty_reply_says_so(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.finish()
    assert discord.messages[1] == EMPTY_REPLY


async def test_feed_after_finish_is_an_error(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.finish()
    with pytest.raises(RuntimeError):
        await renderer.feed("late")


async def test_background_flush_error_reaches_the_caller(discord: FakeDiscord, fake_time: FakeTime) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("a")
    discord.fail_edits = True
    await renderer.feed("b")
    await fake_time.advance(1.0)  # the deferred edit fails in the background
    with pytest.raises(RuntimeError, match="Discord said no"):
        await renderer.feed("c")


async def test_finish_still_renders_after_a_transient_background_failure(
    discord: FakeDiscord, fake_time: FakeTime
) -> None:
    renderer = _renderer(discord, fake_time)
    await renderer.feed("a")
    discord.fail_edits = True
    await renderer.feed("b")
    await fake_time.advance(1.0)
    discord.fail_edits = False
    assert await renderer.finish() == [1]
    assert discord.messages[1] == "ab"


# -- the output check (issue #9): what is shown is exactly what the check cleared -------------


class SlowCheck:
    """An output check that answers when the test says so (like the judge), refusing `bad`."""

    def __init__(self, bad: str = "") -> None:
        self.bad = bad
        self.asked: list[str] = []
        self.answer = asyncio.Event()

    async def __call__(self, text: str) -> bool:
        self.asked.append(text)
        await self.answer.wait()
        # A phrase cut at the stream's edge may read differently ("… only 14" before "years ago"):
        # only the cut phrase is refused.
        return not (self.bad and text.rstrip().endswith(self.bad))


async def test_text_arriving_during_a_slow_check_is_not_shown_with_it(discord: FakeDiscord,
                                                                        fake_time: FakeTime) -> None:
    check = SlowCheck()
    renderer = _renderer(discord, fake_time, check=check)
    first = asyncio.create_task(renderer.feed("Hello there "))
    await asyncio.sleep(0)
    renderer._parts.append("and more ")  # what a background flush's producer adds meanwhile
    check.answer.set()
    await first
    assert [c.text for c in discord.calls] == ["Hello there " + DEFAULT_MARKER]
    assert check.asked == ["Hello there "]


async def test_holding_the_last_word_shows_all_but_it_and_checks_both(discord: FakeDiscord,
                                                                      fake_time: FakeTime) -> None:
    check = SlowCheck(bad="only 14")
    check.answer.set()
    renderer = _renderer(discord, fake_time, check=check, hold_last_word=True)
    await renderer.feed("She ")
    assert discord.calls == []  # one word so far: nothing shown yet
    await renderer.feed("says she is ")
    assert [c.text for c in discord.calls] == ["She says she " + DEFAULT_MARKER]
    await fake_time.advance(1.0)
    with pytest.raises(Withheld):
        await renderer.feed("only 14 years ")  # "years" is held back: "… only 14" is what would show
    assert not [c for c in discord.calls if "14" in c.text]
    assert check.asked[-2:] == ["She says she is only 14 years ", "She says she is only 14 "]


def test_held_back_drops_the_last_word() -> None:
    from bot.ui.stream import held_back

    assert held_back("one two three ") == "one two "
    assert held_back("one two\nthree") == "one two\n"
    assert held_back("one") == "" and held_back("") == ""
