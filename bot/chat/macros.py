"""Card macros, as SillyTavern expands them (`evaluateMacros` in `public/scripts/macros.js`).

Names are case-insensitive and may have spaces inside the braces (`{{ Char }}`). The text is read
once, left to right, so a value that itself looks like a macro (a user called "{{char}}") is
inserted as it is, never expanded again, and the work is linear in the text; the output is
bounded (`MAX_OUTPUT_CHARS`). Unknown macros are left as typed.

Supported:
- names: `{{char}}`, `{{user}}` (and `<BOT>`, `<CHAR>`, `<USER>`), `{{persona}}`,
  `{{description}}`, `{{personality}}`, `{{scenario}}`, `{{mesExamples}}`, `{{original}}`;
- text: `{{newline}}`, `{{trim}}` (removed with the newlines around it), `{{noop}}`,
  `{{// comment}}` and `{{comment: …}}` (removed, braces inside included), `{{reverse:…}}`;
- chance: `{{random::a::b}}` / `{{random:a,b}}` (a fresh choice each time), `{{pick::a::b}}`
  (the same choice for this conversation and this place in the text, as SillyTavern seeds it
  with the chat, the text and the offset), `{{roll:d20}}` / `{{roll 2d6+1}}` (an invalid formula
  gives an empty string, as in SillyTavern);
- time: `{{time}}`, `{{date}}`, `{{weekday}}`, `{{isotime}}`, `{{isodate}}`, `{{time_UTC±N}}`,
  `{{idle_duration}}` (moment.js's "humanize" wording);
- chat: `{{lastMessage}}`, `{{lastUserMessage}}`, `{{lastCharMessage}}`;
- variables (per conversation, `variables.js`): `{{getvar::name}}`, `{{setvar::name::value}}`,
  `{{addvar::name::value}}`, `{{incvar::name}}`, `{{decvar::name}}` (the last two print the new value).

Randomness and the clock come from the `MacroContext`, so tests pass a seeded generator and a
fixed time. Difference from SillyTavern: its passes run macro kinds one after another (all
variables, then names, …); here every macro runs in reading order, so `{{setvar::x::1}}{{getvar::x}}`
gives "1" rather than the old value.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

MAX_OUTPUT_CHARS = 400_000
"""Past this many characters of output, further macros are left as typed."""
MAX_DICE = 1_000
MAX_SIDES = 1_000_000_000
_COMMENT_SCAN = 20_000  # how far a comment's braces are balanced before falling back to the first `}}`
_START = re.compile(r"\{\{|<(user|bot|char)>", re.IGNORECASE)
_ROLL = re.compile(r"^([1-9]\d*)?d([1-9]\d*)([+-]\d+)?$", re.IGNORECASE)  # droll.validate
_LIST_HEAD = re.compile(r"^(random|pick)\s?::?(.+)$", re.IGNORECASE | re.DOTALL)
_ROLL_HEAD = re.compile(r"^roll[ :](.+)$", re.IGNORECASE | re.DOTALL)
_UTC = re.compile(r"^time_utc([-+]\d+)$", re.IGNORECASE)
_VAR = re.compile(r"^(getvar|setvar|addvar|incvar|decvar)::(.*)$", re.IGNORECASE | re.DOTALL)
_ESCAPED_COMMA = "\ufdd0"  # a noncharacter: stands in for `\,` while splitting


@dataclass(slots=True)
class MacroContext:
    """Everything macros can read, and the chat variables they can change."""

    char: str
    user: str
    original: str = ""
    persona: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    mes_examples: str = ""
    last_message: str = ""
    last_user_message: str = ""
    last_char_message: str = ""
    now: datetime | None = None
    idle_since: datetime | None = None
    rng: random.Random | None = None
    seed: int = 0
    variables: MutableMapping[str, str] = field(default_factory=dict)

    def with_original(self, original: str) -> MacroContext:
        copy = MacroContext(**{name: getattr(self, name) for name in self.__slots__})  # type: ignore[attr-defined]
        copy.original = original
        return copy


def expand(text: str, *, char: str, user: str, original: str = "") -> str:
    """Replace the name macros in `text`; other macros are left as typed."""
    if "{{" not in text and "<" not in text:
        return text
    return render(text, MacroContext(char=char, user=user, original=original), names_only=True)


_OUTLET = re.compile(r"\{\{outlet::(.*?)\}\}", re.IGNORECASE | re.DOTALL)


def fill_outlets(text: str, outlets: Mapping[str, str]) -> str:
    """`{{outlet::name}}`: the lore entries placed in that outlet (world-info.js position 7,
    `outletName`; SillyTavern's macro reads `customWIOutlet_<name>`), nothing when none fired.
    `render` leaves the macro as typed: the lore is scanned after the card fields are rendered,
    so the prompt builder fills outlets last."""
    if "{{" not in text:
        return text
    return _OUTLET.sub(lambda m: outlets.get(m.group(1).strip(), ""), text)


def render(text: str, ctx: MacroContext, *, names_only: bool = False) -> str:
    """Expand every supported macro in `text` with `ctx` (variables in `ctx` may change)."""
    if "{{" not in text and "<" not in text:
        return text
    return _Renderer(text, ctx, names_only).run()


class _Renderer:
    def __init__(self, text: str, ctx: MacroContext, names_only: bool) -> None:
        self.text, self.ctx, self.names_only = text, ctx, names_only
        self.out: list[str] = []
        self.size = 0
        self.close = -1  # position of the next `}}` at or after the current macro
        self.trim_next = False

    def run(self) -> str:
        text, pos = self.text, 0
        while True:
            match = _START.search(text, pos)
            if match is None:
                self._emit(text[pos:])
                break
            self._emit(text[pos : match.start()])
            if match.group(1):  # <USER>, <BOT>, <CHAR>
                tag = match.group(1).lower()
                self._emit_value(self.ctx.user if tag == "user" else self.ctx.char, match.group(0))
                pos = match.end()
                continue
            pos = self._macro(match.start())
        return "".join(self.out)

    def _macro(self, start: int) -> int:
        """Handle the macro opening at `start`; returns where reading goes on."""
        text = self.text
        body_start = start + 2
        if text.startswith("//", body_start) or text[body_start : body_start + 8].lower() == "comment:":
            return self._comment(start)
        if self.close < body_start:
            self.close = text.find("}}", body_start)
        if self.close == -1:
            self._emit(text[start:])
            return len(text)
        body = text[body_start : self.close]
        end = self.close + 2
        if "{{" in body:
            self._emit("{{")  # an inner macro opens first: this `{{` is plain text
            return body_start
        value = self._evaluate(body.strip(), start)
        if value is _TRIM:
            self._trim()
            return end
        self._emit_value(value, text[start:end])
        return end

    def _comment(self, start: int) -> int:
        """`{{// …}}`: removed with any `{{ }}` pairs inside it; unbalanced, it ends at the first `}}`."""
        text, depth, i = self.text, 0, start
        limit = min(len(text), start + _COMMENT_SCAN)
        while i < limit - 1:
            pair = text[i : i + 2]
            if pair == "{{":
                depth += 1
                i += 2
            elif pair == "}}":
                depth -= 1
                i += 2
                if depth == 0:
                    return i
            else:
                i += 1
        first = text.find("}}", start + 2)
        if first == -1:
            self._emit(text[start:])
            return len(text)
        return first + 2

    def _emit(self, piece: str) -> None:
        if not piece:
            return
        if self.trim_next:
            piece = piece.lstrip("\r\n")
            self.trim_next = bool(not piece)
            if not piece:
                return
        self.out.append(piece)
        self.size += len(piece)

    def _emit_value(self, value: str | None, typed: str) -> None:
        if value is None or self.size + len(value) > MAX_OUTPUT_CHARS:
            self._emit(typed)
            return
        self.trim_next = False
        self.out.append(value)
        self.size += len(value)

    def _trim(self) -> None:
        while self.out:
            last = self.out[-1].rstrip("\r\n")
            self.size -= len(self.out[-1]) - len(last)
            if last:
                self.out[-1] = last
                break
            self.out.pop()
        self.trim_next = True

    # -- values ----------------------------------------------------------------------------------

    def _evaluate(self, body: str, offset: int) -> str | object | None:
        name = body.lower()
        ctx = self.ctx
        simple = {"char": ctx.char, "user": ctx.user, "original": ctx.original, "newline": "\n", "noop": ""}
        if name in simple:
            return simple[name]
        if name == "trim":
            return _TRIM
        if self.names_only:
            return None
        fields = {
            "persona": ctx.persona, "description": ctx.description, "personality": ctx.personality,
            "scenario": ctx.scenario, "mesexamples": ctx.mes_examples, "lastmessage": ctx.last_message,
            "lastusermessage": ctx.last_user_message, "lastcharmessage": ctx.last_char_message,
        }
        if name in fields:
            return fields[name]
        if name in _CLOCK or _UTC.match(body):
            return _clock(body, ctx.now)
        if name == "idle_duration":
            return _idle(ctx)
        if name.startswith("reverse:"):
            return body[len("reverse:") :][::-1]
        listed = _LIST_HEAD.match(body)
        if listed:
            return self._choice(listed.group(1).lower(), listed.group(2), offset)
        rolled = _ROLL_HEAD.match(body)
        if rolled:
            return _roll(rolled.group(1).strip(), ctx.rng or random.Random())
        var = _VAR.match(body)
        if var:
            return _variable(var.group(1).lower(), var.group(2), ctx.variables)
        return None

    def _choice(self, kind: str, items: str, offset: int) -> str:
        options = _split_list(items)
        if not options:
            return ""
        if kind == "random":
            rng = self.ctx.rng or random.Random()
        else:
            # pickReplace: seeded by the chat, the raw text and the macro's place in it.
            text_hash = hashlib.blake2b(self.text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
            rng = random.Random(f"{self.ctx.seed}-{text_hash}-{offset}")
        return options[int(rng.random() * len(options))]


_TRIM = object()
_CLOCK = {"time", "date", "weekday", "isotime", "isodate"}


def _split_list(items: str) -> list[str]:
    """`randomReplace`: split on `::`, else on commas (trimmed, `\\,` escapes a comma)."""
    if "::" in items:
        return items.split("::")
    parts = items.replace("\\,", _ESCAPED_COMMA).split(",")
    return [part.strip().replace(_ESCAPED_COMMA, ",") for part in parts]


def _roll(formula: str, rng: random.Random) -> str:
    """`diceRollReplace` with droll's formula: `XdY±Z`, or a bare number meaning `1dN`."""
    if formula.isdigit():
        formula = f"1d{formula}"
    match = _ROLL.match(formula)
    if match is None:
        return ""
    count = int(match.group(1) or 1)
    sides = int(match.group(2))
    if count > MAX_DICE or sides > MAX_SIDES:
        return ""
    modifier = int(match.group(3) or 0)
    return str(sum(rng.randint(1, sides) for _ in range(count)) + modifier)


def _variable(kind: str, args: str, variables: MutableMapping[str, str]) -> str | None:
    """`replaceVariableMacros`: local (per conversation) variables."""
    if kind in ("getvar", "incvar", "decvar"):
        if "}" in args or not args.strip():
            return None
        name = args.strip()
        if kind == "getvar":
            return _format_number(variables.get(name, ""))
        return _add(variables, name, "1" if kind == "incvar" else "-1")
    name, sep, value = args.partition("::")
    if not sep or ":" in name or not name.strip() or not value:
        return None
    if kind == "setvar":
        variables[name.strip()] = value
    else:
        _add(variables, name.strip(), value)
    return ""


def _add(variables: MutableMapping[str, str], name: str, value: str) -> str:
    """`addLocalVariable`: numbers add up, anything else is appended as text."""
    current = variables.get(name, "")
    base = _number(current) if current.strip() else 0.0
    increment = _number(value)
    if base is None or increment is None:
        variables[name] = current + value
        return variables[name]
    variables[name] = _format_number(repr(base + increment))
    return variables[name]


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _format_number(text: str) -> str:
    """JavaScript prints whole numbers without a decimal point."""
    number = _number(text) if text.strip() else None
    if number is None:
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def _clock(body: str, now: datetime | None) -> str:
    """moment.js formats in the `en` locale: LT, LL, dddd, HH:mm, YYYY-MM-DD."""
    now = now or datetime.now(UTC)
    utc = _UTC.match(body)
    if utc:
        now = now.astimezone(UTC) + timedelta(hours=int(utc.group(1)))
        return _lt(now)
    name = body.lower()
    if name == "time":
        return _lt(now)
    if name == "date":
        return f"{now:%B} {now.day}, {now.year}"
    if name == "weekday":
        return f"{now:%A}"
    if name == "isotime":
        return f"{now:%H:%M}"
    return f"{now:%Y-%m-%d}"


def _lt(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _idle(ctx: MacroContext) -> str:
    """`getTimeSinceLastMessage`: the time since the previous user message, as moment's humanize."""
    if ctx.idle_since is None:
        return "just now"
    seconds = max(0.0, ((ctx.now or datetime.now(UTC)) - ctx.idle_since).total_seconds())
    return humanize(seconds)


def humanize(seconds: float) -> str:
    """moment.duration(…).humanize() in English (relativeTime thresholds s=45, m=45, h=22, d=26, M=11)."""
    s = round(seconds)
    m = round(seconds / 60)
    h = round(seconds / 3600)
    d = round(seconds / 86400)
    months = round(seconds / 86400 * 4800 / 146097)
    y = round(seconds / 86400 * 4800 / 146097 / 12)
    if s <= 44:
        return "a few seconds"
    if s < 45:
        return f"{s} seconds"
    for value, one, many, limit in ((m, "a minute", "minutes", 45), (h, "an hour", "hours", 22),
                                    (d, "a day", "days", 26), (months, "a month", "months", 11)):
        if value <= 1:
            return one
        if value < limit:
            return f"{value} {many}"
    return "a year" if y <= 1 else f"{y} years"
