"""A group scene as a SillyTavern group chat file (JSONL), so a scene can be continued there.

SillyTavern saves a group chat as one JSON object per line: a header (`chat_metadata`, and
`user_name`/`character_name` set to "unused" for groups), then one line per message with `name`,
`is_user`, `is_system`, `send_date`, `mes`, and for characters `original_avatar` (which member
spoke, by avatar file name), `swipes`, `swipe_id` and `swipe_info`. Dates are written the way
SillyTavern writes them ("June 19, 2023 2:20pm", UTC here). The group itself (members, activation
strategy) is a separate file in SillyTavern; it travels in the header under `lustify_group`, in
SillyTavern's group shape, with members named `<name>.png` as SillyTavern names imported cards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.store.cast import TranscriptTurn

# SillyTavern's group_activation_strategy: NATURAL 0, LIST 1, MANUAL 2, POOLED 3. Round robin has
# no twin there; POOLED (each member speaks before anyone speaks again) is the closest.
ACTIVATION_STRATEGY = {"natural": 0, "everyone": 1, "manual": 2, "round_robin": 3}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def send_date(when: datetime) -> str:
    """A timestamp as SillyTavern's getMessageTimeStamp writes it: "June 19, 2023 2:20pm" (UTC)."""
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    hour = when.hour % 12 or 12
    meridiem = "am" if when.hour < 12 else "pm"
    return f"{_MONTHS[when.month - 1]} {when.day}, {when.year} {hour}:{when.minute:02d}{meridiem}"


def avatar_file(name: str) -> str:
    """The avatar file name SillyTavern gives a character imported under `name`."""
    return (_UNSAFE_FILE_CHARS.sub("", name).strip() or "character") + ".png"


def group_chat_jsonl(
    *, title: str, created_at: datetime, members: Sequence[str], mode: str, summary: str,
    turns: Sequence[TranscriptTurn], user_name: str = "User",
) -> str:
    """The scene as SillyTavern group chat JSONL: header line, then every finished turn in order.

    `members` are the cast's names in cast order; `turns` come from `bot.store.cast.transcript`.
    """
    group: dict[str, Any] = {
        "name": title or "Scene", "members": [avatar_file(n) for n in members],
        "activation_strategy": ACTIVATION_STRATEGY.get(mode, 0), "generation_mode": 0,
        "disabled_members": [], "allow_self_responses": False,
    }
    metadata: dict[str, Any] = {"lustify_group": group}
    if summary.strip():
        metadata["note_prompt"] = summary  # SillyTavern's Author's Note, as the single-chat export does
    lines = [{"user_name": "unused", "character_name": "unused", "create_date": send_date(created_at),
              "chat_metadata": metadata}]
    lines += [_message(t, user_name) for t in turns if t.status in ("complete", "cut")]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def _message(turn: TranscriptTurn, user_name: str) -> dict[str, Any]:
    date = send_date(turn.created_at)
    if turn.role == "user":
        return {"name": turn.author_name or user_name, "is_user": True, "is_system": False, "send_date": date,
                "mes": turn.content, "extra": {}}
    swipes = list(turn.swipes) or [turn.content]
    index = min(max(turn.swipe_index, 0), len(swipes) - 1)
    swipes[index] = turn.content  # the shown text is the truth (an edit changes it)
    return {
        "name": turn.author_name, "is_user": False, "is_system": False, "send_date": date, "mes": turn.content,
        "original_avatar": avatar_file(turn.author_name), "extra": {}, "swipes": swipes, "swipe_id": index,
        "swipe_info": [{"send_date": date, "extra": {}} for _ in swipes],
    }
