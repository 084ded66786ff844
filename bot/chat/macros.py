"""Card macros: `{{char}}`, `{{user}}`, `{{original}}` and friends.

Macro names are case-insensitive and may have spaces inside the braces (`{{ Char }}`), as the V3
spec and SillyTavern allow. The text is expanded in one pass, so a value that itself looks like
a macro (a user whose display name is "{{char}}") is inserted literally, never expanded again.
Unknown macros are left as they are, so text written for richer front ends does not lose anything.

Supported:
- `{{char}}`, `<BOT>`, `<CHAR>`: the character's name; `{{user}}`, `<USER>`: the user's name.
- `{{original}}`: the default prompt a card's `system_prompt`/`post_history_instructions` replaces.
- `{{newline}}`: a line break; `{{trim}}`: removed together with the newlines around it.
- `{{noop}}`, `{{// comment}}`, `{{comment: …}}`: removed (V3 says comments never reach the model).
"""

from __future__ import annotations

import re

_MACRO = re.compile(
    r"\{\{\s*(?P<name>char|user|original|newline|noop)\s*\}\}"
    r"|\{\{\s*(?://|comment:)[^{}]*\}\}"
    r"|<(?P<legacy>user|bot|char)>",
    re.IGNORECASE,
)
_TRIM = re.compile(r"(?:\r?\n)*\{\{\s*trim\s*\}\}(?:\r?\n)*", re.IGNORECASE)


def expand(text: str, *, char: str, user: str, original: str = "") -> str:
    """Replace the macros in `text` with the character's and user's names and the original prompt."""
    if "{{" not in text and "<" not in text:
        return text  # the common case: nothing to do
    values = {"char": char, "bot": char, "user": user, "original": original, "newline": "\n", "noop": ""}

    def replace(match: re.Match[str]) -> str:
        name = match.group("name") or match.group("legacy")
        return values[name.lower()] if name else ""  # no name: a comment

    return _MACRO.sub(replace, _TRIM.sub("", text))
