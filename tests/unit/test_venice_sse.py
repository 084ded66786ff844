"""The SSE parser: events survive any split of the byte stream."""

from __future__ import annotations

import pytest

from bot.venice.sse import SSEEvent, SSEParser


def feed_all(chunks: list[bytes]) -> tuple[list[SSEEvent], SSEParser]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events, parser


def datas(events: list[SSEEvent]) -> list[str]:
    return [e.data for e in events]


STREAM = (
    ': ping\n\n'
    'data: {"a": 1}\n\n'
    'event: note\nid: 7\ndata: first line\ndata: second line\n\n'
    ': keep-alive\n\n'
    'data: {"text": "h\u00e9llo \u2728"}\n\n'
    'data: [DONE]\n\n'
).encode()  # fmt: skip

EXPECTED = ['{"a": 1}', "first line\nsecond line", '{"text": "h\u00e9llo \u2728"}', "[DONE]"]


def test_whole_stream_in_one_chunk() -> None:
    events, parser = feed_all([STREAM])
    assert datas(events) == EXPECTED
    assert parser.done
    assert parser.comments == 2


def test_event_name_and_id_are_kept() -> None:
    events, _ = feed_all([STREAM])
    assert (events[1].event, events[1].id) == ("note", "7")
    assert events[0].event == "message"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_any_split_of_the_bytes_gives_the_same_events(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    events, _ = feed_all(chunks)
    assert datas(events) == EXPECTED


def test_a_multibyte_character_split_between_reads_is_not_mangled() -> None:
    raw = "data: \u2728\n\n".encode()
    cut = raw.index(b"\xe2") + 1  # inside the three-byte sparkle
    events, _ = feed_all([raw[:cut], raw[cut:]])
    assert datas(events) == ["\u2728"]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_crlf_cr_and_lf_line_endings(newline: str) -> None:
    raw = f"data: one{newline}{newline}: c{newline}data: two{newline}{newline}".encode()
    events, _ = feed_all([raw])
    assert datas(events) == ["one", "two"]


def test_crlf_split_between_reads_is_one_line_ending() -> None:
    # "\r" at the end of one read and "\n" at the start of the next must not make a blank line.
    events, _ = feed_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert datas(events) == ["a\nb"]


def test_comments_are_ignored_and_counted() -> None:
    events, parser = feed_all([b": ping\n\n:\n\ndata: x\n\n"])
    assert datas(events) == ["x"]
    assert parser.comments == 2


def test_data_without_space_after_colon() -> None:
    events, _ = feed_all([b'data:{"k":1}\n\n'])
    assert datas(events) == ['{"k":1}']


def test_only_one_leading_space_is_removed() -> None:
    events, _ = feed_all([b"data:  two spaces\n\n"])
    assert datas(events) == [" two spaces"]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    events, _ = feed_all([b"\n\n\nevent: x\n\n"])
    assert events == []


def test_nothing_after_done_is_parsed() -> None:
    parser = SSEParser()
    events = parser.feed(b"data: [DONE]\n\ndata: late\n\n")
    assert datas(events) == ["[DONE]"]
    assert events[0].is_done
    assert parser.feed(b"data: later\n\n") == []
    assert parser.close() == []


def test_close_flushes_a_final_event_without_blank_line() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert datas(parser.close()) == ["[DONE]"]


def test_byte_order_mark_at_start_is_skipped() -> None:
    events, _ = feed_all([b"\xef\xbb\xbfdata: x\n\n"])
    assert datas(events) == ["x"]


def test_unknown_fields_and_retry_are_ignored() -> None:
    events, _ = feed_all([b"retry: 100\nfoo: bar\ndata: x\n\n"])
    assert datas(events) == ["x"]
