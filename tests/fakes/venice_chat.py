"""`POST /chat/completions` of the fake Venice: plain JSON answers and realistic SSE streams."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.venice_faults import FAULT_KEY

if TYPE_CHECKING:
    from tests.fakes.venice import FakeVenice

__all__ = [
    "ChatHandler", "bill", "completion", "count_prompt_tokens", "echo_parameters", "estimate_tokens",
    "last_user_text", "reply_head",
]

# Faults that cut the reply short after `fault.after` pieces.
_CUTTING_FAULTS = {"drop", "midstream_error", "content_filter"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (what the default reply echoes)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def estimate_tokens(text: str) -> int:
    """A rough count, like a tokenizer's order of magnitude (4 characters a token)."""
    return max(1, (len(text) + 3) // 4)


def count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The prompt's tokens as the fake counts them (text parts only, plus a few per message)."""
    return sum(estimate_tokens(_text(m.get("content"))) + 4 for m in messages)


def bill(
    fake: FakeVenice, model: dict[str, Any], prompt_tokens: int, text: str
) -> tuple[dict[str, int], dict[str, float]]:
    """`usage` and `cost` of one completion at the model's listed prices, taken from the balance."""
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": estimate_tokens(text),
        "total_tokens": prompt_tokens + estimate_tokens(text),
    }
    pricing = model["model_spec"].get("pricing", {})
    usd = (
        usage["prompt_tokens"] * pricing.get("input", {}).get("usd", 0)
        + usage["completion_tokens"] * pricing.get("output", {}).get("usd", 0)
    ) / 1_000_000
    fake.balance_usd -= usd
    return usage, {"usd": round(usd, 8), "diem": 0}


def reply_head(model: dict[str, Any]) -> dict[str, Any]:
    """`id`, `created` and `model` of a completion."""
    return {"id": "chatcmpl-" + secrets.token_hex(12), "created": int(time.time()), "model": model["id"]}


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or []


class ChatHandler:
    """Answers chat requests from the fake's script (reply text, faults, delays)."""

    def __init__(self, fake: FakeVenice) -> None:
        self.fake = fake

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Route one chat request (its body was already validated by the middleware)."""
        fake = self.fake
        body: dict[str, Any] = await request.json()
        model_id = body["model"].split(":", 1)[0]
        model = fake.model(model_id)
        if model is None or model["type"] != "text":
            return _error(404, f"Model {model_id} not found", "MODEL_NOT_FOUND")
        if model["id"] in fake.offline:
            return _error(503, f"Model {model_id} is offline", "MODEL_OFFLINE")
        slug = (body.get("venice_parameters") or {}).get("character_slug")
        if slug and not any(slug in (c["slug"], c["id"]) for c in fake.characters):
            return _error(404, f"Character {slug} not found", "CHARACTER_NOT_FOUND")
        if fake.judge.wants(body):
            return await fake.judge.handle(request, body, model)
        messages = body["messages"]
        prompt_tokens = count_prompt_tokens(messages)
        context = fake.context_tokens.get(model["id"], model["model_spec"].get("availableContextTokens", 32768))
        if prompt_tokens > context:
            return web.json_response(
                {
                    "error": {
                        "message": f"This model's maximum context length is {context} tokens, "
                        f"but the messages use {prompt_tokens} tokens.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "context_length_exceeded",
                    }
                },
                status=400,
            )
        text = self._reply_for(messages)
        finish = "stop"
        cap = body.get("max_completion_tokens")
        if isinstance(cap, int) and estimate_tokens(text) > cap:
            text, finish = text[: cap * 4], "length"
        fault = request.get(FAULT_KEY)
        if fault is not None and fault.kind == "content_filter":
            finish = "content_filter"
            if not body.get("stream"):
                text = "".join(_pieces(text)[: fault.after])
        if fake.chat_delay:
            await fake.pause(fake.chat_delay)
        usage, cost = bill(fake, model, prompt_tokens, text)
        reply = reply_head(model)
        if body.get("stream"):
            return await self._stream(request, reply, text, finish, usage, cost, fault)
        reply["venice_parameters"] = echo_parameters(body.get("venice_parameters") or {})
        if fault is not None and fault.kind == "midstream_error":
            return web.json_response({"error": _inband_error(fault)})
        return web.json_response(completion(reply, text, finish, usage, cost))

    def _reply_for(self, messages: list[dict[str, Any]]) -> str:
        fake = self.fake
        if fake.replies:
            return fake.replies.popleft()
        if fake.reply_text is not None:
            return fake.reply_text
        return f"Reply to: {last_user_text(messages)}"

    async def _stream(
        self,
        request: web.Request,
        reply: dict[str, Any],
        text: str,
        finish: str,
        usage: dict[str, int],
        cost: dict[str, float],
        fault: Any,
    ) -> web.StreamResponse:
        fake = self.fake
        nl = fake.sse_newline
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)

        async def send(raw: str) -> None:
            data = raw.encode()
            # Split every event across two writes (mid-line, maybe mid-character) like TCP does.
            cut = max(1, len(data) // 2)
            for part in (data[:cut], data[cut:]):
                await resp.write(part)
                await asyncio.sleep(fake.chunk_delay)

        async def event(payload: dict[str, Any]) -> None:
            await send(f"data: {json.dumps({**reply, 'object': 'chat.completion.chunk', **payload})}{nl}{nl}")

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        await send(f": ping{nl}{nl}")
        await event(choice({"role": "assistant", "content": ""}))
        if fake.reasoning_text:
            for piece in _pieces(fake.reasoning_text):
                await event(choice({"reasoning_content": piece}))
        pieces = _pieces(text)
        stop_after = fault.after if fault is not None and fault.kind in _CUTTING_FAULTS else None
        for n, piece in enumerate(pieces):
            if stop_after is not None and n == stop_after:
                break
            await event(choice({"content": piece}))
            if n % 3 == 2:
                await send(f": ping{nl}{nl}")  # keep-alive comment, as proxies send
        if fault is not None and fault.kind == "drop":
            assert request.transport is not None
            request.transport.close()
            return resp
        if fault is not None and fault.kind == "midstream_error":
            await send(f"data: {json.dumps({'error': _inband_error(fault)})}{nl}{nl}")
        else:
            await event(choice({}, finish))
            await event({"choices": [], "usage": usage, "cost": cost})
        await send(f"data: [DONE]{nl}{nl}")
        await resp.write_eof()
        return resp


def completion(
    reply: dict[str, Any], text: str, finish: str, usage: dict[str, int], cost: dict[str, float]
) -> dict[str, Any]:
    message = {"role": "assistant", "content": text, "reasoning_content": None, "tool_calls": []}
    return {
        **reply,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "stop_reason": None, "logprobs": None}],
        "usage": {**usage, "prompt_tokens_details": None, "completion_tokens_details": None},
        "cost": cost,
        "prompt_logprobs": None,
    }


def echo_parameters(sent: dict[str, Any]) -> dict[str, Any]:
    """The settings that took effect, as Venice echoes them (defaults filled in)."""
    echo: dict[str, Any] = {
        "enable_e2ee": True,
        "enable_web_search": "off",
        "enable_web_citations": False,
        "enable_web_scraping": False,
        "include_venice_system_prompt": True,
        "include_search_results_in_stream": False,
        "return_search_results_as_documents": False,
        "strip_thinking_response": False,
        "disable_thinking": False,
    }
    echo.update({k: v for k, v in sent.items() if k in echo or k == "character_slug"})
    echo["web_search_citations"] = []
    return echo


def _inband_error(fault: Any) -> dict[str, Any]:
    """The error object Venice sends inside a 200 answer (venice-api.md §2.4)."""
    message = "Content blocked by provider" if fault.code == "content_blocked_by_provider" else "Model overloaded"
    error: dict[str, Any] = {"message": message, "type": "server_error", "code": fault.code}
    if fault.retry_after is not None:
        error["retry_after"] = fault.retry_after
    return error


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status)
