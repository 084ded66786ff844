"""`Where`: who acts, where, and through which entry point, as plain values.

One type for every layer: the chat service reads the speaker's name and the channel's parent from
it, the policy writes its ids and `entry` to the audit log. Discord objects never travel past the
ui; they are turned into a `Where` at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Where:
    """Who did something and where. `user_id` is None for text nobody here wrote (Venice's)."""

    user_id: int | None
    guild_id: int | None
    channel_id: int | None
    entry: str = ""  # e.g. "chat", "imagine", "character import": the audit log's "through what"
    parent_id: int | None = None  # a thread's channel: settings and characters are inherited from it
    user_name: str = ""  # the speaker's name in the story (their persona's, else their display name)
    moderator: bool = False  # may manage others' messages here (Manage Messages); a DM has only its user

    @property
    def multi_user(self) -> bool:
        """Several people may share this place (a server channel), unlike a DM or the terminal."""
        return self.guild_id is not None

    def at(self, entry: str) -> Where:
        """The same person and place, through another entry point."""
        return replace(self, entry=entry)

    def anonymous(self, entry: str) -> Where:
        """The same place, for text nobody here wrote: refused and audited, nobody blamed."""
        return replace(self, user_id=None, entry=entry)
