"""What a name may be: names are shown in public messages, so they may not carry links.

Markdown in a name is escaped wherever it is shown (`bot.ui.names.shown`); a link is refused
outright, because a masked link (`[text](url)`) under the bot's name reads as the bot's own.
"""

from __future__ import annotations

import re

from bot.errors import UserError

NO_LINKS = "Names can't contain links. Pick a name without one."
_LINK = re.compile(r"\[[^\]]*\]\s*\(|https?://|www\.|discord\.gg/|<https?:", re.IGNORECASE)


def has_link(name: str) -> bool:
    return _LINK.search(name) is not None


def check_name(name: str) -> str:
    """The name, or UserError when it carries link syntax."""
    if has_link(name):
        raise UserError(NO_LINKS)
    return name
