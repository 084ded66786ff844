"""Turns the SSE events of a streamed chat completion into `StreamDelta`/`StreamEnd` values.

Rules (venice-api.md §2.4): text is in `choices[0].delta.content`; `reasoning_content` is skipped;
usage and cost may come in any chunk, usually a last one with `choices: []`; an `{"error": …}`
chunk is terminal; `finish_reason: content_filter` is a content-policy refusal.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from .errors import ContentPolicyError, StreamError, VeniceError, stream_error_message
from .sse import SSEEvent, SSEParser
from .types import Cost, StreamDelta, StreamEnd, Usage

__all__ = ["ChatStreamState", "read_chat_stream"]


class ChatStreamState:
    """Accumulates one stream's state; `handle` returns the deltas an event carries."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.cost: Cost | None = None
        self.chars = 0

    def handle(self, event: SSEEvent) -> list[StreamDelta]:
        """Read one event; raise StreamError/ContentPolicyError for in-band failures."""
        try:
            chunk = json.loads(event.data)
        except ValueError:
            raise StreamError(f"stream: unreadable chunk after {self.chars} chars", code="malformed_chunk") from None
        if not isinstance(chunk, Mapping):
            raise StreamError("stream: chunk is not a JSON object", code="malformed_chunk")
        if chunk.get("error") is not None:
            raise self._error(chunk["error"])
        model = chunk.get("model")
        if model.__class__ is str:
            self.model = model
        # Usage and cost come once, in the last chunks: no look-up in the hundreds of others.
        usage = chunk.get("usage")
        if usage is not None:
            self.usage = Usage.from_api(usage) or self.usage
        cost = chunk.get("cost")
        if cost is not None:
            self.cost = Cost.from_api(cost) or self.cost
        deltas: list[StreamDelta] = []
        choices = chunk.get("choices")
        for choice in choices if choices.__class__ is list else ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue  # n is always 1 for us; other indexes would be a different reply
            delta = choice.get("delta")
            if isinstance(delta, Mapping):
                text = delta.get("content")
                if text.__class__ is str and text:
                    self.chars += len(text)
                    deltas.append(StreamDelta(text))
            finish = choice.get("finish_reason")
            if finish.__class__ is str:
                self.finish_reason = finish
                if finish == "content_filter":
                    raise ContentPolicyError(
                        "stream: finish_reason content_filter", rule="finish_reason_content_filter"
                    )
        return deltas

    def end(self) -> StreamEnd:
        """The closing event, once `[DONE]` (or the end of the body after a finish) arrived."""
        return StreamEnd(self.finish_reason, self.usage, self.cost, self.model)

    def _error(self, error: Any) -> VeniceError:
        if isinstance(error, Mapping):
            code = error.get("code") if isinstance(error.get("code"), str) else None
            message = error.get("message") if isinstance(error.get("message"), str) else ""
            retry = error.get("retry_after")
            retry_after = float(retry) if isinstance(retry, int | float) and not isinstance(retry, bool) else None
        else:
            code, message, retry_after = None, str(error), None
        text = f"stream: in-band error {code or '?'} after {self.chars} chars: {message[:200]}"
        if code == "content_blocked_by_provider":
            return ContentPolicyError(text, rule="content_blocked_by_provider", code=code)
        return StreamError(
            text, code=code, retry_after=retry_after, user_message=stream_error_message(code, retry_after)
        )


async def read_chat_stream(
    content: aiohttp.StreamReader, first: bytes, model: str, stall_seconds: float
) -> AsyncIterator[StreamDelta | StreamEnd]:
    """Yield deltas from an open SSE body (whose first chunk was already read), then the end.

    Anything that goes wrong here happens after Venice started answering, so it is a StreamError
    (never retried: the reply may be half-delivered and billed).
    """
    parser = SSEParser()
    state = ChatStreamState(model)
    chunk = first
    try:
        while chunk:
            for event in parser.feed(chunk):
                if event.is_done:
                    yield state.end()
                    return
                for delta in state.handle(event):
                    yield delta
            chunk = await content.readany()
    except TimeoutError:
        raise StreamError(
            f"stream stalled for {stall_seconds:.0f}s after {state.chars} chars", code="timeout"
        ) from None
    except aiohttp.ClientError as exc:
        raise StreamError(
            f"stream connection lost after {state.chars} chars ({type(exc).__name__})", code="connection_lost"
        ) from None
    for event in parser.close():
        if event.is_done:
            yield state.end()
            return
        for delta in state.handle(event):
            yield delta
    if state.finish_reason is None:
        raise StreamError(f"stream ended without finishing after {state.chars} chars", code="connection_lost")
    # A finish_reason without [DONE] is a complete reply whose terminator got lost.
    yield state.end()
