"""How a name appears in a message: one line, markdown and mentions shown as typed, not rendered."""

from __future__ import annotations

import discord

NAME_LIMIT = 100


def shown(name: str, limit: int = NAME_LIMIT) -> str:
    """`name` safe to put inside a message (or between `**`): whitespace folded to single spaces
    (no new lines, so no headings), markdown escaped (no masked links, no formatting), and mention
    syntax broken up (nobody is pinged anyway; this keeps `<@id>` from looking like a mention)."""
    folded = " ".join(name.split())[:limit] or "Character"
    return discord.utils.escape_markdown(folded).replace("<@", "<\u200b@").replace("<#", "<\u200b#")
