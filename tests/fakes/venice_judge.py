"""The fake Venice's content judge: deterministic answers to the bot's judge requests.

A chat completion is a judge request when its `response_format` is a JSON schema named
`content_judgement` (texts) or `image_judgement` (images), the names `bot.judge.prompt` uses. Such
requests pass the same swagger validation, auth and path faults as every other request, are
recorded in `fake.judge.calls`, and are answered from these rules instead of the chat script:

Texts (the user message is the judge's JSON document: `kind`, `text`, `context`):
- `minor_sexual` is true when the text contains the marker ``[minor]``, or when the text contains
  a sexual word (`SEXUAL_WORDS`) and the text or its context states an age under 18: "N years
  old", "N-year-old", "N yo", "N y/o" or "aged N" with N < 18, or "born in YYYY" where the year of
  "Today's date is YYYY-MM-DD" in the system prompt minus YYYY is under 18 (so a test can show the
  date reached the judge). Reason: "minor_coded_term" (marker), "stated_age" (age in the text),
  "birth_date", or "age_in_context" (the age was only in the context).
- `real_person_sexual` is true when the text contains the marker ``[real person]``.
- `confidence` is "high", or what a marker ``[confidence:low]`` / ``[confidence:medium]`` says.
- Otherwise both are false, reason "adult_fiction" if the text is sexual, else "non_sexual".

Images (an `image_url` part holding a data URL): the pixel at (0, 0) decides. Mostly red
(r > 200, g and b < 60) → `apparent_minor`; mostly blue → `sexualised_real_person`; anything else
is clear; confidence "high". An image under 64 px a side gets Venice's 400, as does an image sent
to a model without `supportsVision`.

Faults, consumed in order by judge requests only (other chat requests are unaffected):
`fake.judge.inject(Fault.hang(30))` (slower than the judge's timeout), `Fault.http(500, times=4)`,
`Fault.of("garbage")` (the answer is prose, not JSON), `Fault.of("ill_typed")` (JSON whose flags
are strings), `Fault.of("content_filter")` (finish_reason content_filter), `Fault.of("broken")`
(the response body itself is not JSON). `fake.judge.delay` slows every judge answer;
`fake.judge.hold` (an `asyncio.Event`) keeps answers back until the test sets it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import re
from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from bot.judge.prompt import IMAGE_SCHEMA_NAME, TEXT_SCHEMA_NAME
from tests.fakes.venice_chat import bill, completion, count_prompt_tokens, echo_parameters, reply_head
from tests.fakes.venice_faults import DEFAULT_BODIES, Fault

if TYPE_CHECKING:
    from tests.fakes.venice import FakeVenice

__all__ = ["MINOR_MARKER", "REAL_PERSON_MARKER", "SEXUAL_WORDS", "JudgeCall", "JudgeHandler"]

MINOR_MARKER = "[minor]"
REAL_PERSON_MARKER = "[real person]"
SEXUAL_WORDS = ("sex", "sexual", "naked", "nude", "undress", "fuck", "orgasm", "moan", "aroused", "lewd")
_SEXUAL = re.compile(r"\b(?:" + "|".join(SEXUAL_WORDS) + r")\w*", re.IGNORECASE)
_AGE = re.compile(r"\b(\d{1,2})(?:[- ]?years?[- ]old|[- ]?yo\b|[- ]?y/o|-year-old)|\baged (\d{1,2})\b", re.IGNORECASE)
_BORN = re.compile(r"\bborn in (\d{4})\b", re.IGNORECASE)
_TODAY = re.compile(r"Today's date is (\d{4})-(\d{2})-(\d{2})")
_CONFIDENCE = re.compile(r"\[confidence:(low|medium|high)\]")


@dataclass(frozen=True)
class JudgeCall:
    """One judge request as the fake understood it."""

    kind: str  # "text" | "image"
    model: str
    body: dict[str, Any]
    system: str
    text: str = ""
    document_kind: str = ""
    context: dict[str, Any] | None = None
    today: date | None = None
    image_size: tuple[int, int] | None = None


def _minor_ages(text: str, today: date | None) -> tuple[bool, bool]:
    """(an age under 18 is stated, it was a birth year)."""
    for match in _AGE.finditer(text):
        if int(match.group(1) or match.group(2)) < 18:
            return True, False
    if today is not None:
        for match in _BORN.finditer(text):
            if today.year - int(match.group(1)) < 18:
                return True, True
    return False, False


def text_verdict(text: str, context: dict[str, Any], today: date | None) -> dict[str, Any]:
    """The fake judge's answer for a text (see the module docstring)."""
    sexual = bool(_SEXUAL.search(text))
    background = json.dumps(context, ensure_ascii=False)
    in_text, born = _minor_ages(text, today)
    in_context, born_context = (False, False) if in_text else _minor_ages(background, today)
    minor, reason = False, "adult_fiction" if sexual else "non_sexual"
    if MINOR_MARKER in text:
        minor, reason = True, "minor_coded_term"
    elif sexual and (in_text or in_context):
        minor = True
        reason = "birth_date" if (born or born_context) else "stated_age" if in_text else "age_in_context"
    real = REAL_PERSON_MARKER in text
    if real and not minor:
        reason = "real_person"
    confidence = _CONFIDENCE.search(text)
    return {
        "minor_sexual": minor,
        "real_person_sexual": real,
        "confidence": confidence.group(1) if confidence else "high",
        "reason": reason,
    }


class JudgeHandler:
    """Recognises, records and answers judge requests (see the module docstring)."""

    def __init__(self, fake: FakeVenice) -> None:
        self.fake = fake
        self.calls: list[JudgeCall] = []
        self.faults: deque[Fault] = deque()
        self.delay = 0.0
        self.hold: asyncio.Event | None = None  # when set, answers wait until the test sets it
        self.received = asyncio.Event()  # set once a judge request has arrived
        self.in_flight = 0
        self.max_in_flight = 0  # the most judge requests answered at once (concurrency bounds)

    def inject(self, fault: Fault) -> None:
        """Queue a fault for the next judge request(s)."""
        self.faults.append(fault)

    @property
    def texts(self) -> list[str]:
        """The texts that reached the judge, in order."""
        return [c.text for c in self.calls if c.kind == "text"]

    @staticmethod
    def wants(body: dict[str, Any]) -> bool:
        """Is this chat completion a judge request?"""
        fmt = body.get("response_format")
        name = fmt.get("json_schema", {}).get("name") if isinstance(fmt, dict) else None
        return name in (TEXT_SCHEMA_NAME, IMAGE_SCHEMA_NAME)

    def _fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.times -= 1
        if fault.times <= 0:
            self.faults.popleft()
        return fault

    async def handle(self, request: web.Request, body: dict[str, Any], model: dict[str, Any]) -> web.StreamResponse:
        """Answer one judge request (already validated against swagger by the middleware)."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(body, model)
        finally:
            self.in_flight -= 1

    async def _answer(self, body: dict[str, Any], model: dict[str, Any]) -> web.StreamResponse:
        messages = body["messages"]
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        user = next((m["content"] for m in messages if m.get("role") == "user"), "")
        try:
            if body["response_format"]["json_schema"]["name"] == IMAGE_SCHEMA_NAME:
                call, answer = self._image(body, model, system, user)
            else:
                call, answer = self._text(body, model, system, user)
        except _Rejected as err:
            return web.json_response({"error": str(err), "details": {"_errors": [str(err)]}}, status=400)
        self.calls.append(call)
        self.received.set()
        fault = self._fault()
        if self.hold is not None:
            await self.hold.wait()
        if self.delay:
            await self.fake.pause(self.delay)
        finish = "stop"
        content = json.dumps(answer)
        if fault is not None:
            if fault.kind == "hang":
                await self.fake.pause(fault.seconds)
            elif fault.kind == "status":
                error = fault.body if fault.body is not None else DEFAULT_BODIES.get(fault.status, {"error": "Error"})
                return web.json_response(error, status=fault.status, headers=fault.headers)
            elif fault.kind == "broken":
                return web.Response(text='{"choices": [ this is not json', content_type="application/json")
            elif fault.kind == "garbage":
                content = "I'm sorry, but I can't help with judging this content."
            elif fault.kind == "ill_typed":
                content = json.dumps({**answer, "minor_sexual": "no", "real_person_sexual": "no"})
            elif fault.kind == "content_filter":
                finish, content = "content_filter", ""
        usage, cost = bill(self.fake, model, count_prompt_tokens(messages), content)
        reply = reply_head(model)
        reply["venice_parameters"] = echo_parameters(body.get("venice_parameters") or {})
        return web.json_response(completion(reply, content, finish, usage, cost))

    def _text(
        self, body: dict[str, Any], model: dict[str, Any], system: str, user: Any
    ) -> tuple[JudgeCall, dict[str, Any]]:
        found = _TODAY.search(system)
        today = date(*map(int, found.groups())) if found else None
        try:
            document = json.loads(user) if isinstance(user, str) else {}
        except ValueError:
            document = {}
        text = document.get("text", user if isinstance(user, str) else "")
        context = document.get("context") or {}
        call = JudgeCall("text", model["id"], body, system, text=text, document_kind=document.get("kind", ""),
                         context=context, today=today)
        return call, text_verdict(text, context, today)

    def _image(
        self, body: dict[str, Any], model: dict[str, Any], system: str, user: Any
    ) -> tuple[JudgeCall, dict[str, Any]]:
        if not model["model_spec"].get("capabilities", {}).get("supportsVision"):
            raise _Rejected(f"Model {model['id']} does not support image input")
        parts = user if isinstance(user, list) else []
        url = next((p["image_url"]["url"] for p in parts if p.get("type") == "image_url"), "")
        try:
            header, _, payload = url.partition(",")
            if not header.startswith("data:image/") or ";base64" not in header:
                raise ValueError(header)
            with Image.open(io.BytesIO(base64.b64decode(payload, validate=True))) as picture:
                size = picture.size
                pixel = picture.convert("RGB").getpixel((0, 0))
        except (ValueError, binascii.Error, UnidentifiedImageError, OSError):
            raise _Rejected("Image could not be read") from None
        if min(size) < 64:
            raise _Rejected("Image must be at least 64 pixels on each side")
        red, green, blue = pixel
        minor = red > 200 and green < 60 and blue < 60
        real = blue > 200 and red < 60 and green < 60
        reason = "apparent_minor" if minor else "real_person" if real else "none"
        call = JudgeCall("image", model["id"], body, system, image_size=size)
        return call, {"apparent_minor": minor, "sexualised_real_person": real, "confidence": "high", "reason": reason}


class _Rejected(Exception):
    """A judge request Venice would answer with 400 (the message is Venice's `error`)."""
