"""A conversation's cast as a turn needs it: the members resolved to characters, each speaker's
`Scene`, the plain rules the `/scene` commands follow, and the speaker's prompt.

The chat service (`bot.chat.service`) asks this module who is on stage and how a given member
speaks; the order itself is `bot.chat.speakers`, the storage `bot.store.cast` (see docs/scenes.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cache import TTLCache
from bot.characters.model import Character
from bot.characters.service import CharacterService
from bot.chat import speakers
from bot.chat.scenes import TTL, Scene
from bot.errors import UserError
from bot.store import cast
from bot.store.cast import CastView
from bot.where import Where

NOT_IN_SCENE = "**{name}** has left the scene."
CHAIN_CAPPED = "The characters have said enough for now — write something to keep the scene going."
NO_CAST = "There is no scene here yet: add a character with `/scene add`."
NOT_NEWEST = "The scene has moved on: use ⏭ Next or “who answers” under the latest reply."


@dataclass(frozen=True, slots=True)
class Staged:
    """A conversation's cast with its members resolved (members whose character is gone are left out)."""

    view: CastView
    characters: dict[str, Character]
    members: list[speakers.Speaker]

    def options(self) -> tuple[tuple[str, str], ...]:
        """(ref, name) per member in cast order: the "who answers" select's options."""
        return tuple((m.ref, self.characters[m.ref].name) for m in self.members)

    def others(self, ref: str) -> list[Character]:
        """Every other member's character, in cast order."""
        return [self.characters[m.ref] for m in self.members if m.ref != ref]

    def speaking(self, scene: Scene, ref: str) -> Scene:
        """`scene` as `ref` plays it: its character (name, avatar, card) and the scene controls."""
        return replace(scene, character=self.characters[ref], cast=self.options())

    def has(self, ref: str) -> bool:
        return ref in self.characters


class SceneCast:
    """Loads and resolves casts, and applies the `/scene` rules.

    Most conversations have no cast: whether one has is remembered for `TTL` seconds, so a turn of a
    single-character chat costs no query for it. This process forgets it when it adds to a cast
    (`changed`); a cast made by another process (a channel is in practice served by one) shows
    within the TTL, as `bot.chat.scenes` reasons for the channel's conversation.
    """

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], characters: CharacterService,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.characters = characters
        self._castless = TTLCache(TTL, clock, max_entries=10_000)

    def changed(self, conversation_id: int | None = None) -> None:
        """A cast was made or changed here (None: any may have, e.g. a privacy deletion)."""
        if conversation_id is None:
            self._castless.clear()
        else:
            self._castless.forget(conversation_id)

    async def stage(self, conversation_id: int, where: Where) -> Staged | None:
        """The conversation's cast resolved, or None outside a group scene (no cast, or nobody left)."""
        loaded: list[CastView | None] = []

        async def load() -> bool:
            loaded.append(await cast.load(self.sessions, conversation_id))
            return loaded[-1] is not None

        if not await self._castless.get_or_load(conversation_id, load):  # cached: no cast here
            return None
        view = loaded[-1] if loaded else await cast.load(self.sessions, conversation_id)
        if view is None or not view.members:
            return None
        resolved: dict[str, Character] = {}
        for member in view.members:
            found = await self.characters.resolve(member.ref, user_id=where.user_id, guild_id=where.guild_id)
            if found is not None:
                avatar = await self.characters.lasting_avatar(found)
                if avatar != found.avatar_url:  # an expired Discord URL: its renewed copy (or none)
                    found = replace(found, avatar_url=avatar)
                resolved[member.ref] = found
        members = speakers.cast_speakers(view, resolved)
        if not members:
            return None
        return Staged(view, resolved, members)


def join_problem(view: CastView | None, *, founder: tuple[str, str], ref: str, name: str) -> str | None:
    """Why `ref` cannot join this conversation's cast (user wording), or None.

    The conversation's own character (`founder`) joins first when the cast is still empty, so it
    counts as a member already.
    """
    members: Sequence[speakers.Speaker]
    if view is None or not view.members:
        members = [speakers.Speaker(ref=founder[0], name=founder[1], position=0)]
    else:
        members = [speakers.Speaker(ref=m.ref, name=m.name, position=m.position) for m in view.members]
    if ref == founder[0] and (view is None or not view.members):
        return None  # the founder joining an empty cast: it is the scene's first member
    return speakers.join_problem(members, ref=ref, name=name, max_cast=cast.MAX_CAST)


def check_pick(staged: Staged | None, ref: str | None) -> None:
    """A "who answers" choice must name a member still in the scene (UserError otherwise)."""
    if staged is None:
        raise UserError(NO_CAST)
    if ref is not None and not staged.has(ref):
        member = staged.view.member(ref)
        raise UserError(NOT_IN_SCENE.format(name=member.name if member else "That character"))


def describe(view: CastView | None, *, show: Callable[[str], str] = str,
             limit: int = speakers.DEFAULT_CHAIN_LIMIT) -> str:
    """`/scene list`: the cast in order, the mode, who spoke last, chained replies left."""
    if view is None or not view.members:
        return NO_CAST
    lines = []
    for i, m in enumerate(view.members, start=1):
        last = " — spoke last" if m.ref == view.last_speaker else ""
        lines.append(f"{i}. **{show(m.name)}**{last}")
    left = max(0, limit - view.chained)
    lines += ["", f"Who answers: **{speakers.MODE_LABELS.get(view.mode, view.mode)}**",
              f"Characters may still answer each other **{left}** more time{'s' if left != 1 else ''} "
              "before someone writes."]
    return "\n".join(lines)
