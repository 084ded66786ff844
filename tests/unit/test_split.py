"""Splitting replies for Discord's 2,000-character limit."""

from __future__ import annotations

import random
import re

import pytest

from bot.ui.split import StreamSplitter, open_fence, split_message


def _content(text: str) -> str:
    """Non-whitespace content with fence lines removed (splitting adds and moves those)."""
    return re.sub(r"\s+", "", re.sub(r"(?m)^[ \t]*```.*$", "", text))


def _joined(chunks: list[str]) -> str:
    return "\n".join(chunks)


def _paragraph(n: int, size: int) -> str:
    words = " ".join(f"word{n}x{i}" for i in range(size // 8))
    return (words + " " + "z" * size)[: size - 1] + "."


def test_6000_chars_become_3_chunks_at_paragraph_boundaries() -> None:
    paragraphs = [_paragraph(n, 995) for n in range(6)]
    text = "\n\n".join(paragraphs)
    assert len(text) >= 5970
    chunks = split_message(text)
    assert chunks == [
        f"{paragraphs[0]}\n\n{paragraphs[1]}",
        f"{paragraphs[2]}\n\n{paragraphs[3]}",
        f"{paragraphs[4]}\n\n{paragraphs[5]}",
    ]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 2000, ["short"]),
        ("  padded  \n", 2000, ["padded"]),
        ("", 2000, []),
        ("   \n\n ", 2000, []),
        # no blank line: the last line break wins
        ("a" * 30 + "\n" + "b" * 30 + "\n" + "c" * 30, 70, ["a" * 30 + "\n" + "b" * 30, "c" * 30]),
        # one long line: the last sentence end wins
        (
            "One two three. Four five six! Seven eight nine ten.",
            40,
            ["One two three. Four five six!", "Seven eight nine ten."],
        ),
        # roleplay actions close with an asterisk after the full stop
        (
            "*She smiles warmly at you.* Then she pours wine.",
            40,
            ["*She smiles warmly at you.*", "Then she pours wine."],
        ),
        # no sentence end: the last space
        ("alpha beta gamma delta epsilon zeta eta theta", 32, ["alpha beta gamma delta epsilon", "zeta eta theta"]),
    ],
)
def test_split_prefers_natural_boundaries(text: str, limit: int, expected: list[str]) -> None:
    assert split_message(text, limit) == expected


def test_paragraph_is_preferred_over_a_later_line_break() -> None:
    text = "a" * 1500 + "\n\n" + "b" * 300 + "\n" + "c" * 300
    assert split_message(text) == ["a" * 1500, "b" * 300 + "\n" + "c" * 300]


def test_a_paragraph_too_early_in_the_window_loses_to_a_sentence() -> None:
    text = "Hi.\n\n" + "Long sentence here. " * 150
    chunks = split_message(text)
    assert len(chunks[0]) > 1000
    assert chunks[0].endswith(".")


def test_giant_word_is_cut_hard_only_when_it_must_be() -> None:
    text = "start " + "x" * 4500 + " end"
    chunks = split_message(text)
    assert chunks[0] == "start"
    assert [len(c) for c in chunks[1:3]] == [2000, 2000]
    assert chunks[-1].endswith(" end")
    assert _content(_joined(chunks)) == _content(text)


def test_unicode_is_kept_whole() -> None:
    text = " ".join(["héllo", "世界", "😀🔥", "Привет"] * 300)
    chunks = split_message(text, 500)
    assert all(0 < len(c) <= 500 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    assert all(not c.startswith(" ") and not c.endswith(" ") for c in chunks)


def test_code_block_split_closes_and_reopens_the_fence_with_its_language() -> None:
    code = "\n".join(f"print({i})  # a line of code" for i in range(120))
    text = f"Here you go:\n\n```python\n{code}\n```\nThat's all."
    chunks = split_message(text, 1000)
    assert len(chunks) >= 4
    for chunk in chunks[:-1]:
        assert chunk.endswith("\n```")
        assert open_fence(chunk) is None
    for chunk in chunks[1:]:
        assert chunk.startswith("```python\n")
    assert chunks[-1].endswith("```\nThat's all.")
    assert _content(_joined(chunks)) == _content(text)
    assert all(len(c) <= 1000 for c in chunks)


def test_small_code_block_moves_whole_to_the_next_message() -> None:
    prose = "Some words here. " * 50
    block = "```js\n" + "\n".join(f"let x{i} = {i};" for i in range(30)) + "\n```"
    chunks = split_message(f"{prose}\n\n{block}\n\nAfter.", 1000)
    assert chunks[0] == prose.strip()
    assert chunks[1].startswith(block)


def test_cut_right_before_the_closing_fence_uses_the_real_one() -> None:
    body = "\n".join("x" * 60 for _ in range(15))
    text = f"```\n{body}\n```\nafter"
    chunks = split_message(text, 400)
    assert all("```\n```" not in c for c in chunks)
    assert _content(_joined(chunks)) == _content(text)


def test_indentation_inside_code_survives_a_split() -> None:
    lines = [f"    indented_line_{i}()" for i in range(100)]
    chunks = split_message("```py\n" + "\n".join(lines) + "\n```", 500)
    code_lines = [line for c in chunks for line in c.splitlines() if not line.startswith("```")]
    assert code_lines == lines


def test_limit_too_small_is_refused() -> None:
    with pytest.raises(ValueError):
        split_message("text", 10)


_WORDS = ["a", "the", "cat", "*smiles*", "hello.", "What?", "x" * 50, "y" * 300, "é", "😀", "你好", "Done!"]


def _random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 400)):
        if rng.random() < 0.03:
            parts.append(rng.choice(["\n```\n", "\n```py\n"]))
        else:
            parts.append(rng.choice(_WORDS) + rng.choice([" ", " ", "", "\n", "\n\n"]))
    return "".join(parts)


@pytest.mark.parametrize("seed", range(40))
def test_split_invariants_on_random_text(seed: int) -> None:
    rng = random.Random(seed)
    text, limit = _random_text(rng), rng.choice([40, 100, 500, 2000])
    chunks = split_message(text, limit)
    assert all(c.strip() and len(c) <= limit for c in chunks)
    assert _content(_joined(chunks)) == _content(text)
    assert all(open_fence(c) is None for c in chunks[:-1])


@pytest.mark.parametrize("seed", range(40))
def test_stream_splitter_matches_the_invariants(seed: int) -> None:
    rng = random.Random(seed)
    text, limit, reserve = _random_text(rng), rng.choice([60, 500, 2000]), rng.choice([0, 20])
    splitter = StreamSplitter(limit, reserve)
    chunks, tail = [], ""
    for end in range(0, len(text) + 80, 80):
        chunks, tail = splitter.update(text[:end])
        assert all(len(c) <= limit - reserve for c in chunks)
        assert len(tail) <= limit - reserve
    final = chunks + split_message(tail, limit)
    assert _content(_joined(final)) == _content(text)


def test_stream_splitter_rolls_over_at_a_paragraph() -> None:
    splitter = StreamSplitter(2000, reserve=40)
    first = "a" * 1200
    chunks, tail = splitter.update(first + "\n\n" + "b" * 500)
    assert chunks == []
    chunks, tail = splitter.update(first + "\n\n" + "b" * 900)
    assert chunks == [first]
    assert tail == "b" * 900
    assert splitter.chunks == [first]


def test_stream_splitter_does_not_mistake_a_half_arrived_fence() -> None:
    splitter = StreamSplitter(200)
    code = "```py\n" + "\n".join("x = 1" for _ in range(40)) + "\n```"
    for end in range(1, len(code) + 1):
        chunks, tail = splitter.update(code[:end])
    final = chunks + split_message(tail, 200)
    assert all(c.startswith("```py\n") for c in final)
