"""Per-conversation lorebook state: timed effects, chat variables, and where the chat stands.

SillyTavern keeps this in the chat's metadata (`chat_metadata.timedWorldInfo`, `variables`). Here
it is a plain value: `select_lore` takes a `LoreState` and returns an updated copy, the prompt
builder passes it on, and the chat service stores it with the conversation (a JSON column).

Timed effects follow `WorldInfoTimedEffects` in `world-info.js`: an effect started when the chat
had `start` messages lasts until it has `end = start + N`; an effect whose chat has not advanced
past its start (a regenerate) is dropped and re-decided, unless it is protected (a cooldown that
began when a sticky effect ended). The chat length is counted from the turns' ids, so it keeps
growing when old turns are summarised out of the window, and stays put on a regenerate.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_VARIABLES = 200
"""Most chat variables kept (`{{setvar}}`); the oldest are forgotten first."""
MAX_VARIABLE_CHARS = 4_000
MAX_EFFECTS = 5_000
MAX_FIRED = 200
"""Entries remembered as the last turn's (for `/character lore`)."""


@dataclass(slots=True)
class Effect:
    """One timed effect (`WITimedEffect`): the entry's content hash and the chat lengths it spans."""

    hash: str
    start: int
    end: int
    protected: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "start": self.start, "end": self.end, "protected": self.protected}

    @classmethod
    def from_json(cls, obj: Any) -> Effect | None:
        if not isinstance(obj, dict):
            return None
        try:
            return cls(str(obj["hash"]), int(obj["start"]), int(obj["end"]), bool(obj.get("protected", False)))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(slots=True)
class LoreState:
    """What a conversation remembers between turns for lorebooks and macros.

    `seed` makes `{{pick}}` stable for this conversation (SillyTavern hashes the chat's id);
    `chat_length` and `last_turn_id` count the conversation's messages; `sticky` and `cooldown`
    map an entry key (`book.uid`) to its effect; `variables` are `{{getvar}}`/`{{setvar}}`;
    `last_user_turn` and `last_user_at` remember when the previous user message came, for
    `{{idle_duration}}`.
    """

    seed: int = 0
    chat_length: int = 0
    last_turn_id: int | None = None
    sticky: dict[str, Effect] = field(default_factory=dict)
    cooldown: dict[str, Effect] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    last_user_turn: int | None = None
    last_user_at: str | None = None  # ISO 8601
    previous_user_at: str | None = None
    user_messages: int = 0  # user messages seen (the Author's Note frequency counts them)
    fired: list[dict[str, str]] = field(default_factory=list)  # last turn's entries and why (`/character lore`)

    def copy(self) -> LoreState:
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict for the database."""
        return {
            "v": 1,
            "seed": self.seed,
            "chat_length": self.chat_length,
            "last_turn_id": self.last_turn_id,
            "sticky": {k: e.to_json() for k, e in self.sticky.items()},
            "cooldown": {k: e.to_json() for k, e in self.cooldown.items()},
            "variables": dict(self.variables),
            "last_user_turn": self.last_user_turn,
            "last_user_at": self.last_user_at,
            "previous_user_at": self.previous_user_at,
            "user_messages": self.user_messages,
            "fired": [dict(item) for item in self.fired[:MAX_FIRED]],
        }

    @classmethod
    def from_json(cls, obj: Any, *, seed: int = 0) -> LoreState:
        """Read a stored state; anything missing or malformed falls back to a fresh value."""
        if not isinstance(obj, dict):
            return cls(seed=seed)
        state = cls(seed=_int(obj.get("seed"), seed), chat_length=max(0, _int(obj.get("chat_length"), 0)))
        last = obj.get("last_turn_id")
        state.last_turn_id = last if isinstance(last, int) and not isinstance(last, bool) else None
        for name in ("sticky", "cooldown"):
            effects = obj.get(name)
            if isinstance(effects, dict):
                parsed = {str(k): Effect.from_json(v) for k, v in list(effects.items())[:MAX_EFFECTS]}
                getattr(state, name).update({k: v for k, v in parsed.items() if v is not None})
        variables = obj.get("variables")
        if isinstance(variables, dict):
            for key, value in list(variables.items())[-MAX_VARIABLES:]:
                state.variables[str(key)[:200]] = str(value)[:MAX_VARIABLE_CHARS]
        user_turn = obj.get("last_user_turn")
        state.last_user_turn = user_turn if isinstance(user_turn, int) and not isinstance(user_turn, bool) else None
        for name in ("last_user_at", "previous_user_at"):
            value = obj.get(name)
            setattr(state, name, value if isinstance(value, str) and _is_iso(value) else None)
        state.user_messages = max(0, _int(obj.get("user_messages"), 0))
        fired = obj.get("fired")
        if isinstance(fired, list):
            state.fired = [
                {str(k)[:40]: str(v)[:300] for k, v in item.items()}
                for item in fired[:MAX_FIRED] if isinstance(item, dict)
            ]
        return state

    def set_variable(self, name: str, value: str) -> None:
        """Set a chat variable, keeping at most `MAX_VARIABLES` of them and bounded values."""
        self.variables.pop(name, None)
        self.variables[name[:200]] = value[:MAX_VARIABLE_CHARS]
        while len(self.variables) > MAX_VARIABLES:
            self.variables.pop(next(iter(self.variables)))


def advance(state: LoreState, turn_ids: list[int | None], *, fallback_length: int) -> LoreState:
    """A copy of `state` with the chat length brought up to date with the turns now in history.

    New turns are those with an id above the last one seen; a regenerate brings none, so the
    length stays and SillyTavern's "chat not advanced" rule applies. Without ids (tests, the
    terminal) the number of turns given is the length.
    """
    new = state.copy()
    ids = [i for i in turn_ids if i is not None]
    if not ids or len(ids) != len(turn_ids):
        new.chat_length = fallback_length
        return new
    if state.last_turn_id is None:
        new.chat_length = max(state.chat_length, fallback_length)
    else:
        new.chat_length = state.chat_length + sum(1 for i in ids if i > state.last_turn_id)
    new.last_turn_id = max(ids) if state.last_turn_id is None else max(state.last_turn_id, *ids)
    return new


def note_user_turn(state: LoreState, user_turn_id: int | None, now: datetime) -> None:
    """Remember when this user message came, so the next turn's `{{idle_duration}}` can measure.

    A regenerate of the same message keeps the earlier time, as SillyTavern reads the previous
    user message's send date.
    """
    if user_turn_id is None or user_turn_id == state.last_user_turn:
        return
    state.previous_user_at = state.last_user_at
    state.last_user_turn = user_turn_id
    state.user_messages += 1
    state.last_user_at = now.isoformat()


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
