"""JavaScript regular expressions from cards, run with RE2 (linear time, no backtracking).

SillyTavern cards carry JavaScript regexes in two places: lorebook keys written `/pattern/flags`
(`parseRegexFromString` in SillyTavern's `world-info.js`) and `regex_scripts` (`regexFromString` in
`utils.js`). They come from strangers and run on every message, so they are compiled with RE2,
whose matching time is linear in the text whatever the pattern. What RE2 cannot express
(look-around, backreferences) is skipped with a warning rather than refusing the whole card, as
SillyTavern itself skips a key whose pattern does not compile.

The translation covers the syntax where JavaScript and RE2 differ: `\\uXXXX` and `\\u{…}` escapes,
`(?<name>` groups, `[^]`, `\\/`, `\\d`-style classes (the same in both), `\\s` (Unicode in
JavaScript, ASCII in RE2), and the flags `i`, `m`, `s` (inline), `g` (kept for the caller), `y`
(anchored at the start) and `u` (no effect here).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

import re2

log = logging.getLogger(__name__)

MAX_PATTERN_CHARS = 1_000
"""Longest pattern compiled; SillyTavern has no limit, but nobody writes a longer key by hand."""
_RE2_MEMORY = 8 << 20  # RE2's own default; a pattern needing more fails to compile and is skipped
# JavaScript's \s: ASCII whitespace plus the Unicode spaces (ECMA-262 WhiteSpace and LineTerminator).
_JS_SPACE = r"\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}"
# `parseRegexFromString`: the pattern between the first `/` and a last `/` followed by known flags.
_SLASH_KEY = re.compile(r"^/([\s\S]+?)/([gimsuy]*)$")
_UNESCAPED_SLASH = re.compile(r"(^|[^\\])/")
# `regexFromString`: an optional leading `/`, the pattern, the same delimiter, then letters.
_SLASH_SCRIPT = re.compile(r"(/?)(.+)\1([a-z]*)", re.IGNORECASE)
_SCRIPT_FLAGS = re.compile(r"^(?!.*?(.).*?\1)[gmixXsuUAJ]+$")


@dataclass(frozen=True, slots=True)
class JsRegex:
    """A compiled JavaScript regex: the RE2 program, and whether it was global (`g`)."""

    regexp: re2._Regexp
    global_: bool
    source: str

    def search(self, text: str | bytes) -> bool:
        """Whether the pattern occurs in `text` (JavaScript's `RegExp.prototype.test`)."""
        return self.regexp.search(text) is not None


def parse_key_regex(key: str) -> tuple[str, str] | None:
    """A lorebook key's (pattern, flags) if it is written `/pattern/flags`, else None (a literal key).

    Mirrors `parseRegexFromString` in `world-info.js`: an unescaped `/` inside the pattern makes
    the key literal text.
    """
    match = _SLASH_KEY.match(key)
    if match is None:
        return None
    pattern, flags = match.groups()
    if _UNESCAPED_SLASH.search(pattern):
        return None
    return pattern, flags


def parse_script_regex(find: str) -> tuple[str, str]:
    """A regex script's `findRegex` as (pattern, flags), as `regexFromString` in `utils.js` reads it."""
    match = _SLASH_SCRIPT.match(find)
    if match is None:
        return find, ""
    _, pattern, flags = match.groups()
    if flags and not _SCRIPT_FLAGS.match(flags):
        return find, ""  # SillyTavern then compiles the whole text as the pattern, without flags
    return pattern, flags


@lru_cache(maxsize=4096)
def compile_js(pattern: str, flags: str = "") -> JsRegex | None:
    """Compile a JavaScript pattern with RE2, or None (with a warning) if RE2 cannot run it."""
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        log.warning("regex skipped: pattern of %d characters (at most %d)", len(pattern), MAX_PATTERN_CHARS)
        return None
    translated = translate(pattern)
    if translated is None:
        log.warning("regex skipped: %r uses syntax RE2 cannot run in linear time", pattern[:80])
        return None
    inline = "".join(f for f in "ims" if f in flags)
    if inline:
        translated = f"(?{inline}){translated}"
    if "y" in flags:
        translated = f"\\A(?:{translated})"  # sticky: only at lastIndex, which is 0 for a fresh RegExp
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _RE2_MEMORY
    try:
        compiled = re2.compile(translated, options)
    except re2.error:
        log.warning("regex skipped: %r does not compile", pattern[:80])
        return None
    return JsRegex(compiled, "g" in flags, pattern)


def translate(pattern: str) -> str | None:
    """The RE2 spelling of a JavaScript pattern, or None for look-around and backreferences."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            escaped, i = _escape(pattern, i, in_class)
            if escaped is None:
                return None
            out.append(escaped)
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif char == "[":
                out.append("\\[")  # a literal `[` inside a class; RE2 would read `[:` as POSIX
                i += 1
                continue
            out.append(char)
            i += 1
            continue
        if char == "[":
            if pattern.startswith("[^]", i):
                out.append("[\\s\\S]")  # JavaScript's "any character"; RE2 has no empty negation
                i += 3
                continue
            if pattern.startswith("[]", i):
                out.append("[^\\s\\S]")  # JavaScript's "no character"
                i += 2
                continue
            in_class = True
            out.append(char)
            if pattern.startswith("[^", i):
                out.append("^")
                i += 1
            i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")  # `[]...]` is not valid JavaScript, but `[^]...` handled above
                i += 1
            continue
        if char == "(" and pattern.startswith("(?", i):
            if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
                return None  # look-around
            if pattern.startswith("(?<", i):
                out.append("(?P<")
                i += 3
                continue
        out.append(char)
        i += 1
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str | None, int]:
    """Translate the escape at `pattern[i]` (a backslash); returns (text or None, next index)."""
    nxt = pattern[i + 1]
    if nxt.isdigit() and nxt != "0" and not in_class:
        return None, i  # backreference
    if nxt == "k" and pattern.startswith("<", i + 2):
        return None, i  # named backreference
    if nxt == "u":
        braced = re.match(r"\\u\{([0-9a-fA-F]{1,6})\}", pattern[i:])
        if braced:
            return f"\\x{{{braced.group(1)}}}", i + braced.end()
        plain = re.match(r"\\u([0-9a-fA-F]{4})", pattern[i:])
        if plain:
            return f"\\x{{{plain.group(1)}}}", i + plain.end()
        return "u", i + 2  # JavaScript without `u` reads an unknown escape as the letter
    if nxt == "c" and i + 2 < len(pattern) and pattern[i + 2].isalpha():
        return f"\\x{{{ord(pattern[i + 2].upper()) - 64:02x}}}", i + 3
    if nxt == "0":
        return "\\x00", i + 2
    if nxt == "s":
        return (_JS_SPACE if in_class else f"[{_JS_SPACE}]"), i + 2
    if nxt == "S":
        # Inside a class RE2's own \S is close enough (it counts Unicode spaces as non-space).
        return ("\\S" if in_class else f"[^{_JS_SPACE}]"), i + 2
    if nxt == "/":
        return "/", i + 2
    if nxt.isalnum() and nxt not in "dDwWbBntrfvx":
        return nxt, i + 2  # an identity escape such as `\e` means the letter in JavaScript
    return pattern[i : i + 2], i + 2
