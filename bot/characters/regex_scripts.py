"""A card's `regex_scripts` (SillyTavern's Regex extension, `extensions/regex/engine.js`).

Cards use them to tidy the model's replies and, most often, to hide state blocks (stats,
trackers) that the model writes and must see again next turn but the reader should not. Which
script runs where follows `getRegexedString`:

- `placement` lists where a script applies: 1 user input, 2 AI output, 5 world info (3 and 4 are
  slash commands and "send as", which the bot does not have);
- a script with neither `markdownOnly` nor `promptOnly` changes the text itself: it runs on the
  reply before it is stored (`stored_text`) and again when the prompt is built;
- `markdownOnly` scripts change only what is displayed (`display_text`);
- `promptOnly` scripts change only what the model is sent (`prompt_text`);
- `minDepth`/`maxDepth` limit a script to messages that many places from the newest (0).

The replacement follows `runRegexScript`: `{{match}}` is `$0`, `$1`… are groups with every
`trimStrings` entry removed from them, then macros are expanded; without the `g` flag only the
first match is replaced. `substituteRegex` expands macros in the pattern first (1: as they are,
2: escaped). Patterns run with RE2 (`bot.characters.jsregex`), so a script RE2 cannot run is
skipped with a warning; output is bounded (`MAX_OUTPUT_CHARS`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import re2

from bot.characters.jsregex import JsRegex, compile_js, parse_script_regex

log = logging.getLogger(__name__)

MAX_SCRIPTS = 100
MAX_OUTPUT_CHARS = 200_000
"""Longest text a script may produce; past it the rest of the text is kept unchanged."""
_GROUP_REF = re.compile(r"\$(\d+)")
_MATCH_MACRO = re.compile(r"\{\{match\}\}", re.IGNORECASE)


class Placement(IntEnum):
    """`regex_placement`."""

    MD_DISPLAY = 0
    USER_INPUT = 1
    AI_OUTPUT = 2
    SLASH_COMMAND = 3
    WORLD_INFO = 5


@dataclass(frozen=True, slots=True)
class RegexScript:
    """One script as SillyTavern stores it (`RegexScript` in `extensions/regex/index.js`)."""

    name: str
    find: str
    replace: str
    trim: tuple[str, ...]
    placement: frozenset[int]
    disabled: bool
    markdown_only: bool
    prompt_only: bool
    substitute: int  # 0 none, 1 raw, 2 escaped
    min_depth: int | None
    max_depth: int | None


def scripts_of(extensions: Any) -> list[RegexScript]:
    """The card's `extensions.regex_scripts`, malformed ones left out."""
    raw = extensions.get("regex_scripts") if isinstance(extensions, dict) else None
    if not isinstance(raw, list):
        return []
    scripts = []
    for item in raw[:MAX_SCRIPTS]:
        if not isinstance(item, dict) or not isinstance(item.get("findRegex"), str):
            continue
        placement = item.get("placement")
        scripts.append(RegexScript(
            name=str(item.get("scriptName") or ""),
            find=item["findRegex"],
            replace=item.get("replaceString") if isinstance(item.get("replaceString"), str) else "",
            trim=tuple(t for t in item.get("trimStrings") or () if isinstance(t, str) and t),
            placement=frozenset(p for p in placement if isinstance(p, int) and not isinstance(p, bool))
            if isinstance(placement, list) else frozenset(),
            disabled=bool(item.get("disabled")),
            markdown_only=bool(item.get("markdownOnly")),
            prompt_only=bool(item.get("promptOnly")),
            substitute=int(item.get("substituteRegex") or 0) if not isinstance(item.get("substituteRegex"), str) else 0,
            min_depth=_depth(item.get("minDepth")),
            max_depth=_depth(item.get("maxDepth")),
        ))
    return scripts


def stored_text(reply: str, scripts: Sequence[RegexScript], *, macros: Callable[[str], str] = str) -> str:
    """The model's reply as SillyTavern saves it: scripts that are neither display- nor prompt-only."""
    return apply(reply, scripts, Placement.AI_OUTPUT, depth=0, macros=macros)


def display_text(stored: str, scripts: Sequence[RegexScript], *, depth: int = 0, user: bool = False,
                 macros: Callable[[str], str] = str) -> str:
    """What Discord shows for a stored message: its markdown-only scripts applied."""
    placement = Placement.USER_INPUT if user else Placement.AI_OUTPUT
    return apply(stored, scripts, placement, depth=depth, markdown=True, macros=macros)


def shown_text(raw: str, scripts: Sequence[RegexScript], *, final: bool = True,
               macros: Callable[[str], str] = str) -> str:
    """What Discord shows of a reply the model wrote (`raw`): the stored text's scripts, then the
    markdown-only ones. While it is still streaming (`final` false), a block that a script will
    change once it is closed (a `<thinking>` block it hides, a `[STATUS …]` it reformats) is held
    back from where it opens, so it never flashes on screen half-written."""
    if not final:
        raw = raw[: held_from(raw, scripts, macros=macros)]
    return display_text(stored_text(raw, scripts, macros=macros), scripts, macros=macros)


_OPEN_TAG = re.compile(r"<([A-Za-z][\w:.-]{0,40})(?:\s[^<>]{0,500})?>")
_PARTIAL_TAG = re.compile(r"</?(?:[A-Za-z][\w:.-]{0,40}(?:\s[^<>]{0,500})?)?$")
_CLOSERS = ("```", "]", "}", ")", "*", "_", "\n")


def held_from(text: str, scripts: Sequence[RegexScript], *, macros: Callable[[str], str] = str) -> int:
    """Where the text still being written stops being safe to show: the start of a match that a
    script of AI output would make if the text went on with a likely closer (the closing tag of
    an open tag, a bracket, a fence, the end of the line); `len(text)` when none would."""
    active = [s for s in scripts if not s.disabled and not s.prompt_only and s.find
              and Placement.AI_OUTPUT in s.placement]
    if not active or not text:
        return len(text)
    cut = len(text)
    partial = _PARTIAL_TAG.search(text[-600:])
    if partial is not None:
        cut = len(text) - len(text[-600:]) + partial.start()
    # A bracket still open where some script looks for that bracket (`\[STATUS: …\]`): the block
    # may not match any likely closing yet (`[STATUS` before its colon), so it waits from there.
    for opening, closing in (("[", "]"), ("{", "}"), ("(", ")")):
        at = text.rfind(opening, max(0, len(text) - 2_000))
        if at >= 0 and closing not in text[at:] and any("\\" + opening in s.find for s in active):
            cut = min(cut, at)
    closers = [f"</{m.group(1)}>" for m in _OPEN_TAG.finditer(text) if f"</{m.group(1)}>" not in text[m.end():]]
    closers += [c for c in _CLOSERS if c not in closers]
    for script in active:
        find = macros(script.find) if script.substitute == 1 else (
            _substitute_escaped(script.find, macros) if script.substitute == 2 else script.find)
        regex = compile_js(*parse_script_regex(find))
        if regex is None:
            continue
        for closer in closers:
            probe = text[:cut] + closer if cut < len(text) else text + closer
            end_of_text = len(probe) - len(closer)
            for match in regex.regexp.finditer(probe):
                start, end = match.span()
                if start >= end_of_text:
                    break
                if end > end_of_text:
                    cut = min(cut, start)
                    break
    return cut


def prompt_text(stored: str, scripts: Sequence[RegexScript], *, depth: int, user: bool = False,
                macros: Callable[[str], str] = str) -> str:
    """What the model is sent for a stored message `depth` places from the newest."""
    placement = Placement.USER_INPUT if user else Placement.AI_OUTPUT
    return apply(stored, scripts, placement, depth=depth, prompt=True, macros=macros)


def apply(text: str, scripts: Sequence[RegexScript], placement: Placement, *, depth: int | None = None,
          markdown: bool = False, prompt: bool = False, macros: Callable[[str], str] = str) -> str:
    """`getRegexedString`: every script that applies here, in order."""
    if not text:
        return text
    for script in scripts:
        applies = (
            (script.markdown_only and markdown)
            or (script.prompt_only and prompt)
            or (not script.markdown_only and not script.prompt_only and not markdown)
        )
        if not applies or placement not in script.placement:
            continue
        if depth is not None and depth >= 0:
            if script.min_depth is not None and depth < script.min_depth:
                continue
            if script.max_depth is not None and depth > script.max_depth:
                continue
        text = run(script, text, macros=macros)
    return text


def run(script: RegexScript, text: str, *, macros: Callable[[str], str] = str) -> str:
    """`runRegexScript`: one script over `text`."""
    if script.disabled or not script.find or not text:
        return text
    find = script.find
    if script.substitute == 1:
        find = macros(find)
    elif script.substitute == 2:
        find = _substitute_escaped(find, macros)
    regex = compile_js(*parse_script_regex(find))
    if regex is None:
        return text
    return _replace(regex, text, script, macros)


def _replace(regex: JsRegex, text: str, script: RegexScript, macros: Callable[[str], str]) -> str:
    template = _MATCH_MACRO.sub("$0", script.replace)
    out: list[str] = []
    size, last = 0, 0
    for match in regex.regexp.finditer(text):
        start, end = match.span()
        groups = [match.group(0), *match.groups()]

        def group(ref: re.Match[str], groups: list[str | None] = groups) -> str:
            number = int(ref.group(1))
            value = groups[number] if number < len(groups) else None
            if not value:
                return ""
            for trim in script.trim:
                value = value.replace(macros(trim), "")
            return value

        replacement = macros(_GROUP_REF.sub(group, template))
        piece = text[last:start] + replacement
        size += len(piece)
        if size > MAX_OUTPUT_CHARS:
            log.warning("regex script %r stopped: its output grew past %d characters", script.name, MAX_OUTPUT_CHARS)
            break
        out.append(piece)
        last = end
        if not regex.global_:
            break
    out.append(text[last:])
    return "".join(out)


def _substitute_escaped(find: str, macros: Callable[[str], str]) -> str:
    """substituteRegex 2: macro values are regex-escaped before they go into the pattern."""
    return re.sub(r"\{\{[^{}]*\}\}", lambda m: re2.escape(macros(m.group(0))), find)


def _depth(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return int(value) if value >= 0 else None
